"""One configuration of background-contrastive NMF (Li, Yang & Li 2026), published and
disentangled: the terms of each model, the count offset, the caps on modelled means, the starts,
the restarts and the alpha back-off. :class:`bcnmf.BCNMF` adds settings chosen from the data.

The paper writes features x samples; its ``W`` is our ``components_.T``.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from bcnmf.backend import column_sums, max_row_total
from bcnmf.backend.blocks import RowSource
from bcnmf.backend.device import check_device
from bcnmf.engine import Term, UpdateRule
from bcnmf.enrichment.topics import (
    MIN_EXPLAINED_SHARE,
    fit_statistics,
    topic_enrichment,
    withhold_labels,
)
from bcnmf.losses import make_loss
from bcnmf.losses.held_out import HeldOutEntries
from bcnmf.losses.penalty import Penalty
from bcnmf.models._common import (
    Restart,
    StartingPoints,
    best_restart,
    check_common_params,
    check_fitted,
    check_missing_allowed,
    check_new_data,
    check_update,
    chosen_rule,
    store_fit_metadata,
    unit_rows,
    usages_for,
    warn_not_converged,
)
from bcnmf.models._online import OnlineState
from bcnmf.models._scaling import DataScale
from bcnmf.models._streaming import (
    INIT_SAMPLE_ROWS,
    WARM_UP_ITERATIONS,
    block_input,
    check_solver,
    n_blocks_for,
    resolve_solver,
    starting_usages,
)
from bcnmf.models.starts import (
    DETERMINISTIC_INITS,
    INIT_METHODS,
    contrastive_loadings,
    initialize,
)
from bcnmf.solvers import NonFiniteError, run_block_updates, run_full_batch
from bcnmf.solvers.checkpoint import Checkpoint, fingerprint
from bcnmf.utils.deprecation import DeprecatedAlias
from bcnmf.utils.validation import (
    DataWarning,
    check_contrast_data,
    check_dispersion,
    check_matrix,
    check_missing,
    check_n_components,
    check_positive,
    check_same_features,
    warn_empty_columns,
)

#: How many times alpha is halved looking for a stable fit before giving up at alpha = 0.
ALPHA_BACKOFF_STEPS = 6
#: A fit whose modelled sample totals exceed the largest observed total by this factor is treated
#: as collapsed: the loadings have piled onto features the data do not support. A sound fit models
#: each sample's total near its observed one; coordinate descent reaches the squared-error
#: collapse at alpha = 2 on raw counts within 60 iterations (modelled totals 11-13x the largest
#: observed), which multiplicative updates approach too slowly to show.
MAX_SCALE_RATIO = 10.0
#: A dataset's modelled mean of each feature may not exceed this multiple of the larger observed
#: mean of the two datasets (plus the offset); see :func:`bcnmf.engine.cap_modelled_totals`.
TOTAL_CAP_RATIO = 2.0


@dataclass(frozen=True)
class TermSpec:
    """One term of a contrastive model's objective.

    Attributes
    ----------
    dataset : int
        0 for the target, 1 for the background.
    weight : float
        Signed weight in the objective (negative: contrastive).
    topics : ndarray of bool, optional
        Topics the term's usages may use; None for all.
    """

    dataset: int
    weight: float
    topics: np.ndarray | None = None


class AlphaTooLargeWarning(UserWarning):
    """The requested contrast strength gave no stable fit; a smaller one was used."""


class PoorFitWarning(UserWarning):
    """The topics model too little of a condition's total for their labels to mean anything."""


class UnstableFitError(FloatingPointError):
    """No contrast strength, down to alpha = 0, gave a stable fit."""


class ContrastiveModel(BaseEstimator):
    """One configuration of background-contrastive NMF: the fitting machinery behind
    :class:`bcnmf.BCNMF`, for a fixed number of topics and a fixed contrast strength.

    The parameters are those of :class:`bcnmf.BCNMF`, whose documentation describes them; here
    ``n_components``, ``alpha`` and ``n_enriched`` must be numbers (or None). Choosing them
    (``"auto"``) fits many configurations, which is the selection layer's work, above this one.
    """

    #: Old name of ``target_loss_curve_``.
    loss_curve_ = DeprecatedAlias("target_loss_curve_", removed_in="0.3")

    def __init__(
        self,
        n_components: int | str = 10,
        *,
        alpha: float | str | None = None,
        loss: str = "kl",
        beta: float | None = None,
        init: str = "contrastive",
        max_iter: int = 500,
        tol: float = 1e-4,
        damping: float = 1.0,
        offset: float = 1e-2,
        n_init: int = 1,
        random_state=0,
        dtype: str = "float32",
        dispersion=None,
        eval_every: int = 10,
        solver: str = "auto",
        update: str = "auto",
        batch_size: int = 4096,
        forget_factor: float = 0.7,
        n_enriched: int | None = None,
        device: str | None = None,
        verbose: bool = False,
        checkpoint: str | None = None,
        checkpoint_every: int = 50,
    ) -> None:
        self.n_components = n_components
        self.alpha = alpha
        self.loss = loss
        self.beta = beta
        self.init = init
        self.max_iter = max_iter
        self.tol = tol
        self.damping = damping
        self.offset = offset
        self.n_init = n_init
        self.random_state = random_state
        self.dtype = dtype
        self.dispersion = dispersion
        self.eval_every = eval_every
        self.solver = solver
        self.update = update
        self.batch_size = batch_size
        self.forget_factor = forget_factor
        self.n_enriched = n_enriched
        self.device = device
        self.verbose = verbose
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every

    # -- checks -----------------------------------------------------------------------------------

    def _check_params(self) -> np.dtype:
        dtype = check_common_params(self, ("contrastive",) + INIT_METHODS)
        if self.alpha is not None and not (isinstance(self.alpha, str) and self.alpha == "auto"):
            check_positive(self.alpha, "alpha", allow_zero=True)
        check_positive(self.damping, "damping", upper=1.0)
        check_positive(self.offset, "offset")
        check_solver(self)
        check_update(self, self._contrastive())
        if isinstance(self.checkpoint_every, bool) or not isinstance(self.checkpoint_every, numbers.Integral) \
                or self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every={self.checkpoint_every!r} must be a positive integer.")
        if isinstance(self.n_enriched, str) or self.n_components == "auto":
            both_auto = self.n_enriched == "auto" and self.n_components == "auto"
            if not (both_auto or self.n_enriched is None):
                raise ValueError(
                    f"n_enriched={self.n_enriched!r} with n_components={self.n_components!r}: 'auto' chooses both "
                    "numbers together, so set both to 'auto' (or n_enriched=None for plain bcNMF with "
                    "n_components='auto'), or give both as numbers."
                )
        elif self.n_enriched is not None:
            n = self.n_enriched
            if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 1 <= n < self.n_components:
                raise ValueError(
                    f"n_enriched={n!r} must be an integer from 1 to n_components - 1 = {self.n_components - 1} "
                    "(at least one shared topic), or None for plain bcNMF."
                )
        return dtype

    def _fit_automatic(self, Xt, Xb, solver: str) -> np.ndarray:
        """Fit with settings chosen from the data (``"auto"``): many configurations, which
        :class:`bcnmf.BCNMF` does; a single configuration cannot."""
        raise ValueError(f"{type(self).__name__} fits one configuration; 'auto' settings are chosen by bcnmf.BCNMF.")

    def _alpha(self) -> float:
        """The contrast strength of this configuration: ``alpha``, or by default (None) 1 for plain
        bcNMF (the published model) and 0 for disentangled topics, whose shared topics must
        explain the background already (a contrast there only penalises the enriched topics)."""
        if self.alpha is None:
            return 1.0 if self.n_enriched is None else 0.0
        return float(self.alpha)

    def _contrastive(self) -> bool:
        """Whether the objective has a negatively weighted term (alpha > 0, or chosen)."""
        return isinstance(self.alpha, str) or self._alpha() > 0

    def _make_loss(self, offset, dispersion=None, zero_inflation=None):
        return make_loss(
            self.loss, beta=self.beta, dispersion=self.dispersion if dispersion is None else dispersion,
            zero_inflation=zero_inflation, offset=offset,
        )

    # -- fitting ----------------------------------------------------------------------------------

    def fit(self, X_target, X_background, *, H=None, missing_target=None, missing_background=None) -> "ContrastiveModel":
        """Fit shared loadings to a target and a background dataset.

        Parameters
        ----------
        X_target : array-like, sparse matrix or DataFrame, shape (n_target, n_features)
        X_background : array-like, sparse matrix or DataFrame, shape (n_background, n_features)
            Same features, same order. Non-negative.
        H : ndarray, shape (n_components, n_features), optional
            Starting loadings for ``init="custom"``.
        missing_target, missing_background : boolean array or sparse matrix, optional
            Entries of each dataset to leave out (True: missing, or held out for validation);
            their values are ignored and each divergence sums over observed entries only. Needs
            the data in memory.
        """
        self.fit_transform(X_target, X_background, H=H, missing_target=missing_target,
                           missing_background=missing_background)
        return self

    def fit_transform(self, X_target, X_background, *, H=None, missing_target=None,
                      missing_background=None) -> np.ndarray:
        """Fit and return the target usages, shape (n_target, n_components).

        Either dataset may also be an ``.h5ad`` path, an AnnData opened with ``backed="r"`` or a list
        of row blocks; it is then read block by block (see ``solver``).
        """
        dtype = self._check_params()
        solver = resolve_solver(self.solver, X_target, X_background)
        allow_zeros = not (self.loss == "beta" and self.beta is not None and self.beta <= 0)
        if missing_target is not None or missing_background is not None:
            check_missing_allowed(self, solver, "missing_target= / missing_background=")
        if solver == "full":
            Xt, names_t = check_matrix(X_target, "X_target", dtype, allow_zeros=allow_zeros, warn_empty="rows")
            Xb, names_b = check_matrix(X_background, "X_background", dtype, allow_zeros=allow_zeros, warn_empty="rows")
            Xt, left_out_t = check_missing(missing_target, Xt, "missing_target")
            Xb, left_out_b = check_missing(missing_background, Xb, "missing_background")
        else:
            t = block_input(X_target, "X_target", dtype, allow_zeros=allow_zeros, batch_size=self.batch_size)
            b = block_input(X_background, "X_background", dtype, allow_zeros=allow_zeros, batch_size=self.batch_size)
            Xt, Xb, names_t, names_b = t, b, t.feature_names, b.feature_names
        check_same_features(Xt.shape, Xb.shape, names_t, names_b)
        check_dispersion(self.dispersion, Xt.shape[1])
        if "auto" in (self.n_components, self.alpha, self.n_enriched):
            return self._fit_automatic(Xt, Xb, solver)
        k = check_n_components(self.n_components, Xt.shape[0], Xt.shape[1], name="X_target")
        if solver == "full":
            check_contrast_data(Xt, Xb, k)
            # The target's scale: its fit is the one the topics serve, and a target far smaller than
            # its background fell under the floors at a scale chosen for both (measured: a target
            # of 3e-4 under a background of 0.04 lost its fit).
            scale = DataScale.choose(self.loss, self.beta, [Xt])
            Xt, Xb = sample_t, sample_b = scale.data(Xt), scale.data(Xb)
            target_mean, background_mean = column_sums(Xt) / Xt.shape[0], column_sums(Xb) / Xb.shape[0]
            observed_max = [max_row_total(Xt), max_row_total(Xb)]
        else:
            scale = t.scale(self.loss, self.beta)
            t, b = Xt, Xb = t.scaled(scale), b.scaled(scale)
            target_mean, background_mean = t.column_means, b.column_means
            observed_max = [t.max_row_total, b.max_row_total]
        requested_alpha = self._alpha()
        H_custom = self._custom_loadings(H, k, Xt.shape[1], dtype)
        pattern = None if solver != "full" else left_out_t if left_out_t is not None else left_out_b
        rule = chosen_rule(self, self._make_loss(None) if pattern is None else HeldOutEntries(self._make_loss(None), pattern),
                           solver, self._contrastive())
        if solver == "full":
            warn_empty_columns([Xt, Xb], "X_target and X_background together")
        checkpoint = self._checkpoint(solver, [Xt, Xb] + [p for p in (left_out_t, left_out_b) if p is not None]
                                      if solver == "full" else [])
        offset = self._offset(target_mean, background_mean, Xt.shape[0], Xb.shape[0], dtype)
        _check_target_above_floor(target_mean, background_mean, offset, self.offset)
        caps = self._total_caps(target_mean, background_mean, offset, (Xt.shape[0], Xb.shape[0]), dtype)
        generator = np.random.default_rng(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        if solver != "full":
            sample_t = t.source.sample(INIT_SAMPLE_ROWS, generator, dtype)
            sample_b = b.source.sample(INIT_SAMPLE_ROWS, generator, dtype)
        starts = StartingPoints(
            lambda: (self._starting_loadings(sample_t, sample_b, k, generator, dtype) if H_custom is None else H_custom,),
            deterministic=self.init in DETERMINISTIC_INITS,
            rng=generator,
        )

        def run_start(alpha: float, start: int, chosen: StartingPoints, saving: Checkpoint | None) -> Restart:
            H0 = chosen.get(start)[0]
            if solver == "full":
                return self._run_start((Xt, Xb), H0, alpha, start, rule=rule, offset=offset, caps=caps,
                                       left_out=(left_out_t, left_out_b), checkpoint=saving)
            return self._run_blocks((t, b), (sample_t, sample_b), H0, alpha, start, solver, rule=rule, offset=offset,
                                    caps=caps)

        # Each attempt is named in messages; at a requested alpha of 0 only the start changes.
        contrast = requested_alpha > 0
        attempts = [(f"alpha={alpha:g}" if contrast else f"from the {self.init} start", alpha, starts, checkpoint)
                    for alpha in _alpha_schedule(requested_alpha)]
        if self.init == "contrastive":
            # The contrastive start can put every topic on features the target barely uses, where
            # the multiplicative updates starve it to zero (measured on a 2 x 3 target with one
            # non-zero entry); plain NMF's start of the target is the last resort.
            nmf_start = StartingPoints(lambda: (initialize(sample_t, k, "nndsvda", generator, dtype)[1],),
                                       deterministic=True, rng=generator)
            attempts.append(("alpha=0 " * contrast + "from the target's NNDSVD start", 0.0, nmf_start, None))
        failures: list[str] = []
        for attempt, alpha, chosen, saving in attempts:
            try:
                best, objectives = best_restart(self.n_init, partial(run_start, alpha, chosen=chosen, saving=saving))
            except NonFiniteError as err:
                failures.append(f"{attempt}: {err}")
                continue
            terms, result = best.state
            problem = _collapse(terms[0], terms[1], result, observed_max)
            if problem is None:
                break
            failures.append(f"{attempt}: {problem}")
        else:
            raise UnstableFitError(
                ("No stable fit even at alpha=0: " if contrast else "No stable fit: ") + "; ".join(failures)
                + ". Check the data (for example features with almost no counts, or a target and background on very "
                "different scales) or use loss='frobenius' on log-normalised data.")
        if failures and alpha < requested_alpha:
            warnings.warn(
                f"alpha={requested_alpha:g} is too large for a stable fit ({failures[0]}); the largest alpha that "
                f"worked was {alpha:g}, and the results are for alpha={alpha:g}. Choose alpha <= {alpha:g}, or "
                "raise offset / lower damping.",
                AlphaTooLargeWarning,
                stacklevel=2,
            )
        elif failures:
            warnings.warn(f"the {self.init} start gave no stable fit ({failures[0].split(': ', 1)[1]}); the fit "
                          "started from the target's NNDSVD instead.", DataWarning, stacklevel=2)
        warn_not_converged(type(self).__name__, self.max_iter, self.tol, result.converged)
        self._store(terms, result, alpha, offset, objectives, names_t if names_t is not None else names_b, Xt.shape[1],
                    scale)
        return self.target_usage_

    def partial_fit(self, X_target, X_background) -> "ContrastiveModel":
        """Update the model from one block of target rows and one of background rows (the online
        schedule, driven by the caller).

        The first call sets the loadings (``init``), the count offset, the caps on modelled means
        and the NB/ZINB noise parameters from these blocks; later calls must have the same
        features. No alpha back-off happens here: watch ``components_`` or use ``fit``.
        """
        if not hasattr(self, "_online"):
            dtype = self._check_params()
            if self.alpha == "auto":
                raise ValueError("alpha='auto' refits the model many times and needs fit(); choose alpha for partial_fit.")
            Xt, names_t = check_matrix(X_target, "X_target", dtype, warn_empty="none")
            Xb, names_b = check_matrix(X_background, "X_background", dtype, warn_empty="none")
            check_same_features(Xt.shape, Xb.shape, names_t, names_b)
            check_dispersion(self.dispersion, Xt.shape[1])
            k = check_n_components(self.n_components, Xt.shape[0], Xt.shape[1], name="X_target")
            generator = np.random.default_rng(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
            if self.init == "custom":
                raise ValueError("partial_fit cannot start from init='custom'; choose another init.")
            scale = DataScale.choose(self.loss, self.beta, [Xt])
            Xt, Xb = scale.data(Xt), scale.data(Xb)
            H0 = unit_rows(self._starting_loadings(Xt, Xb, k, generator, dtype))
            target_mean, background_mean = column_sums(Xt) / Xt.shape[0], column_sums(Xb) / Xb.shape[0]
            offset = self._offset(target_mean, background_mean, Xt.shape[0], Xb.shape[0], dtype)
            means = self._total_caps(target_mean, background_mean, offset, (1, 1), dtype)
            self._online_specs = self._model_terms(k, self._alpha())
            warm = self._warm_terms((Xt, Xb), self._online_specs, H0, offset,
                                    rule=chosen_rule(self, self._make_loss(offset), "online", self._contrastive()))
            self._online = OnlineState(
                H0, [(term.loss, spec.weight, Penalty(), spec.topics) for spec, term in zip(self._online_specs, warm)],
                forget_factor=self.forget_factor, damping=self.damping, normalize=True,
                allowed_means=[means[spec.dataset] for spec in self._online_specs] if means else None,
            )
            self.components_, self.n_components_, self.alpha_ = H0, k, self._alpha()
            self.offset_ = scale.to_data_units(offset)
            self.data_scale_ = scale.factor
            store_fit_metadata(self, names_t if names_t is not None else names_b, Xt.shape[1], warm[0].loss)
        else:
            scale = DataScale.of(self)
            Xt = scale.data(check_new_data(self, X_target, "X_target"))
            Xb = scale.data(check_new_data(self, X_background, "X_background"))
        usages = self._online.step([(Xt, Xb)[spec.dataset] for spec in self._online_specs])
        self.target_usage_, self.background_usage_ = scale.to_data_units(usages[0]), scale.to_data_units(usages[1])
        self.n_steps_ = self._online.n_steps
        return self

    def _offset(self, target_mean, background_mean, n_target: int, n_background: int, dtype) -> np.ndarray | None:
        if not self._make_loss(None).unbounded_at_zero:
            return None
        pooled_mean = (n_target * target_mean + n_background * background_mean) / (n_target + n_background)
        floor = np.finfo(np.float32).eps * max(float(pooled_mean.mean()), np.finfo(np.float32).tiny)
        return (self.offset * pooled_mean + floor).astype(dtype)

    def _custom_loadings(self, H, k, n_features, dtype):
        if self.init != "custom":
            if H is not None:
                raise ValueError("H is only used with init='custom'; set init='custom' to start from it.")
            return None
        if H is None:
            raise ValueError("init='custom' needs H= starting loadings of shape (n_components, n_features).")
        H = np.array(H, dtype=dtype)
        if H.shape != (k, n_features) or not np.isfinite(H).all() or H.min() < 0 or np.any(H.sum(axis=1) <= 0):
            raise ValueError(
                f"init='custom' needs finite, non-negative H of shape {(k, n_features)} with no all-zero row."
            )
        return H

    def _starting_loadings(self, Xt, Xb, k, rng, dtype) -> np.ndarray:
        if self.init != "contrastive":
            return initialize(Xt, k, self.init, rng, dtype)[1]
        log_transform = self.loss != "frobenius"
        if self.n_enriched is None:
            return contrastive_loadings(Xt, Xb, k, rng, dtype, log_transform=log_transform)
        # Shared topics start from the background's own programs, enriched ones from the
        # directions of largest target-to-background variance.
        shared = initialize(Xb, k - self.n_enriched, "nndsvda", rng, dtype)[1]
        enriched = contrastive_loadings(Xt, Xb, self.n_enriched, rng, dtype, log_transform=log_transform)
        return np.vstack([unit_rows(shared), enriched])

    def _total_caps(self, target_mean, background_mean, offset, n_samples: tuple[int, int], dtype) -> list | None:
        """Largest modelled total per feature for the target and the background, or None where the
        likelihood needs no cap: TOTAL_CAP_RATIO times the larger of the two datasets' per-sample
        means, plus the offset, for each sample of the dataset.

        Taking the larger mean leaves the contrast free (the background may be predicted up to the
        target's level on target-enriched features) while blocking features neither dataset
        expresses.
        """
        if not self._make_loss(None).sublinear_overestimation:
            return None
        mean_ceiling = np.maximum(target_mean, background_mean)
        allowed_mean = TOTAL_CAP_RATIO * mean_ceiling + (0.0 if offset is None else offset.astype(np.float64))
        allowed_mean += np.finfo(np.float32).eps * max(float(mean_ceiling.mean()), 1e-12)
        return [(n * allowed_mean).astype(dtype) for n in n_samples]

    def _shared_topics(self, k: int) -> np.ndarray:
        """Boolean mask of the disentangled model's shared topics: the first ``k - n_enriched``."""
        return np.arange(k) < k - self.n_enriched

    def _model_terms(self, k: int, alpha: float) -> list[TermSpec]:
        """The objective's terms: the target's and the background's come first (their usages are
        the ones reported)."""
        if self.n_enriched is None:
            return [TermSpec(0, 1.0), TermSpec(1, -alpha)]
        shared = self._shared_topics(k)
        return [TermSpec(0, 1.0), TermSpec(1, 1.0, shared)] + ([TermSpec(1, -alpha, ~shared)] if alpha > 0 else [])

    def _checkpoint(self, solver: str, datasets: list) -> Checkpoint | None:
        """The checkpoint of this fit (``checkpoint=``), fingerprinted by the data and parameters."""
        if self.checkpoint is None:
            return None
        if solver != "full":
            raise ValueError("checkpoint= needs the data in memory (solver='full'); the block schedules do not save "
                             "their state.")
        params = {k: v for k, v in self.get_params().items() if k not in ("checkpoint", "checkpoint_every", "verbose")}
        return Checkpoint(Path(self.checkpoint), self.checkpoint_every, fingerprint(datasets, params))

    def _run_start(self, data, H0, alpha, start, *, rule: UpdateRule, offset, caps, left_out, checkpoint=None):
        H = unit_rows(H0)
        specs = self._model_terms(H.shape[0], alpha)
        terms = self._warm_terms(data, specs, H, offset, left_out, rule=rule)
        # A term of weight zero does not shape H (bcNMF at alpha = 0); its usages are fitted after.
        shaping = [i for i, term in enumerate(terms) if term.weight != 0]
        result = run_full_batch(
            [terms[i] for i in shaping], H, max_iter=self.max_iter, tol=self.tol, rule=rule, eval_every=self.eval_every,
            damping=self.damping, normalize=True, total_caps=None if caps is None else [caps[specs[i].dataset] for i in shaping],
            verbose=self.verbose, description=f"{type(self).__name__} alpha={alpha:g} start {start + 1}/{self.n_init}",
            checkpoint=checkpoint, device=check_device(self.device),
        )
        for spec, term in zip(specs, terms):
            if term.weight == 0:
                term.W = usages_for(term.X, H, term.loss, max_iter=self.max_iter, tol=self.tol,
                                    eval_every=self.eval_every, topics=spec.topics, rule=rule)
        return Restart(result.objective, (terms, result))

    def _run_blocks(self, inputs, samples, H0, alpha, start, solver, *, rule: UpdateRule, offset, caps):
        """One start of the block schedules: noise parameters are estimated on the in-memory
        samples, and each block's usages are warmed up on its first visit."""
        H = unit_rows(H0)
        specs = self._model_terms(H.shape[0], alpha)
        # Terms of weight zero stay in: the block schedules fit their usages as they pass.
        terms = [Term(inputs[spec.dataset].source, starting_usages(inputs[spec.dataset], H, spec.topics), warm.loss,
                      spec.weight, topics=spec.topics)
                 for spec, warm in zip(specs, self._warm_terms(samples, specs, H, offset, rule=rule))]
        result = run_block_updates(
            terms, H, schedule=solver, n_blocks=n_blocks_for(inputs[0].shape[0], self.batch_size), dtype=H.dtype,
            max_epochs=self.max_iter, tol=self.tol, rule=rule, eval_every=self.eval_every, warm_up=WARM_UP_ITERATIONS,
            forget_factor=self.forget_factor,
            damping=self.damping, normalize=True, total_caps=None if caps is None else [caps[spec.dataset] for spec in specs],
            verbose=self.verbose, description=f"{type(self).__name__} ({solver}) alpha={alpha:g} start {start + 1}/{self.n_init}",
            device=check_device(self.device),
        )
        return Restart(result.objective, (terms, result))

    def _warm_terms(self, data, specs: list[TermSpec], H, offset, left_out=(None, None), *,
                    rule: UpdateRule) -> list[Term]:
        """A term per spec with usages fitted to the starting loadings (``data``: target and
        background; ``left_out``: each one's pattern of entries to leave out, or None). Each
        dataset's noise parameters (NB dispersion, ZINB dropout) are estimated with its first
        term's topics, then frozen and shared by its other terms.

        Frozen because the contrastive step otherwise steers them: a topic that piles its mass on
        one feature inflates that feature's dispersion (or dropout probability towards one), which
        makes over-estimating it free, and the usages run to 1e9 (measured at alpha=20 for NB and
        alpha=1 for ZINB).
        """
        losses: dict[int, object] = {}
        terms = []
        for spec in specs:
            if spec.dataset in losses:
                loss = losses[spec.dataset]
            else:
                pattern = left_out[spec.dataset]
                loss = self._make_loss(offset) if pattern is None else HeldOutEntries(self._make_loss(offset), pattern)
            # No convergence test (tol=0): the objective is taken at the start and the end only.
            W = usages_for(data[spec.dataset], H, loss, max_iter=WARM_UP_ITERATIONS, tol=0.0,
                           eval_every=WARM_UP_ITERATIONS, topics=spec.topics, rule=rule)
            if spec.dataset not in losses:
                loss.freeze_nuisance()
                losses[spec.dataset] = loss
            terms.append(Term(data[spec.dataset], W, loss, spec.weight, topics=spec.topics))
        return terms

    def _store(self, terms, result, alpha, offset, objectives, names, n_features, scale: DataScale) -> None:
        """The fitted attributes, in the data's units (the fit ran on the data over ``scale``)."""
        target, background = terms[0], terms[1]
        self.components_ = result.H
        self.n_components_ = result.H.shape[0]
        self.target_usage_ = scale.to_data_units(target.W)
        self.background_usage_ = scale.to_data_units(background.W)
        self.alpha_ = alpha
        self.offset_ = scale.to_data_units(offset)
        self.data_scale_ = scale.factor
        self.n_iter_ = result.n_iter
        self.objective_curve_ = scale.divergence(np.asarray(result.objective_curve))
        self.objective_curve_iterations_ = np.asarray(result.iterations)
        self.target_loss_curve_ = scale.divergence(np.asarray(result.term_curves[0]))
        # Block schedules report the target's divergence from their last pass over the data.
        divergence = result.term_curves[0][-1] if isinstance(target.X, RowSource) else target.divergence(result.H)
        self.reconstruction_err_ = target.loss.reconstruction_error(scale.divergence(divergence))
        self.restart_objectives_ = scale.divergence(np.asarray(objectives))
        # Shares are ratios, the same at any scale; the fit's totals are in the data's units.
        self.enrichment_, statistics = self._enrichment_table(terms, result.H)
        self.fit_statistics_ = statistics.assign(total=statistics["total"] * scale.factor)
        store_fit_metadata(self, names, n_features, target.loss)
        for attribute in ("dispersion_", "zero_inflation_"):
            value = getattr(background.loss, attribute, None)
            if value is not None:
                setattr(self, "background_" + attribute, value)

    def _enrichment_table(self, terms: list[Term], H: np.ndarray) -> tuple:
        """:attr:`enrichment_` and :attr:`fit_statistics_`: each topic's share of each sample's
        observed total, target against background, and how much of each condition the fit
        explains; a poor fit's labels are withheld, with a :class:`PoorFitWarning`.

        With disentangled topics the background's fitted usage of enriched topics is zero by
        construction, which would make any such topic look enriched; the test then takes the
        background's usages refitted with every topic allowed, and measures fold changes against
        the shared topics. Plain bcNMF's fold changes stay raw: every topic is contrastive, so
        none is a reference.
        """
        target, background = terms[0], terms[1]
        refit = None if self.n_enriched is None else dict(max_iter=self.max_iter, tol=self.tol, eval_every=self.eval_every,
                                                          rule=chosen_rule(self, background.loss, "full", self._contrastive()))
        totals_t, _ = _row_totals_and_usages(target.X, H, self.batch_size)
        totals_b, free_b = _row_totals_and_usages(background.X, H, self.batch_size, background.loss, refit)
        table = topic_enrichment(target.W, background.W if free_b is None else free_b,
                                 target_totals=totals_t, background_totals=totals_b,
                                 reference_topics=None if self.n_enriched is None else self._shared_topics(H.shape[0]))
        statistics = fit_statistics(target.W, background.W, target_totals=totals_t, background_totals=totals_b)
        warn_poor_fit(statistics)
        return withhold_labels(table, statistics), statistics

    # -- using a fit ------------------------------------------------------------------------------

    def transform(self, X, *, background: bool = False) -> np.ndarray:
        """Usages of new samples (rows of ``X``) with the shared loadings fixed, under the target's
        likelihood and fitted dispersion / zero inflation, or the background's with
        ``background=True``. Every topic is allowed."""
        scale = DataScale.of(self)
        X = scale.data(check_new_data(self, X))
        loss = self._fitted_loss(background)
        return scale.to_data_units(usages_for(X, self.components_, loss, max_iter=self.max_iter, tol=self.tol,
                                              eval_every=self.eval_every, rule=chosen_rule(self, loss, "full", self._contrastive())))

    def divergence(self, X, *, components: np.ndarray | None = None, background: bool = False) -> float:
        """How far the rows of ``X`` are from the model: the fitted likelihood's divergence (of the
        target, or of the background with ``background=True``), summed over entries, with the
        usages refitted and the loadings fixed at ``components_`` or at ``components`` (any number
        of topics on the same features: how much a changed set of topics would cost)."""
        X = check_new_data(self, X)
        H = self.components_ if components is None else np.asarray(components, dtype=self.components_.dtype)
        if H.ndim != 2 or H.shape[1] != self.n_features_in_ or not np.all(H >= 0):
            raise ValueError(f"components must be a non-negative matrix with {self.n_features_in_} columns (one per "
                             f"feature of the fit); got shape {H.shape}.")
        scale = DataScale.of(self)
        X, loss = scale.data(X), self._fitted_loss(background)
        W = usages_for(X, H, loss, max_iter=self.max_iter, tol=self.tol, eval_every=self.eval_every,
                       rule=chosen_rule(self, loss, "full", self._contrastive()))
        return scale.divergence(loss.value(X, W, H))

    def _fitted_loss(self, background: bool):
        """The loss of the fit at the scale it ran at (see :mod:`bcnmf.models._scaling`), with the
        condition's fitted dispersion / zero inflation."""
        prefix = "background_" if background else ""
        offset = DataScale.of(self).data(self.offset_)
        return self._make_loss(offset, getattr(self, prefix + "dispersion_", None),
                               getattr(self, prefix + "zero_inflation_", None))

    def inverse_transform(self, W) -> np.ndarray:
        """Data reconstructed from usages: ``W @ components_`` (the count models' offset excluded)."""
        check_fitted(self)
        return np.asarray(W) @ self.components_


def warn_poor_fit(statistics) -> None:
    """A :class:`PoorFitWarning` when :func:`bcnmf.enrichment.topics.fit_statistics` flags a
    condition."""
    if statistics["poor_fit"].any():
        shares = statistics["explained_share"]
        warnings.warn(
            f"the topics model {shares['target']:.0%} of the target's total and {shares['background']:.0%} of the "
            f"background's; below {MIN_EXPLAINED_SHARE:.0%} of the target, their labels say nothing about programs and "
            "are withheld. Lower alpha, or fit the disentangled model (n_enriched='auto').",
            PoorFitWarning, stacklevel=4)


def _check_target_above_floor(target_mean, background_mean, offset, fraction: float) -> None:
    """Refuse a target that the count models' floor alone would explain: the floor is a fraction
    of the pooled mean, so a target far shallower than its background (measured: 5,000 times)
    left its topics nothing to model, and they collapsed."""
    if offset is None:
        return
    target_total, floor_total = float(np.sum(target_mean)), float(np.sum(offset, dtype=np.float64))
    if target_total <= floor_total:
        ratio = float(np.sum(background_mean)) / max(target_total, np.finfo(np.float64).tiny)
        raise ValueError(
            f"X_target's samples total {target_total:.3g} on average, no more than the model's floor "
            f"(offset={fraction:g} of the pooled mean, {floor_total:.3g}): the background's samples are {ratio:.3g} "
            "times larger. Bring both to the same depth (for example normalise each sample to the same total) "
            "or lower offset.")


def _alpha_schedule(alpha: float) -> list[float]:
    """The contrast strengths tried in turn: ``alpha``, halved after each unstable fit, then 0."""
    if alpha == 0:
        return [0.0]
    return [alpha / 2**i for i in range(ALPHA_BACKOFF_STEPS + 1)] + [0.0]


def _row_totals_and_usages(X, H: np.ndarray, batch_size: int, loss=None, refit: dict | None = None):
    """Each row's total of ``X`` (in memory or a :class:`RowSource`, each block where it is read),
    and with ``refit`` (keyword arguments of :func:`usages_for`) its usages with ``H`` fixed under
    ``loss``, else None."""
    measure = partial(_block_totals_and_usages, H=H, loss=loss, refit=refit)
    if isinstance(X, RowSource):
        n_rows, results = X.n_rows, X.apply_blocks(measure, n_blocks_for(X.n_rows, batch_size), H.dtype)
    else:
        n_rows, results = X.shape[0], [(slice(None), measure(slice(None), X))]
    totals = np.empty(n_rows)
    usages = None if refit is None else np.empty((n_rows, H.shape[0]), dtype=H.dtype)
    for rows, (block_totals, block_usages) in results:
        totals[rows] = block_totals
        if usages is not None:
            usages[rows] = block_usages
    return totals, usages


def _block_totals_and_usages(rows: slice, block, *, H: np.ndarray, loss, refit: dict | None):
    """One block's row totals and, with ``refit``, its usages (see :func:`_row_totals_and_usages`)."""
    totals = np.asarray(block.sum(axis=1, dtype=np.float64)).ravel()
    return totals, None if refit is None else usages_for(block, H, loss, **refit)


def _collapse(target: Term, background: Term, result, observed_max: list[float]) -> str | None:
    """Why a fit is unusable (non-finite values, a dead topic, usages out of scale with the data),
    or None when it is sound. ``observed_max`` holds the largest sample total of each dataset."""
    H = result.H
    if not (np.isfinite(H).all() and np.isfinite(target.W).all() and np.isfinite(background.W).all()):
        return "factors became non-finite"
    dead = np.flatnonzero((H.sum(axis=1) <= 0) | (target.W.sum(axis=0) <= 0))
    if dead.size:
        return f"topic(s) {dead.tolist()} collapsed to zero"
    for term, name, observed in ((target, "target", observed_max[0]), (background, "background", observed_max[1])):
        # Rows of H sum to one, so a row of W sums to the total the model predicts for that sample.
        predicted = float(term.W.sum(axis=1).max())
        if predicted > MAX_SCALE_RATIO * max(observed, np.finfo(np.float32).tiny):
            return (f"{name} usages blew up (a sample's modelled total is {predicted:.3g}, the largest observed "
                    f"total {observed:.3g})")
    return None

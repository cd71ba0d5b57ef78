"""Background-contrastive NMF (Li, Yang & Li 2026): one set of loadings for a target and a
background dataset, fitted so that programs enriched in the target stand out.

The paper writes features x samples; its ``W`` is our ``components_.T``.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from bcnmf.backend import column_sums, max_row_total
from bcnmf.backend.blocks import RowSource
from bcnmf.engine import Penalty, Term, normalize_loadings
from bcnmf.init import DETERMINISTIC_INITS, INIT_METHODS, contrastive_loadings, initialize
from bcnmf.losses import make_loss
from bcnmf.models._common import (
    Restart,
    StartingPoints,
    best_restart,
    check_fitted,
    check_common_params,
    check_new_data,
    store_fit_metadata,
    unit_rows,
    usages_for,
    warn_not_converged,
)
from bcnmf.models._online import OnlineState
from bcnmf.models._streaming import (
    INIT_SAMPLE_ROWS,
    WARM_UP_ITERATIONS,
    block_input,
    check_solver,
    n_blocks_for,
    resolve_solver,
    starting_usages,
)
from bcnmf.solvers import NonFiniteError, run_block_updates, run_multiplicative_updates
from bcnmf.validation import (
    check_matrix,
    check_n_components,
    check_positive,
    check_same_features,
    warn_empty_columns,
)

#: How many times alpha is halved looking for a stable fit before giving up at alpha = 0.
ALPHA_BACKOFF_STEPS = 6
#: A fit whose modelled sample totals exceed the largest observed total by this factor is treated
#: as collapsed: the loadings have piled onto features the data do not support.
MAX_SCALE_RATIO = 100.0
#: A dataset's modelled mean of each feature may not exceed this multiple of the larger observed
#: mean of the two datasets (plus the offset); see :func:`bcnmf.engine.cap_modelled_totals`.
TOTAL_CAP_RATIO = 2.0


class AlphaTooLargeWarning(UserWarning):
    """The requested contrast strength gave no stable fit; a smaller one was used."""


class UnstableFitError(FloatingPointError):
    """No contrast strength, down to alpha = 0, gave a stable fit."""


class BCNMF(BaseEstimator):
    """Background-contrastive NMF.

    Minimizes ``D(X_t | W_t H) - alpha * min_{W_b} D(X_b | W_b H)`` over non-negative ``W_t``,
    ``W_b`` and shared loadings ``H``, by the split-gradient multiplicative updates of
    :mod:`bcnmf.engine`.

    Stability: the contrastive objective is unbounded below for count likelihoods (a loading
    driven to zero where the background has counts sends the background divergence to infinity),
    and the published updates drift in scale. Here (1) every row of ``H`` is rescaled to sum to one
    after each step, the usages carrying the magnitude; (2) count losses model
    ``W H + offset * feature_mean``, which bounds the objective; (3) a fit that produces
    non-finite values or a dead topic is retried with alpha halved, with an
    :class:`AlphaTooLargeWarning` naming the largest alpha that worked.

    Parameters
    ----------
    n_components : int
        Number of topics ``k``.
    alpha : float
        Contrast strength (>= 0); 0 is plain NMF of the target.
    loss : {"kl", "frobenius", "beta", "nb", "zinb"}
        Likelihood for both datasets.
    beta : float, optional
        The beta of ``loss="beta"``.
    init : {"contrastive", "nndsvda", "nndsvd", "nndsvdar", "random", "custom"}
        Starting loadings. "contrastive" (default) takes the directions of largest
        target-to-background variance ratio; the NNDSVD variants factor the target alone;
        "custom" uses the ``H`` passed to :meth:`fit`.
    max_iter : int
        Most iterations per start.
    tol : float
        Relative change of the objective (over ``eval_every`` iterations) that ends a fit.
    damping : float
        Exponent in (0, 1] on the loadings step; smaller is slower and steadier.
    offset : float
        For count losses, the model's per-feature floor as a fraction of the feature's pooled mean.
    n_init : int
        Number of starts; the one with the lowest contrastive objective is kept.
    random_state : int, Generator or None
    dtype : {"float32", "float64"}
    dispersion : float or array, optional
        NB/ZINB dispersion; estimated per feature and dataset when None.
    eval_every : int
    solver : {"auto", "mu", "minibatch", "online"}
        How the data are visited. "mu" updates from all rows at once (data in memory);
        "minibatch" reads row blocks and moves the loadings once per pass (the same fit, memory
        bounded by a block); "online" moves the loadings after every block, with decaying memory
        of earlier blocks (fewer passes over very large data). "auto" is "mu" for data in memory
        and "minibatch" for a ``.h5ad`` path, a backed AnnData or a list of row blocks. With the
        block solvers ``max_iter`` counts passes over the data.
    batch_size : int
        Rows of the target per block (the background is split into as many blocks).
    forget_factor : float
        Online solver: weight kept by the previous pass's statistics.
    verbose : bool

    Attributes
    ----------
    components_ : ndarray, shape (n_components, n_features)
        Shared loadings, rows summing to one.
    target_usage_, background_usage_ : ndarray
        Usages of the training target and background samples.
    alpha_ : float
        Contrast strength actually used (smaller than ``alpha`` only after a warning).
    objective_curve_ : ndarray
        Contrastive objective ``D_t - alpha_ * D_b`` at iterations ``objective_curve_iterations_``.
    loss_curve_ : ndarray
        Target divergence at the same iterations.
    n_iter_, reconstruction_err_ (of the target), n_features_in_, feature_names_in_
    offset_ : ndarray or None
        The per-feature floor in the model, for count losses.
    """

    def __init__(
        self,
        n_components: int = 10,
        *,
        alpha: float = 1.0,
        loss: str = "kl",
        beta: float | None = None,
        init: str = "contrastive",
        max_iter: int = 500,
        tol: float = 1e-4,
        damping: float = 1.0,
        offset: float = 1e-2,
        n_init: int = 1,
        random_state=None,
        dtype: str = "float32",
        dispersion=None,
        eval_every: int = 10,
        solver: str = "auto",
        batch_size: int = 4096,
        forget_factor: float = 0.7,
        verbose: bool = False,
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
        self.batch_size = batch_size
        self.forget_factor = forget_factor
        self.verbose = verbose

    # -- checks -----------------------------------------------------------------------------------

    def _check_params(self) -> np.dtype:
        dtype = check_common_params(self, ("contrastive",) + INIT_METHODS)
        check_positive(self.alpha, "alpha", allow_zero=True)
        check_positive(self.damping, "damping", upper=1.0)
        check_positive(self.offset, "offset")
        check_solver(self)
        return dtype

    def _make_loss(self, offset, dispersion=None, zero_inflation=None):
        return make_loss(
            self.loss, beta=self.beta, dispersion=self.dispersion if dispersion is None else dispersion,
            zero_inflation=zero_inflation, offset=offset,
        )

    # -- fitting ----------------------------------------------------------------------------------

    def fit(self, X_target, X_background, *, H=None) -> "BCNMF":
        """Fit shared loadings to a target and a background dataset.

        Parameters
        ----------
        X_target : array-like, sparse matrix or DataFrame, shape (n_target, n_features)
        X_background : array-like, sparse matrix or DataFrame, shape (n_background, n_features)
            Same features, same order. Non-negative.
        H : ndarray, shape (n_components, n_features), optional
            Starting loadings for ``init="custom"``.
        """
        self.fit_transform(X_target, X_background, H=H)
        return self

    def fit_transform(self, X_target, X_background, *, H=None) -> np.ndarray:
        """Fit and return the target usages, shape (n_target, n_components).

        Either dataset may also be an ``.h5ad`` path, an AnnData opened with ``backed="r"`` or a list
        of row blocks; it is then read block by block (see ``solver``).
        """
        dtype = self._check_params()
        solver = resolve_solver(self.solver, X_target, X_background)
        allow_zeros = not (self.loss == "beta" and self.beta is not None and self.beta <= 0)
        if solver == "mu":
            Xt, names_t = check_matrix(X_target, "X_target", dtype, allow_zeros=allow_zeros, warn_empty="rows")
            Xb, names_b = check_matrix(X_background, "X_background", dtype, allow_zeros=allow_zeros, warn_empty="rows")
            target_mean, background_mean = column_sums(Xt) / Xt.shape[0], column_sums(Xb) / Xb.shape[0]
            observed_max = [max_row_total(Xt), max_row_total(Xb)]
            sample_t, sample_b = Xt, Xb
        else:
            t = block_input(X_target, "X_target", dtype, allow_zeros=allow_zeros, batch_size=self.batch_size)
            b = block_input(X_background, "X_background", dtype, allow_zeros=allow_zeros, batch_size=self.batch_size)
            Xt, Xb, names_t, names_b = t, b, t.feature_names, b.feature_names
            target_mean, background_mean = t.column_means, b.column_means
            observed_max = [t.max_row_total, b.max_row_total]
        check_same_features(Xt.shape, Xb.shape, names_t, names_b)
        k = check_n_components(self.n_components, Xt.shape[0], Xt.shape[1], name="X_target")
        H_custom = self._custom_loadings(H, k, Xt.shape[1], dtype)
        if solver == "mu":
            warn_empty_columns([Xt, Xb], "X_target and X_background together")
        offset = self._offset(target_mean, background_mean, Xt.shape[0], Xb.shape[0], dtype)
        caps = self._total_caps(target_mean, background_mean, offset, (Xt.shape[0], Xb.shape[0]), dtype)
        generator = np.random.default_rng(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        if solver != "mu":
            sample_t = t.source.sample(INIT_SAMPLE_ROWS, generator, dtype)
            sample_b = b.source.sample(INIT_SAMPLE_ROWS, generator, dtype)
        starts = StartingPoints(
            lambda: (self._starting_loadings(sample_t, sample_b, k, generator, dtype) if H_custom is None else H_custom,),
            deterministic=self.init in DETERMINISTIC_INITS,
            rng=generator,
        )

        def run_start(alpha: float, start: int) -> Restart:
            H0 = starts.get(start)[0]
            if solver == "mu":
                return self._run_start(Xt, Xb, H0, alpha, start, offset=offset, caps=caps)
            return self._run_blocks(t, b, (sample_t, sample_b), H0, alpha, start, solver, offset=offset, caps=caps)

        failures: list[str] = []
        for alpha in self._alpha_schedule():
            try:
                best, objectives = best_restart(self.n_init, lambda s: run_start(alpha, s))
            except NonFiniteError as err:
                failures.append(f"alpha={alpha:g}: {err}")
                continue
            problem = _collapse(*best.state, observed_max)
            if problem is None:
                break
            failures.append(f"alpha={alpha:g}: {problem}")
        else:
            raise UnstableFitError(
                "No stable fit even at alpha=0: " + "; ".join(failures) + ". Check the data (for example "
                "features with almost no counts) or use loss='frobenius' on log-normalised data."
            )
        if failures:
            warnings.warn(
                f"alpha={self.alpha:g} is too large for a stable fit ({failures[0]}); the largest alpha that "
                f"worked was {alpha:g}, and the results are for alpha={alpha:g}. Choose alpha <= {alpha:g}, or "
                "raise offset / lower damping.",
                AlphaTooLargeWarning,
                stacklevel=2,
            )
        target, background, result = best.state
        warn_not_converged("BCNMF", self.max_iter, self.tol, result.converged)
        self._store(target, background, result, alpha, offset, objectives, names_t if names_t is not None else names_b, Xt.shape[1])
        return target.W

    def partial_fit(self, X_target, X_background) -> "BCNMF":
        """Update the model from one block of target rows and one of background rows (the online
        schedule, driven by the caller).

        The first call sets the loadings (``init``), the count offset, the caps on modelled means
        and the NB/ZINB noise parameters from these blocks; later calls must have the same
        features. No alpha back-off happens here: watch ``components_`` or use ``fit``.
        """
        if not hasattr(self, "_online"):
            dtype = self._check_params()
            Xt, names_t = check_matrix(X_target, "X_target", dtype, warn_empty="none")
            Xb, names_b = check_matrix(X_background, "X_background", dtype, warn_empty="none")
            check_same_features(Xt.shape, Xb.shape, names_t, names_b)
            k = check_n_components(self.n_components, Xt.shape[0], Xt.shape[1], name="X_target")
            generator = np.random.default_rng(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
            if self.init == "custom":
                raise ValueError("partial_fit cannot start from init='custom'; choose another init.")
            H0 = unit_rows(self._starting_loadings(Xt, Xb, k, generator, dtype))
            target_mean, background_mean = column_sums(Xt) / Xt.shape[0], column_sums(Xb) / Xb.shape[0]
            offset = self._offset(target_mean, background_mean, Xt.shape[0], Xb.shape[0], dtype)
            means = self._total_caps(target_mean, background_mean, offset, (1, 1), dtype)
            losses = [self._warm_term(X, H0, offset, 1.0).loss for X in (Xt, Xb)]
            self._online = OnlineState(
                H0, [(losses[0], 1.0, Penalty()), (losses[1], -float(self.alpha), Penalty())],
                forget_factor=self.forget_factor, damping=self.damping, normalize=True, allowed_means=means,
            )
            self.components_, self.n_components_, self.alpha_, self.offset_ = H0, k, float(self.alpha), offset
            store_fit_metadata(self, names_t if names_t is not None else names_b, Xt.shape[1], losses[0])
        else:
            Xt = check_new_data(self, X_target, "X_target")
            Xb = check_new_data(self, X_background, "X_background")
        self.target_usage_, self.background_usage_ = self._online.step([Xt, Xb])
        self.n_steps_ = self._online.n_steps
        return self

    def _alpha_schedule(self) -> list[float]:
        if self.alpha == 0:
            return [0.0]
        return [self.alpha / 2**i for i in range(ALPHA_BACKOFF_STEPS + 1)] + [0.0]

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
        if self.init == "contrastive":
            return contrastive_loadings(Xt, Xb, k, rng, dtype, log_transform=self.loss != "frobenius")
        return initialize(Xt, k, self.init, rng, dtype)[1]

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

    def _run_start(self, Xt, Xb, H0, alpha, start, *, offset, caps):
        H = unit_rows(H0)
        target = self._warm_term(Xt, H, offset, 1.0)
        background = self._warm_term(Xb, H, offset, -alpha)
        terms = [target, background] if alpha > 0 else [target]
        result = run_multiplicative_updates(
            terms, H, max_iter=self.max_iter, tol=self.tol, eval_every=self.eval_every,
            damping=self.damping, normalize=True, total_caps=caps, verbose=self.verbose,
            description=f"bcNMF alpha={alpha:g} start {start + 1}/{self.n_init}",
        )
        if alpha == 0:
            # The background does not shape H at alpha = 0; still report its usages.
            background.W = usages_for(Xb, H, background.loss, max_iter=self.max_iter, tol=self.tol, eval_every=self.eval_every)
            normalize_loadings([], H)
        return Restart(result.objective, (target, background, result))

    def _run_blocks(self, t, b, samples, H0, alpha, start, solver, *, offset, caps):
        """One start of the block schedules: noise parameters are estimated on the in-memory
        samples, and each block's usages are warmed up on its first visit."""
        H = unit_rows(H0)
        # The background keeps a term at alpha = 0 (weight zero) so that its usages are still fitted.
        terms = [Term(data.source, starting_usages(data, H), self._warm_term(sample, H, offset, weight).loss, weight)
                 for data, sample, weight in ((t, samples[0], 1.0), (b, samples[1], -alpha))]
        result = run_block_updates(
            terms, H, schedule=solver, n_blocks=n_blocks_for(t.shape[0], self.batch_size), dtype=H.dtype,
            max_epochs=self.max_iter, tol=self.tol, eval_every=self.eval_every, warm_up=WARM_UP_ITERATIONS, forget_factor=self.forget_factor,
            damping=self.damping, normalize=True, total_caps=caps, verbose=self.verbose,
            description=f"bcNMF ({solver}) alpha={alpha:g} start {start + 1}/{self.n_init}",
        )
        return Restart(result.objective, (*terms, result))

    def _warm_term(self, X, H, offset, weight: float) -> Term:
        """A dataset's term with usages fitted to the starting loadings and its noise parameters
        (NB dispersion, ZINB dropout) estimated there, then frozen.

        Frozen because the contrastive step otherwise steers them: a topic that piles its mass on
        one feature inflates that feature's dispersion (or dropout probability towards one), which
        makes over-estimating it free, and the usages run to 1e9 (measured at alpha=20 for NB and
        alpha=1 for ZINB).
        """
        loss = self._make_loss(offset)
        W = usages_for(X, H, loss, max_iter=WARM_UP_ITERATIONS, tol=0.0, eval_every=self.eval_every)
        loss.freeze_nuisance()
        return Term(X, W, loss, weight)

    def _store(self, target, background, result, alpha, offset, objectives, names, n_features) -> None:
        self.components_ = result.H
        self.n_components_ = result.H.shape[0]
        self.target_usage_ = target.W
        self.background_usage_ = background.W
        self.alpha_ = alpha
        self.offset_ = offset
        self.n_iter_ = result.n_iter
        self.objective_curve_ = np.asarray(result.objective_curve)
        self.objective_curve_iterations_ = np.asarray(result.iterations)
        self.loss_curve_ = np.asarray(result.term_curves[0])
        # Block schedules report the target's divergence from their last pass over the data.
        divergence = result.term_curves[0][-1] if isinstance(target.X, RowSource) else target.divergence(result.H)
        self.reconstruction_err_ = target.loss.reconstruction_error(divergence)
        self.restart_objectives_ = np.asarray(objectives)
        store_fit_metadata(self, names, n_features, target.loss)
        for attribute in ("dispersion_", "zero_inflation_"):
            value = getattr(background.loss, attribute, None)
            if value is not None:
                setattr(self, "background_" + attribute, value)

    # -- using a fit ------------------------------------------------------------------------------

    def transform(self, X) -> np.ndarray:
        """Usages of new samples (rows of ``X``) with the shared loadings fixed, under the target's
        likelihood (and fitted dispersion / zero inflation)."""
        X = check_new_data(self, X)
        loss = self._make_loss(self.offset_, getattr(self, "dispersion_", None), getattr(self, "zero_inflation_", None))
        return usages_for(X, self.components_, loss, max_iter=self.max_iter, tol=self.tol, eval_every=self.eval_every)

    def inverse_transform(self, W) -> np.ndarray:
        """Data reconstructed from usages: ``W @ components_`` (the count models' offset excluded)."""
        check_fitted(self)
        return np.asarray(W) @ self.components_


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

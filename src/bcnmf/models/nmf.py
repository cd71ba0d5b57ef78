"""Plain non-negative matrix factorization with any of the library's likelihoods."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state

from bcnmf.backend.dask_source import rows_like
from bcnmf.backend.device import check_device
from bcnmf.engine import Term
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
from bcnmf.models.starts import DETERMINISTIC_INITS, INIT_METHODS, initialize
from bcnmf.solvers import run_block_updates, run_full_batch
from bcnmf.utils.deprecation import DeprecatedAlias
from bcnmf.utils.validation import (
    check_dispersion,
    check_matrix,
    check_missing,
    check_n_components,
    check_positive,
)


class NMFModel(TransformerMixin, BaseEstimator):
    """One configuration of plain NMF: the fitting machinery behind :class:`bcnmf.NMF`, for a
    fixed number of components.

    The parameters are those of :class:`bcnmf.NMF`, whose documentation describes them; here
    ``n_components`` must be a number. Choosing it (``"auto"``) fits many configurations, which
    is the selection layer's work, above this one.
    """

    #: Old names of ``objective_curve_`` and ``objective_curve_iterations_``.
    loss_curve_ = DeprecatedAlias("objective_curve_", removed_in="0.3")
    loss_curve_iterations_ = DeprecatedAlias("objective_curve_iterations_", removed_in="0.3")

    def __init__(
        self,
        n_components: int | str = 10,
        *,
        loss: str = "frobenius",
        beta: float | None = None,
        init: str = "nndsvda",
        max_iter: int = 200,
        tol: float = 1e-4,
        l1_ratio: float = 0.0,
        alpha_W: float = 0.0,
        alpha_H: float | str = "same",
        n_init: int = 1,
        random_state=0,
        dtype: str = "float32",
        dispersion=None,
        eval_every: int = 10,
        solver: str = "auto",
        update: str = "auto",
        batch_size: int = 4096,
        forget_factor: float = 0.7,
        device: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.n_components = n_components
        self.loss = loss
        self.beta = beta
        self.init = init
        self.max_iter = max_iter
        self.tol = tol
        self.l1_ratio = l1_ratio
        self.alpha_W = alpha_W
        self.alpha_H = alpha_H
        self.n_init = n_init
        self.random_state = random_state
        self.dtype = dtype
        self.dispersion = dispersion
        self.eval_every = eval_every
        self.solver = solver
        self.update = update
        self.batch_size = batch_size
        self.forget_factor = forget_factor
        self.device = device
        self.verbose = verbose

    # -- checks -----------------------------------------------------------------------------------

    def _check_params(self) -> np.dtype:
        dtype = check_common_params(self, INIT_METHODS)
        check_positive(self.l1_ratio, "l1_ratio", allow_zero=True, upper=1.0)
        check_positive(self.alpha_W, "alpha_W", allow_zero=True)
        if self.alpha_H != "same":
            check_positive(self.alpha_H, "alpha_H", allow_zero=True)
        check_solver(self)
        check_update(self)
        return dtype

    def _penalties(self, n_samples: int, n_features: int) -> tuple[Penalty, Penalty]:
        alpha_H = self.alpha_W if self.alpha_H == "same" else self.alpha_H
        W_pen = Penalty(self.alpha_W * self.l1_ratio * n_features, self.alpha_W * (1 - self.l1_ratio) * n_features)
        H_pen = Penalty(alpha_H * self.l1_ratio * n_samples, alpha_H * (1 - self.l1_ratio) * n_samples)
        return W_pen, H_pen

    def _make_loss(self):
        return make_loss(self.loss, beta=self.beta, dispersion=self.dispersion)

    # -- fitting ----------------------------------------------------------------------------------

    def fit_transform(self, X, y=None, W=None, H=None, *, missing=None) -> np.ndarray:
        """Fit the model and return the usages ``W`` of ``X``.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame, shape (n_samples, n_features)
            Non-negative data.
        y : ignored
        W, H : ndarray, optional
            Starting factors for ``init="custom"``.
        missing : boolean array or sparse matrix of X's shape, optional
            Entries to leave out of the fit (True: missing, or held out for validation); their
            values in ``X`` are ignored. The objective then sums over the observed entries only.
            Needs the data in memory.
        """
        dtype = self._check_params()
        device = check_device(self.device)
        solver = resolve_solver(self.solver, X)
        allow_zeros = not (self.loss == "beta" and self.beta is not None and self.beta <= 0)
        generator = np.random.default_rng(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        if solver == "full":
            X, names = check_matrix(X, "X", dtype, allow_zeros=allow_zeros)
        else:
            data = block_input(X, "X", dtype, allow_zeros=allow_zeros, batch_size=self.batch_size)
            names = data.feature_names
        n_samples, n_features = X.shape if solver == "full" else data.shape
        if missing is not None:
            check_missing_allowed(self, solver, "missing=")
            X, left_out = check_missing(missing, X)
        else:
            left_out = None
        check_dispersion(self.dispersion, n_features)
        if self.n_components == "auto":
            return self._fit_automatic(X, solver, W=W, H=H)
        k = check_n_components(self.n_components, n_samples, n_features)
        custom = self._starting_factors((n_samples, n_features), k, W, H, dtype)
        if solver == "full":
            scale = DataScale.choose(self.loss, self.beta, [X])
            X = sample = scale.data(X)
        else:
            scale = data.scale(self.loss, self.beta)
            data = data.scaled(scale)
            sample = data.source.sample(INIT_SAMPLE_ROWS, generator, dtype)
        if custom is not None:
            custom = (custom[0] / custom[0].dtype.type(scale.factor), custom[1])
        W_pen, H_pen = scale.penalties(*self._penalties(n_samples, n_features))
        rule = chosen_rule(self, self._make_loss() if left_out is None else HeldOutEntries(self._make_loss(), left_out),
                           solver)
        starts = StartingPoints(
            lambda: custom if custom is not None else initialize(sample, k, self.init, generator, dtype),
            deterministic=self.init in DETERMINISTIC_INITS,
            rng=generator,
        )

        def run_one(start: int) -> Restart:
            W0, H0 = starts.get(start)
            if solver == "full":
                loss = self._make_loss() if left_out is None else HeldOutEntries(self._make_loss(), left_out)
                term = Term(X, W0, loss, 1.0, W_pen)
                result = run_full_batch(
                    [term], H0, max_iter=self.max_iter, tol=self.tol, rule=rule, eval_every=self.eval_every,
                    H_penalty=H_pen, verbose=self.verbose, description=f"NMF start {start + 1}/{self.n_init}",
                    device=device,
                )
                return Restart(result.objective, (term, result))
            loss = self._make_loss()
            usages_for(sample, H0, loss, max_iter=WARM_UP_ITERATIONS, tol=0.0, eval_every=self.eval_every, rule=rule)
            loss.freeze_nuisance()
            # Starting usages exist for every row when they were given or the sample is the whole
            # dataset (then the schedule is the full-batch fit); otherwise each block warms up.
            have_usages = W0.shape[0] == n_samples
            W_all = W0 if have_usages else starting_usages(data, H0)
            term = Term(data.source, np.ascontiguousarray(W_all), loss, 1.0, W_pen)
            result = run_block_updates(
                [term], H0, schedule=solver, n_blocks=n_blocks_for(n_samples, self.batch_size), dtype=dtype,
                max_epochs=self.max_iter, tol=self.tol, rule=rule, eval_every=self.eval_every,
                warm_up=0 if have_usages else WARM_UP_ITERATIONS, forget_factor=self.forget_factor,
                H_penalty=H_pen, verbose=self.verbose, description=f"NMF ({solver}) start {start + 1}/{self.n_init}",
                device=device,
            )
            return Restart(result.objective, (term, result))

        best, objectives = best_restart(self.n_init, run_one)
        term, result = best.state
        warn_not_converged("NMF", self.max_iter, self.tol, result.converged)
        self.components_ = result.H
        self.n_components_ = k
        self.n_iter_ = result.n_iter
        # The schedules end on an evaluation: the full batch's is exact at the returned factors
        # (not recomputed: on sparse data an evaluation costs about half an iteration), the block
        # schedules' is the divergence summed over their last pass.
        divergence = result.term_curves[0][-1]
        self.reconstruction_err_ = term.loss.reconstruction_error(scale.divergence(divergence))
        self.objective_curve_ = scale.divergence(np.asarray(result.objective_curve))
        self.objective_curve_iterations_ = np.asarray(result.iterations)
        self.restart_objectives_ = scale.divergence(np.asarray(objectives))
        self.data_scale_ = scale.factor
        store_fit_metadata(self, names, n_features, term.loss)
        return rows_like(scale.to_data_units(term.W), X)

    def _fit_automatic(self, X, solver: str, *, W=None, H=None) -> np.ndarray:
        """Fit with the number of components chosen from the data (``"auto"``): many
        configurations, which :class:`bcnmf.NMF` does; a single configuration cannot."""
        raise ValueError(f"{type(self).__name__} fits one configuration; n_components='auto' is chosen by bcnmf.NMF.")

    def _starting_factors(self, shape, k, W, H, dtype):
        if self.init != "custom":
            if W is not None or H is not None:
                raise ValueError("W and H are only used with init='custom'; set init='custom' to start from them.")
            return None
        if W is None or H is None:
            raise ValueError("init='custom' needs both W (n_samples x n_components) and H (n_components x n_features).")
        W = np.array(W, dtype=dtype)
        H = np.array(H, dtype=dtype)
        if W.shape != (shape[0], k) or H.shape != (k, shape[1]):
            raise ValueError(
                f"init='custom' needs W of shape {(shape[0], k)} and H of shape {(k, shape[1])}; "
                f"got {W.shape} and {H.shape}."
            )
        if not (np.isfinite(W).all() and np.isfinite(H).all()) or W.min() < 0 or H.min() < 0:
            raise ValueError("init='custom' needs finite, non-negative W and H.")
        return W, H

    def fit(self, X, y=None, W=None, H=None, *, missing=None) -> "NMFModel":
        """Fit the model to ``X``; see :meth:`fit_transform`."""
        self.fit_transform(X, y, W=W, H=H, missing=missing)
        return self

    def partial_fit(self, X, y=None, W=None, H=None) -> "NMFModel":
        """Update the model from one block of rows (the online schedule, driven by the caller).

        The first call initialises the loadings from this block (``init``, or ``H`` with
        ``init="custom"``) and estimates NB/ZINB noise parameters on it; later calls must have the
        same features. ``W`` is ignored (each block's usages are fitted to the loadings).
        """
        if not hasattr(self, "_online"):
            dtype = self._check_params()
            X, names = check_matrix(X, "X", dtype, allow_zeros=True, warn_empty="none")
            check_dispersion(self.dispersion, X.shape[1])
            k = check_n_components(self.n_components, X.shape[0], X.shape[1])
            generator = np.random.default_rng(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
            scale = DataScale.choose(self.loss, self.beta, [X])
            X = scale.data(X)
            if self.init == "custom":
                H0 = self._starting_factors(X.shape, k, np.ones((X.shape[0], k)), H, dtype)[1]
            else:
                H0 = initialize(X, k, self.init, generator, dtype)[1]
            loss = self._make_loss()
            chosen_rule(self, loss, "online")
            usages_for(X, H0, loss, max_iter=WARM_UP_ITERATIONS, tol=0.0, eval_every=self.eval_every)
            loss.freeze_nuisance()
            W_pen, H_pen = scale.penalties(*self._penalties(self.batch_size, X.shape[1]))
            self._online = OnlineState(H0, [(loss, 1.0, W_pen, None)], forget_factor=self.forget_factor, H_penalty=H_pen,
                                       normalize=not W_pen.active)
            self.components_ = H0
            self.n_components_ = k
            self.data_scale_ = scale.factor
            store_fit_metadata(self, names, X.shape[1], loss)
        else:
            X = DataScale.of(self).data(check_new_data(self, X))
        self._online.step([X])
        self.n_steps_ = self._online.n_steps
        return self

    def transform(self, X) -> np.ndarray:
        """Usages of the rows of ``X`` with the fitted loadings held fixed."""
        X = check_new_data(self, X)
        loss = make_loss(
            self.loss, beta=self.beta,
            dispersion=getattr(self, "dispersion_", self.dispersion),
            zero_inflation=getattr(self, "zero_inflation_", None),
        )
        scale = DataScale.of(self)
        return scale.to_data_units(usages_for(scale.data(X), self.components_, loss, max_iter=self.max_iter, tol=self.tol,
                                              eval_every=self.eval_every, rule=chosen_rule(self, loss, "full")))

    def inverse_transform(self, W) -> np.ndarray:
        """Data reconstructed from usages: ``W @ components_``."""
        check_fitted(self)
        return np.asarray(W) @ self.components_

"""Plain non-negative matrix factorization with any of the library's likelihoods."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state

from bcnmf.engine import Penalty, Term
from bcnmf.init import DETERMINISTIC_INITS, INIT_METHODS, initialize
from bcnmf.losses import make_loss
from bcnmf.models._common import (
    Restart,
    StartingPoints,
    best_restart,
    check_fitted,
    check_common_params,
    check_new_data,
    store_fit_metadata,
    usages_for,
    warn_not_converged,
)
from bcnmf.solvers import run_multiplicative_updates
from bcnmf.validation import check_matrix, check_n_components, check_positive


class NMF(TransformerMixin, BaseEstimator):
    """Non-negative matrix factorization ``X ~ W @ H`` by multiplicative updates.

    Rows of ``X`` are samples, columns features; ``transform`` returns usages ``W``
    (n_samples x k) and ``components_`` holds loadings ``H`` (k x n_features), as in
    :class:`sklearn.decomposition.NMF`.

    Parameters
    ----------
    n_components : int
        Number of components (topics) ``k``.
    loss : {"frobenius", "kl", "beta", "nb", "zinb"}
        Likelihood (see :data:`bcnmf.losses.LOSSES`).
    beta : float, optional
        The beta of ``loss="beta"``.
    init : {"nndsvda", "nndsvd", "nndsvdar", "random", "custom"}
        Starting factors; "custom" uses the ``W`` and ``H`` passed to :meth:`fit`.
    max_iter : int
        Most iterations per start.
    tol : float
        Relative change of the objective (over ``eval_every`` iterations) that ends a fit; 0 runs
        ``max_iter`` iterations.
    l1_ratio, alpha_W, alpha_H : float
        Elastic-net penalties, scaled as in scikit-learn: ``alpha_W * n_features`` on ``W`` and
        ``alpha_H * n_samples`` on ``H``; ``alpha_H="same"`` uses ``alpha_W``.
    n_init : int
        Number of starts; the one with the lowest objective is kept. Starts after the first perturb
        a deterministic init (log-normal jitter) or draw a new random one.
    random_state : int, Generator or None
        Seed; the same seed gives the same result.
    dtype : {"float32", "float64"}
        Precision of the factors and computations.
    dispersion : float or array, optional
        NB/ZINB dispersion (``Var = mu + dispersion * mu^2``); estimated per feature when None.
    eval_every : int
        Iterations between evaluations of the objective (for ``tol`` and ``loss_curve_``).
    verbose : bool
        Show a progress bar.

    Attributes
    ----------
    components_ : ndarray, shape (n_components, n_features)
    n_components_ : int
    n_iter_ : int
    reconstruction_err_ : float
        ``sqrt(2 * divergence)`` at the end of the fit (Frobenius norm of the residual for squared
        error), as scikit-learn reports it.
    loss_curve_ : ndarray
        Objective (divergence plus penalties) at iterations ``loss_curve_iterations_``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame.
    dispersion_, zero_inflation_ : ndarray
        Fitted NB dispersion and ZINB dropout probability per feature (those losses only).
    """

    def __init__(
        self,
        n_components: int = 10,
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
        random_state=None,
        dtype: str = "float32",
        dispersion=None,
        eval_every: int = 10,
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
        self.verbose = verbose

    # -- checks -----------------------------------------------------------------------------------

    def _check_params(self) -> np.dtype:
        dtype = check_common_params(self, INIT_METHODS)
        check_positive(self.l1_ratio, "l1_ratio", allow_zero=True, upper=1.0)
        check_positive(self.alpha_W, "alpha_W", allow_zero=True)
        if self.alpha_H != "same":
            check_positive(self.alpha_H, "alpha_H", allow_zero=True)
        return dtype

    def _penalties(self, n_samples: int, n_features: int) -> tuple[Penalty, Penalty]:
        alpha_H = self.alpha_W if self.alpha_H == "same" else self.alpha_H
        W_pen = Penalty(self.alpha_W * self.l1_ratio * n_features, self.alpha_W * (1 - self.l1_ratio) * n_features)
        H_pen = Penalty(alpha_H * self.l1_ratio * n_samples, alpha_H * (1 - self.l1_ratio) * n_samples)
        return W_pen, H_pen

    def _make_loss(self):
        return make_loss(self.loss, beta=self.beta, dispersion=self.dispersion)

    # -- fitting ----------------------------------------------------------------------------------

    def fit_transform(self, X, y=None, W=None, H=None) -> np.ndarray:
        """Fit the model and return the usages ``W`` of ``X``.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame, shape (n_samples, n_features)
            Non-negative data.
        y : ignored
        W, H : ndarray, optional
            Starting factors for ``init="custom"``.
        """
        dtype = self._check_params()
        allow_zeros = not (self.loss == "beta" and self.beta is not None and self.beta <= 0)
        X, names = check_matrix(X, "X", dtype, allow_zeros=allow_zeros)
        n_samples, n_features = X.shape
        k = check_n_components(self.n_components, n_samples, n_features)
        custom = self._starting_factors(X, k, W, H, dtype)
        W_pen, H_pen = self._penalties(n_samples, n_features)
        generator = np.random.default_rng(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        starts = StartingPoints(
            lambda: custom if custom is not None else initialize(X, k, self.init, generator, dtype),
            deterministic=self.init in DETERMINISTIC_INITS,
            rng=generator,
        )

        def run_one(start: int) -> Restart:
            W0, H0 = starts.get(start)
            term = Term(X, W0, self._make_loss(), 1.0, W_pen)
            result = run_multiplicative_updates(
                [term], H0, max_iter=self.max_iter, tol=self.tol, eval_every=self.eval_every,
                H_penalty=H_pen, verbose=self.verbose, description=f"NMF start {start + 1}/{self.n_init}",
            )
            return Restart(result.objective, (term, result))

        best, objectives = best_restart(self.n_init, run_one)
        term, result = best.state
        warn_not_converged("NMF", self.max_iter, self.tol, result.converged)
        self.components_ = result.H
        self.n_components_ = k
        self.n_iter_ = result.n_iter
        self.reconstruction_err_ = term.loss.reconstruction_error(term.divergence(result.H))
        self.loss_curve_ = np.asarray(result.objective_curve)
        self.loss_curve_iterations_ = np.asarray(result.iterations)
        self.restart_objectives_ = np.asarray(objectives)
        store_fit_metadata(self, names, n_features, term.loss)
        return term.W

    def _starting_factors(self, X, k, W, H, dtype):
        if self.init != "custom":
            if W is not None or H is not None:
                raise ValueError("W and H are only used with init='custom'; set init='custom' to start from them.")
            return None
        if W is None or H is None:
            raise ValueError("init='custom' needs both W (n_samples x n_components) and H (n_components x n_features).")
        W = np.array(W, dtype=dtype)
        H = np.array(H, dtype=dtype)
        if W.shape != (X.shape[0], k) or H.shape != (k, X.shape[1]):
            raise ValueError(
                f"init='custom' needs W of shape {(X.shape[0], k)} and H of shape {(k, X.shape[1])}; "
                f"got {W.shape} and {H.shape}."
            )
        if not (np.isfinite(W).all() and np.isfinite(H).all()) or W.min() < 0 or H.min() < 0:
            raise ValueError("init='custom' needs finite, non-negative W and H.")
        return W, H

    def fit(self, X, y=None, W=None, H=None) -> "NMF":
        """Fit the model to ``X``; see :meth:`fit_transform`."""
        self.fit_transform(X, y, W=W, H=H)
        return self

    def transform(self, X) -> np.ndarray:
        """Usages of the rows of ``X`` with the fitted loadings held fixed."""
        X = check_new_data(self, X)
        loss = make_loss(
            self.loss, beta=self.beta,
            dispersion=getattr(self, "dispersion_", self.dispersion),
            zero_inflation=getattr(self, "zero_inflation_", None),
        )
        return usages_for(X, self.components_, loss, max_iter=self.max_iter, tol=self.tol, eval_every=self.eval_every)

    def inverse_transform(self, W) -> np.ndarray:
        """Data reconstructed from usages: ``W @ components_``."""
        check_fitted(self)
        return np.asarray(W) @ self.components_

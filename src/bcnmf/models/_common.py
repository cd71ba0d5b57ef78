"""Pieces every estimator shares: checking new data against a fit, usages of new samples, and
choosing the best of several restarts."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from bcnmf.backend.device import check_device
from bcnmf.engine import MULTIPLICATIVE, Term, UpdateRule, update_rule
from bcnmf.losses import LOSSES, Loss, make_loss
from bcnmf.models.starts import perturb
from bcnmf.solvers import NonFiniteError, run_full_batch
from bcnmf.utils.validation import check_dtype, check_matrix, check_positive


def check_loss_name(loss: str, beta) -> None:
    """Reject unknown losses and a missing or meaningless ``beta`` before any work."""
    if loss not in LOSSES:
        raise ValueError(f"loss={loss!r} is not known; choose one of {sorted(LOSSES)}.")
    if loss == "beta" and (beta is None or isinstance(beta, bool) or not np.isfinite(float(beta))):
        raise ValueError("loss='beta' needs beta= a finite real number (0 Itakura-Saito, 1 KL, 2 squared error).")


def check_common_params(estimator, init_methods: tuple[str, ...]) -> np.dtype:
    """Checks shared by every multiplicative-update estimator; returns the working dtype."""
    check_loss_name(estimator.loss, estimator.beta)
    if estimator.init not in init_methods:
        raise ValueError(f"init={estimator.init!r} is not known; choose one of {init_methods}.")
    for name in ("max_iter", "n_init", "eval_every"):
        value = getattr(estimator, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name}={value!r} must be a positive integer.")
    check_positive(estimator.tol, "tol", allow_zero=True)
    check_device(estimator.device)
    return check_dtype(estimator.dtype)


def store_fit_metadata(estimator, feature_names, n_features: int, loss: Loss) -> None:
    """Set ``n_features_in_``, ``feature_names_in_`` (or drop a stale one) and the fitted noise
    parameters of ``loss`` (``dispersion_``, ``zero_inflation_``)."""
    estimator.n_features_in_ = n_features
    if feature_names is not None:
        estimator.feature_names_in_ = feature_names
    elif hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    for attribute in ("dispersion_", "zero_inflation_"):
        value = getattr(loss, attribute, None)
        if value is not None:
            setattr(estimator, attribute, value)


def check_missing_allowed(estimator, solver: str, argument: str) -> None:
    """Left-out entries (``argument``, named in messages) need the data in memory, a fixed number
    of topics, and a loss defined at zero."""
    if solver != "full":
        raise ValueError(f"{argument} needs the data in memory (solver='full'); it is not available for data read in blocks.")
    if estimator.n_components == "auto":
        raise ValueError(f"{argument} cannot be combined with n_components='auto'; choose n_components.")
    if getattr(estimator, "alpha", None) == "auto":
        raise ValueError(f"{argument} cannot be combined with alpha='auto'; choose alpha.")
    if estimator.device is not None:
        raise ValueError(f"{argument} is fitted on the host only; leave device=None to fit with left-out entries.")
    if estimator.loss == "beta" and estimator.beta is not None and estimator.beta <= 0:
        raise ValueError(f"{argument} is not available for beta <= 0 (Itakura-Saito), which is undefined at zero.")


def allowed_mass(H: np.ndarray, topics: np.ndarray | None) -> float:
    """Sum of the loadings of the allowed ``topics`` (all when None)."""
    return float(H.sum() if topics is None else H[topics].sum())


def check_fitted(estimator, attribute: str = "components_") -> None:
    if not hasattr(estimator, attribute):
        raise NotFittedError(
            f"This {type(estimator).__name__} is not fitted yet; call fit before using this method."
        )


def check_new_data(estimator, X, name: str = "X"):
    """Validate data passed to ``transform``: same features (and names) as the fit."""
    check_fitted(estimator)
    X, names = check_matrix(X, name, estimator.components_.dtype, allow_zeros=True, warn_empty="none")
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"{name} has {X.shape[1]} features but the model was fitted on {estimator.n_features_in_}; "
            "pass data with the same features in the same order."
        )
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if names is not None and fitted_names is not None and not np.array_equal(names, fitted_names):
        raise ValueError(f"{name} has different feature names (or order) than the data the model was fitted on.")
    return X


def restrict_topics(W: np.ndarray, topics: np.ndarray | None) -> np.ndarray:
    """``W`` with the columns of topics outside ``topics`` (a boolean mask; None allows all) set to
    zero, in place. Multiplicative updates keep a zero at zero, so the restriction holds for the
    whole fit."""
    if topics is not None:
        W[:, ~topics] = 0
    return W


def flat_usages(X, H: np.ndarray, topics: np.ndarray | None = None) -> np.ndarray:
    """Starting usages: each row at its own total, spread evenly over the allowed ``topics``
    (C-contiguous)."""
    row_mass = np.asarray(X.sum(axis=1), dtype=np.float64).ravel()
    mass = allowed_mass(H, topics)
    # Loadings that collapsed to zero explain nothing: zero usages, which the collapse checks
    # report, rather than infinite ones.
    per_topic = row_mass / mass if mass > 0 else np.zeros_like(row_mass)
    W = np.repeat(per_topic[:, None], H.shape[0], axis=1).astype(H.dtype) + np.finfo(H.dtype).tiny
    return restrict_topics(W, topics)


def unit_rows(H: np.ndarray) -> np.ndarray:
    """A copy of ``H`` with rows scaled to sum to one and no exact zeros (multiplicative updates
    cannot move an entry away from zero)."""
    H = np.array(H, copy=True)
    H /= np.maximum(H.sum(axis=1, keepdims=True), np.finfo(H.dtype).tiny)
    H += np.finfo(H.dtype).tiny
    return H


def usages_for(X, H: np.ndarray, loss: Loss, *, max_iter: int, tol: float, eval_every: int,
               topics: np.ndarray | None = None, rule: UpdateRule = MULTIPLICATIVE) -> np.ndarray:
    """Usages ``W`` of the rows of ``X`` with loadings ``H`` fixed (``rule``'s usage steps),
    using only the topics in the boolean mask ``topics`` (all when None)."""
    term = Term(X, flat_usages(X, H, topics), loss, topics=topics)
    run_full_batch([term], H, max_iter=max_iter, tol=tol, rule=rule, eval_every=eval_every, update_H=False)
    return term.W


def check_update(estimator, contrastive: bool = False) -> None:
    """Reject an unknown ``update=``, or one that cannot fit the estimator's loss (in a contrastive
    model when ``contrastive``), before any work (the loss and beta checked already)."""
    update_rule(estimator.update, make_loss(estimator.loss, beta=estimator.beta), contrastive=contrastive,
                on_device=estimator.device is not None)


def chosen_rule(estimator, loss: Loss, solver: str, contrastive: bool = False) -> UpdateRule:
    """The update rule of a fit: ``estimator.update`` for ``loss`` in the ``solver`` schedule (see
    :func:`bcnmf.engine.update_rule`)."""
    return update_rule(estimator.update, loss, solver, contrastive, on_device=estimator.device is not None)


class StartingPoints:
    """Starting factors for each restart.

    Start 0 uses ``make``; later starts call ``make`` again for a random init, or jitter the first
    start's factors (log-normal, sigma 0.5) when the init is deterministic and would repeat itself.
    """

    def __init__(self, make: Callable[[], tuple], deterministic: bool, rng: np.random.Generator) -> None:
        self._make = make
        self._deterministic = deterministic
        self._rng = rng
        self._first: tuple | None = None

    def get(self, start: int) -> tuple:
        if start == 0 or not self._deterministic:
            factors = self._make()
            if start == 0:
                self._first = factors
            return tuple(np.array(f, copy=True) for f in factors)
        return tuple(perturb(f, self._rng) for f in self._first)


@dataclass
class Restart:
    """One completed start: its objective and whatever the estimator needs to keep."""

    objective: float
    state: object


def best_restart(n_init: int, run_one: Callable[[int], Restart]) -> tuple[Restart, list[float]]:
    """Run ``n_init`` starts and keep the one with the lowest finite objective.

    A start that diverges (NaN or inf) is discarded, never selected; if all diverge the last
    error is raised.
    """
    best, objectives, error = None, [], None
    for start in range(n_init):
        try:
            result = run_one(start)
        except NonFiniteError as err:
            error = err
            objectives.append(float("nan"))
            continue
        objectives.append(result.objective)
        if best is None or result.objective < best.objective:
            best = result
    if best is None:
        raise error
    return best, objectives


def warn_not_converged(name: str, max_iter: int, tol: float, converged: bool) -> None:
    if tol > 0 and not converged:
        warnings.warn(
            f"{name} reached max_iter={max_iter} before the objective's relative change fell below "
            f"tol={tol}; increase max_iter or tol.",
            ConvergenceWarning,
            stacklevel=3,
        )

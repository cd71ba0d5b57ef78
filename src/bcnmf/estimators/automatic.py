"""Settings chosen from the data: what ``"auto"`` means for ``n_components`` and ``alpha`` of the
estimators (``n_enriched="auto"``: :mod:`bcnmf.estimators.topic_counts`). Each choice runs a
selection over many fitted configurations (:mod:`bcnmf.selection`), which is why it sits above
the models and below the estimators."""

from __future__ import annotations

from sklearn.base import clone

from bcnmf.selection.alpha import DEFAULT_ALPHAS, select_alpha
from bcnmf.selection.rank import select_n_components

#: Candidates and restarts of ``n_components="auto"``.
AUTO_CANDIDATES = tuple(range(2, 11))
AUTO_RESTARTS = 5
#: The contrast strength at which ``n_components="auto"`` compares ranks when alpha is also "auto".
AUTO_RANK_ALPHA = 1.0
#: Restarts per alpha of ``alpha="auto"``.
AUTO_ALPHA_RESTARTS = 3
#: Parameters that rank and alpha selection set themselves, or that do not change a fit.
_SET_BY_SELECTION = ("n_components", "random_state", "init", "n_init", "verbose", "checkpoint", "checkpoint_every")


def automatic_rank(estimator, X, X_background=None, *, solver: str) -> int:
    """The number of topics :func:`bcnmf.selection.select_n_components` recommends for ``X``
    (and a background) under the estimator's other settings; its table is kept as
    ``estimator.rank_selection_``.

    ``X`` must be in memory (``solver="full"``): rank selection refits the model many times.
    """
    if solver != "full":
        raise ValueError("n_components='auto' refits the model many times and needs the data in memory; "
                         "choose n_components for data read in blocks.")

    limit = min(X.shape)
    candidates = [k for k in AUTO_CANDIDATES if k <= limit]
    if not candidates:
        raise ValueError(f"n_components='auto' needs at least 2 samples and 2 features; X has shape {X.shape}.")
    params = _selection_params(estimator)
    if params.get("alpha") == "auto":
        params["alpha"] = AUTO_RANK_ALPHA
    result = select_n_components(X, candidates, X_background=X_background, n_restarts=AUTO_RESTARTS,
                                 random_state=estimator.random_state, verbose=estimator.verbose, **params)
    estimator.rank_selection_ = result.table
    return result.recommended


def automatic_alpha(estimator, X_target, X_background, n_components: int, *, solver: str) -> float:
    """The contrast strength :func:`bcnmf.selection.select_alpha` recommends for
    ``n_components`` topics under the estimator's other settings; its table is kept as
    ``estimator.alpha_selection_``."""
    if solver != "full":
        raise ValueError("alpha='auto' refits the model many times and needs the data in memory; "
                         "choose alpha for data read in blocks.")
    params = _selection_params(estimator)
    del params["alpha"]
    result = select_alpha(X_target, X_background, DEFAULT_ALPHAS, n_components=n_components,
                          n_restarts=AUTO_ALPHA_RESTARTS, random_state=estimator.random_state,
                          verbose=estimator.verbose, **params)
    estimator.alpha_selection_ = result.table
    return result.recommended


def _selection_params(estimator) -> dict:
    """The estimator's parameters that shape each refit of a selection."""
    return {name: value for name, value in estimator.get_params().items() if name not in _SET_BY_SELECTION}


def fit_chosen(estimator, settings: dict, *data, **fit_kwargs):
    """Fit a copy of ``estimator`` with the chosen ``settings``, give ``estimator`` the copy's
    fitted attributes, and return the copy's usages."""
    chosen = clone(estimator).set_params(**settings)
    usages = chosen.fit_transform(*data, **fit_kwargs)
    adopt_fitted(estimator, chosen)
    return usages


def adopt_fitted(estimator, fitted) -> None:
    """Give ``estimator`` the fitted attributes (public, ending in ``_``) of ``fitted``."""
    estimator.__dict__.update({name: value for name, value in vars(fitted).items()
                               if name.endswith("_") and not name.startswith("_")})

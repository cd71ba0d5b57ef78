"""Fitting from AnnData, in scanpy's conventions: results go into the object (``obsm``, ``varm``,
``uns``) in place, or into a copy with ``copy=True``; ``layer=`` and ``mask_var=`` choose the data.

Each function checks its inputs and fits before it writes anything, so an error leaves the
AnnData as it was.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from bcnmf import get
from bcnmf.enrichment.gene_set_tests import TESTS, enrich_topics
from bcnmf.enrichment.topics import topic_shares
from bcnmf.estimators import BCNMF, NMF
from bcnmf.io.anndata import (
    DEFAULT_MASK_VAR,
    check_anndata,
    contrast_input,
    feature_mask,
    matrix_of,
)
from bcnmf.selection.alpha import DEFAULT_ALPHAS
from bcnmf.selection.alpha import select_alpha as _select_alpha
from bcnmf.selection.rank import select_n_components


def bcnmf(adata, condition_key: str | None = None, target=None, background=None, *, adata_background=None,
          n_components: int | str = "auto", n_enriched: int | str | None = None, alpha: float | str | None = None,
          loss: str = "kl", layer: str | None = None, mask_var=DEFAULT_MASK_VAR, key_added: str = "bcnmf",
          copy: bool = False, random_state=0, **kwargs):
    """Fit bcNMF with target and background taken from AnnData.

    By default the numbers of shared and target-enriched topics of the disentangled model are
    chosen from the data, and each topic is labelled shared, target-enriched or
    background-enriched on cells the loadings never saw (see
    :mod:`bcnmf.estimators.topic_counts`). Give ``n_components`` alone for plain bcNMF with that
    many topics.

    Parameters
    ----------
    adata : AnnData
        Cells x features. With ``condition_key``, the target cells are those whose
        ``obs[condition_key]`` is ``target`` (a value or a list of values), the background those
        whose value is ``background``; without, all cells are target and ``adata_background``
        holds the background.
    condition_key : str, optional
    target, background : value or list of values, optional
    adata_background : AnnData, optional
        The background as its own object; its features are matched to ``adata``'s by name.
    n_components, n_enriched, loss
        As in :class:`bcnmf.BCNMF`. ``n_enriched=None`` (default) goes with ``n_components``:
        ``"auto"`` with ``"auto"`` (both numbers chosen), plain bcNMF with a number of topics.
    alpha : float, "auto" or None
        As in :class:`bcnmf.BCNMF`: None (default) is 0 for the disentangled model, whose shared
        topics must explain the background, and 1 for plain bcNMF.
    layer : str, optional
        Use ``adata.layers[layer]`` (and the background's) instead of ``X``.
    mask_var : str, boolean array or None
        Features to fit on: a boolean ``var`` column, an array, or None for all. By default the
        ``highly_variable`` column when there is one, else all features.
    key_added : str
        Where results go: ``obsm["X_<key_added>"]`` (usages of every cell: target and background
        from the fit, other cells with the loadings fixed), ``obsm["<key_added>_shares"]`` (each
        topic's share of each cell: the part of the cell's total over the fitted features that
        the topic models; what the enrichment table, the plots and the report show),
        ``varm["<key_added>_loadings"]`` (features x topics, zeros for features left out by
        ``mask_var``) and ``uns[key_added]`` (parameters, objective curve, topic names, the
        enrichment table, the fit statistics, the selection tables of automatic settings). With
        ``adata_background``, its ``obsm`` receives the background usages and shares.
    copy : bool
        Return a modified copy instead of writing into ``adata`` (and ``adata_background``).
    random_state : int, Generator or None
    **kwargs
        Other :class:`bcnmf.BCNMF` parameters (``max_iter``, ``solver``, ...).

    Returns
    -------
    AnnData or None
        The copy with ``copy=True``; with ``adata_background`` and ``copy=True``, a pair
        (target copy, background copy).
    """
    data = contrast_input(adata, condition_key, target, background, adata_background=adata_background,
                          layer=layer, mask_var=mask_var)
    if n_enriched is None and n_components == "auto":
        n_enriched = "auto"
    model = BCNMF(n_components, n_enriched=n_enriched, alpha=alpha, loss=loss, random_state=random_state, **kwargs)
    model.fit(data.target, data.background)
    names = list(model.enrichment_.index)
    usages = np.full((adata.n_obs, model.n_components_), np.nan, dtype=np.float64)
    usages[data.target_cells] = model.target_usage_
    if adata_background is None:
        usages[data.background_cells] = model.background_usage_
        others = ~(data.target_cells | data.background_cells)
        if others.any():
            X = matrix_of(adata, layer)[others]
            usages[others] = model.transform(X[:, data.var_mask] if not data.var_mask.all() else X)
    results = {
        "params": _params(model, condition_key=condition_key, target=target, background=background, layer=layer,
                          mask_var=_mask_name(adata, mask_var), method="bcnmf"),
        "topic_names": np.asarray(names, dtype=object),
        "var_mask": data.var_mask,
        "objective": np.asarray(model.objective_curve_, dtype=np.float64),
        "objective_iterations": np.asarray(model.objective_curve_iterations_),
        "enrichment": model.enrichment_,
        "fit_statistics": model.fit_statistics_,
        "alpha": float(model.alpha_),
        "n_components": int(model.n_components_),
    }
    for table in ("rank_selection", "alpha_selection", "topic_selection"):
        if hasattr(model, table + "_"):
            results[table] = getattr(model, table + "_")
    adata = adata.copy() if copy else adata
    _write(adata, key_added, usages, model.components_, _row_totals(adata, layer, data.var_mask), results)
    if adata_background is not None:
        adata_background = adata_background.copy() if copy else adata_background
        adata_background.obsm[f"X_{key_added}"] = model.background_usage_.astype(np.float64)
        adata_background.obsm[f"{key_added}_shares"] = topic_shares(
            model.background_usage_, model.components_, _row_totals(adata_background, layer, data.var_mask))
        return (adata, adata_background) if copy else None
    return adata if copy else None


def nmf(adata, n_components: int | str = 10, *, loss: str = "frobenius", layer: str | None = None,
        mask_var=DEFAULT_MASK_VAR, key_added: str = "nmf", copy: bool = False, random_state=0, **kwargs):
    """Fit plain NMF to every cell of ``adata``; results as in :func:`bcnmf` (``obsm["X_nmf"]``,
    ``varm["nmf_loadings"]``, ``uns["nmf"]``).

    ``**kwargs`` are other :class:`bcnmf.NMF` parameters. Returns the copy with ``copy=True``.
    """
    check_anndata(adata)
    var_mask = feature_mask(adata, mask_var)
    X = matrix_of(adata, layer)
    model = NMF(n_components, loss=loss, random_state=random_state, **kwargs)
    usages = model.fit_transform(X if var_mask.all() else X[:, var_mask])
    results = {
        "params": _params(model, layer=layer, mask_var=_mask_name(adata, mask_var), method="nmf"),
        "topic_names": np.asarray([f"topic_{i}" for i in range(model.n_components_)], dtype=object),
        "var_mask": var_mask,
        "objective": np.asarray(model.objective_curve_, dtype=np.float64),
        "n_components": int(model.n_components_),
    }
    if hasattr(model, "rank_selection_"):
        results["rank_selection"] = model.rank_selection_
    adata = adata.copy() if copy else adata
    _write(adata, key_added, usages, model.components_, _row_totals(adata, layer, var_mask), results)
    return adata if copy else None


def select_k(adata, condition_key: str | None = None, target=None, background=None, *, adata_background=None,
             candidates: Iterable[int] = range(2, 11), n_restarts: int = 5, layer: str | None = None,
             mask_var=DEFAULT_MASK_VAR, key_added: str = "bcnmf", copy: bool = False, random_state=0, **params):
    """Choose the number of topics (:func:`bcnmf.selection.select_n_components`).

    With a target and background (as in :func:`bcnmf`) the model is bcNMF; with neither
    ``condition_key`` nor ``adata_background``, plain NMF of every cell. Writes
    ``uns["<key_added>_select_k"]``: ``table`` (one row per candidate) and ``recommended``.
    """
    if condition_key is None and adata_background is None:
        check_anndata(adata)
        X = matrix_of(adata, layer)
        mask = feature_mask(adata, mask_var)
        result = select_n_components(X if mask.all() else X[:, mask], candidates, n_restarts=n_restarts,
                                     random_state=random_state, **params)
    else:
        data = contrast_input(adata, condition_key, target, background, adata_background=adata_background,
                              layer=layer, mask_var=mask_var)
        result = select_n_components(data.target, candidates, X_background=data.background, n_restarts=n_restarts,
                                     random_state=random_state, **params)
    adata = adata.copy() if copy else adata
    adata.uns[f"{key_added}_select_k"] = {"table": result.table, "recommended": int(result.recommended)}
    return adata if copy else None


def select_alpha(adata, condition_key: str | None = None, target=None, background=None, *, n_components: int,
                 adata_background=None, alphas: Iterable[float] = DEFAULT_ALPHAS, n_restarts: int = 3,
                 layer: str | None = None, mask_var=DEFAULT_MASK_VAR, key_added: str = "bcnmf", copy: bool = False,
                 random_state=0, **params):
    """Choose bcNMF's contrast strength (:func:`bcnmf.selection.select_alpha`); target and
    background as in :func:`bcnmf`. Writes ``uns["<key_added>_select_alpha"]``: ``table`` and
    ``recommended``."""
    data = contrast_input(adata, condition_key, target, background, adata_background=adata_background,
                          layer=layer, mask_var=mask_var)
    result = _select_alpha(data.target, data.background, alphas, n_components=n_components, n_restarts=n_restarts,
                           random_state=random_state, **params)
    adata = adata.copy() if copy else adata
    adata.uns[f"{key_added}_select_alpha"] = {"table": result.table, "recommended": float(result.recommended)}
    return adata if copy else None


def enrich(adata, gene_sets="hallmark", *, key: str = "bcnmf", tests=TESTS, n_top: int = 50, min_size: int = 5,
           max_size: int = 1000, case_sensitive: bool = False) -> pd.DataFrame:
    """Gene-set enrichment of every topic under ``key`` (see
    :func:`bcnmf.enrichment.enrich_topics`); the universe is the features the model was
    fitted on.

    Returns the tidy table (topic, collection, gene_set, test, set_size, overlap, effect, p_value,
    q_value, genes) and keeps it in ``uns[key]["gene_set_enrichment"]``.
    """
    table = enrich_topics(get.loadings(adata, key), gene_sets, tests=tests, n_top=n_top, min_size=min_size,
                          max_size=max_size, case_sensitive=case_sensitive)
    adata.uns[key]["gene_set_enrichment"] = table
    return table


def _row_totals(adata, layer: str | None, var_mask: np.ndarray) -> np.ndarray:
    """Each cell's total over the fitted features."""
    X = matrix_of(adata, layer)
    return np.asarray((X if var_mask.all() else X[:, var_mask]).sum(axis=1), dtype=np.float64).ravel()


def _write(adata, key: str, usages: np.ndarray, components: np.ndarray, totals: np.ndarray, results: dict) -> None:
    var_mask = np.asarray(results["var_mask"], dtype=bool)
    loadings = np.zeros((adata.n_vars, components.shape[0]))
    loadings[var_mask] = components.T
    adata.obsm[f"X_{key}"] = np.asarray(usages, dtype=np.float64)
    adata.obsm[f"{key}_shares"] = topic_shares(usages, components, totals)
    adata.varm[f"{key}_loadings"] = loadings
    adata.uns[key] = results


def _mask_name(adata, mask_var) -> str | None:
    """The ``var`` column the features were chosen by, or None (all features, or an array)."""
    return mask_var if isinstance(mask_var, str) and mask_var in adata.var.columns else None


def _params(model, **extra) -> dict:
    """The estimator's parameters and ``extra``, without the unset ones (h5ad cannot store None)."""
    params = {**model.get_params(), **extra}
    params.pop("verbose", None)
    return {name: value if isinstance(value, (str, int, float, bool, np.generic)) else str(value)
            for name, value in params.items() if value is not None}

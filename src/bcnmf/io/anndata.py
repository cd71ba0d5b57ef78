"""Taking target and background out of AnnData objects, checked, before any fit.

One AnnData with a condition column in ``obs``, or two AnnData objects whose features are matched
by name. A layer may replace ``X``, and ``mask_var`` (a boolean ``var`` column such as
``highly_variable``, or a boolean array) keeps a subset of the features, as in scanpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: ``mask_var``'s default: the ``var`` column scanpy's highly-variable-gene selection writes, used when present.
DEFAULT_MASK_VAR = "highly_variable"


@dataclass
class ContrastInput:
    """Target and background matrices (cells x kept features) and where they came from.

    Attributes
    ----------
    target, background : array or sparse matrix
    target_cells, background_cells : ndarray of bool
        Which cells of the (first) AnnData are target and background; with two AnnData objects,
        all of the first are target and ``background_cells`` refers to the second.
    var_mask : ndarray of bool
        Features kept, over ``adata.var_names``.
    feature_names : pandas.Index
    """

    target: object
    background: object
    target_cells: np.ndarray
    background_cells: np.ndarray
    var_mask: np.ndarray
    feature_names: pd.Index


def as_values(value, name: str) -> list:
    """A condition value or a list of them, as a non-empty list."""
    values = list(value) if isinstance(value, (list, tuple, set, np.ndarray, pd.Index)) else [value]
    if not values or any(v is None for v in values):
        raise ValueError(f"{name} must name one condition value or a list of them.")
    return values


def check_anndata(adata, name: str = "adata") -> None:
    """``adata`` must be an AnnData object with at least one cell and one feature."""
    from anndata import AnnData

    if not isinstance(adata, AnnData):
        raise TypeError(f"{name} must be an AnnData object; got {type(adata).__name__}. "
                        "Read a file with anndata.read_h5ad(path).")
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise ValueError(f"{name} is empty ({adata.n_obs} cells x {adata.n_vars} features).")
    if not adata.var_names.is_unique:
        repeated = adata.var_names[adata.var_names.duplicated()].unique()
        raise ValueError(f"{name} has {len(repeated)} feature names used more than once ({_listing(repeated)}); "
                         f"genes are reported by name, so make them unique first: {name}.var_names_make_unique().")


def feature_mask(adata, mask_var) -> np.ndarray:
    """Boolean mask over ``adata.var_names`` from ``mask_var``: None (all features), a boolean
    ``var`` column, or a boolean array; the default string uses its column only when present."""
    if mask_var is None or (isinstance(mask_var, str) and mask_var == DEFAULT_MASK_VAR
                            and DEFAULT_MASK_VAR not in adata.var.columns):
        return np.ones(adata.n_vars, dtype=bool)
    if isinstance(mask_var, str):
        if mask_var not in adata.var.columns:
            raise ValueError(f"mask_var={mask_var!r} is not a column of adata.var (columns: "
                             f"{_listing(adata.var.columns)}); give a boolean column, a boolean array, or None.")
        mask = adata.var[mask_var].to_numpy()
    else:
        mask = np.asarray(mask_var)
    if mask.dtype != bool or mask.shape != (adata.n_vars,):
        raise ValueError(f"mask_var must be boolean with one value per feature ({adata.n_vars}); got dtype "
                         f"{mask.dtype} and shape {mask.shape}.")
    if mask.sum() < 2:
        raise ValueError(f"mask_var keeps {int(mask.sum())} feature(s); at least 2 are needed.")
    return mask


def matrix_of(adata, layer: str | None, name: str = "adata"):
    """``adata.X`` or ``adata.layers[layer]``."""
    if layer is None:
        if adata.X is None:
            raise ValueError(f"{name}.X is empty; give layer= one of {_listing(adata.layers.keys())}.")
        return adata.X
    if layer not in adata.layers:
        raise ValueError(f"layer={layer!r} is not in {name}.layers (layers: {_listing(adata.layers.keys())}).")
    return adata.layers[layer]


def contrast_input(adata, condition_key: str | None, target, background, *, adata_background=None,
                   layer: str | None = None, mask_var=DEFAULT_MASK_VAR) -> ContrastInput:
    """Target and background from one AnnData split by ``obs[condition_key]``, or from two.

    Raises
    ------
    ValueError
        Naming the argument at fault: an unknown column or condition value, a condition without
        cells, the same cells in both conditions, features of the background that do not match.
    """
    check_anndata(adata)
    var_mask = feature_mask(adata, mask_var)
    names = adata.var_names[var_mask]
    X = matrix_of(adata, layer)
    if adata_background is None:
        if condition_key is None:
            raise ValueError("give condition_key= (a column of adata.obs) with target= and background=, or a second "
                             "AnnData as adata_background=.")
        if condition_key not in adata.obs.columns:
            raise ValueError(f"condition_key={condition_key!r} is not a column of adata.obs (columns: "
                             f"{_listing(adata.obs.columns)}).")
        column = adata.obs[condition_key].astype(str)
        present = pd.unique(column)
        cells = {}
        for role, value in (("target", target), ("background", background)):
            values = [str(v) for v in as_values(value, role)]
            missing = [v for v in values if v not in set(present)]
            if missing:
                raise ValueError(f"{role}={missing[0]!r}: no cell has obs[{condition_key!r}] == {missing[0]!r} "
                                 f"(values present: {_listing(present)}).")
            cells[role] = column.isin(values).to_numpy()
        if (cells["target"] & cells["background"]).any():
            raise ValueError("target and background share condition values; give each its own.")
        Xt, Xb = X[cells["target"]], X[cells["background"]]
        if var_mask.all():
            return ContrastInput(Xt, Xb, cells["target"], cells["background"], var_mask, names)
        return ContrastInput(Xt[:, var_mask], Xb[:, var_mask], cells["target"], cells["background"], var_mask, names)
    check_anndata(adata_background, "adata_background")
    if condition_key is not None or target is not None or background is not None:
        raise ValueError("with adata_background=, every cell of adata is target and every cell of adata_background "
                         "is background; leave condition_key, target and background unset.")
    positions = adata_background.var_names.get_indexer(names)
    if (positions < 0).any():
        absent = names[positions < 0]
        raise ValueError(f"{absent.size} feature(s) of adata are not in adata_background (for example "
                         f"{_listing(absent[:5])}); subset both to shared features first.")
    if adata_background.var_names.has_duplicates or names.has_duplicates:
        raise ValueError("feature names must be unique in adata and adata_background to match them; "
                         "call .var_names_make_unique() first.")
    Xb = matrix_of(adata_background, layer, "adata_background")[:, positions]
    Xt = X if var_mask.all() else X[:, var_mask]
    return ContrastInput(Xt, Xb, np.ones(adata.n_obs, bool), np.ones(adata_background.n_obs, bool), var_mask, names)


def _listing(values: Sequence, limit: int = 10) -> str:
    values = [str(v) for v in values]
    shown = ", ".join(repr(v) for v in values[:limit])
    return (shown + f", ... ({len(values)} in all)") if len(values) > limit else (shown or "none")

"""Reading what ``bcnmf.tl`` wrote into an AnnData back as tidy tables (scanpy's ``get`` idiom)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def results(adata, key: str = "bcnmf") -> dict:
    """``uns[key]``, the results ``bcnmf.tl`` wrote under ``key``; a clear error when there are none."""
    if key not in adata.uns or f"{key}_loadings" not in adata.varm:
        raise KeyError(f"no results under key {key!r} in this AnnData; run bcnmf.tl.bcnmf(adata, ...) or "
                       f"bcnmf.tl.nmf(adata, ...) first (key_added={key!r}).")
    return adata.uns[key]


def topic_names(adata, key: str = "bcnmf") -> list[str]:
    """The topic names of the results under ``key``."""
    return [str(name) for name in results(adata, key)["topic_names"]]


def loadings(adata, key: str = "bcnmf") -> pd.DataFrame:
    """Loadings, topics x the features the model was fitted on (rows sum to one)."""
    used = np.asarray(results(adata, key)["var_mask"], dtype=bool)
    values = np.asarray(adata.varm[f"{key}_loadings"])[used].T
    return pd.DataFrame(values, index=topic_names(adata, key), columns=adata.var_names[used])


def usages(adata, key: str = "bcnmf") -> pd.DataFrame:
    """Usages, cells x topics (``obsm["X_<key>"]``)."""
    names = topic_names(adata, key)
    return pd.DataFrame(np.asarray(adata.obsm[f"X_{key}"]), index=adata.obs_names, columns=names)


def shares(adata, key: str = "bcnmf") -> pd.DataFrame:
    """Shares, cells x topics (``obsm["<key>_shares"]``): the part of each cell's total that each
    topic models, the quantity of the enrichment table, the plots and the report."""
    names = topic_names(adata, key)
    if f"{key}_shares" not in adata.obsm:
        raise KeyError(f"no shares under key {key!r}: the results predate them; fit again with bcnmf.tl.")
    return pd.DataFrame(np.asarray(adata.obsm[f"{key}_shares"]), index=adata.obs_names, columns=names)


def top_features(adata, key: str = "bcnmf", n: int = 50) -> pd.DataFrame:
    """The ``n`` features of largest loading in each topic, as a tidy table.

    Returns
    -------
    pandas.DataFrame
        Columns ``topic``, ``rank`` (1 = largest), ``feature``, ``loading``; topics in order.
    """
    table = loadings(adata, key)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n={n!r} must be a positive integer.")
    n = min(int(n), table.shape[1])
    rows = []
    for topic, row in table.iterrows():
        order = np.argsort(-row.to_numpy(), kind="stable")[:n]
        rows.append(pd.DataFrame({"topic": topic, "rank": np.arange(1, n + 1), "feature": table.columns[order],
                                  "loading": row.to_numpy()[order]}))
    return pd.concat(rows, ignore_index=True)

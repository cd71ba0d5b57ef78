"""Which gene sets each topic's loadings point to, offline.

Two tests per topic and gene set, against the genes in the model only (a gene set is cut down
to the genes the model has; sets left with fewer than ``min_size`` genes are skipped):

* **over-representation** (``"ora"``): the topic's ``n_top`` genes of largest loading against
  the rest, one-sided hypergeometric test of the overlap with the set;
* **rank** (``"rank"``): the whole loading vector, a one-sided Wilcoxon rank-sum test that the
  set's genes load higher than the others (normal approximation with the correction for ties,
  which matter: loadings have many exact zeros). Its effect size is the AUC, the chance that a
  gene of the set outranks a gene outside it.

q-values are Benjamini–Hochberg within each topic, collection and test. Gene names are matched
without regard to case by default, so that mouse symbols (``Cd74``) meet human ones (``CD74``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import false_discovery_control, hypergeom, norm, rankdata

from bcnmf.enrichment.gene_sets import load_gene_sets

TESTS = ("ora", "rank")
COLUMNS = ["topic", "collection", "gene_set", "test", "set_size", "overlap", "effect", "p_value", "q_value", "genes"]


def enrich_topics(loadings: pd.DataFrame, gene_sets, *, tests: Sequence[str] = TESTS, n_top: int = 50,
                  min_size: int = 5, max_size: int = 1000, case_sensitive: bool = False) -> pd.DataFrame:
    """Test every topic's loadings against every gene set.

    Parameters
    ----------
    loadings : pandas.DataFrame, shape (n_topics, n_genes)
        Non-negative loadings, indexed by topic name, with gene names as columns.
    gene_sets : str, path, dict or list
        Collections as :func:`bcnmf.enrichment.gene_sets.load_gene_sets` takes them (``"hallmark"``,
        ``"GO_BP"``, a .gmt path, a dict of gene lists, or a list of these).
    tests : sequence of {"ora", "rank"}
    n_top : int
        Genes per topic in the over-representation test.
    min_size, max_size : int
        Sets with fewer or more genes in the model are skipped.
    case_sensitive : bool
        Match gene names exactly (default: ignoring case).

    Returns
    -------
    pandas.DataFrame
        One row per topic, collection, gene set and test, best first within each topic: ``set_size``
        (genes of the set in the model), ``overlap`` (of the set with the top genes, ORA) or the
        number of the set's genes with a non-zero loading (rank), ``effect`` (fold enrichment of
        the overlap over its expectation, ORA; AUC, rank), ``p_value``, ``q_value`` and ``genes``
        (the set's genes among the topic's top ``n_top``, by decreasing loading).
    """
    tests = _check_tests(tests)
    values, genes = _check_loadings(loadings)
    n_genes = len(genes)
    if isinstance(n_top, bool) or not isinstance(n_top, (int, np.integer)) or not 1 <= n_top < n_genes:
        raise ValueError(f"n_top={n_top!r} must be an integer from 1 to the number of genes - 1 ({n_genes - 1}).")
    if not 1 <= min_size <= max_size:
        raise ValueError(f"min_size={min_size!r} and max_size={max_size!r} need 1 <= min_size <= max_size.")
    collections = load_gene_sets(gene_sets)
    key = (lambda g: g) if case_sensitive else str.upper
    index = {}
    for position, gene in enumerate(genes):
        index.setdefault(key(gene), position)
    top = np.argsort(-values, axis=1, kind="stable")[:, :n_top]
    frames = []
    for collection, sets in collections.items():
        names, members = _membership(sets, index, key, n_genes, min_size, max_size)
        if not names:
            continue
        for test in tests:
            frame = (_ora if test == "ora" else _rank_sum)(values, members, top)
            frame["collection"], frame["test"] = collection, test
            frame["gene_set"] = np.tile(np.asarray(names, dtype=object), values.shape[0])
            frame["topic"] = np.repeat(np.asarray(loadings.index, dtype=object), len(names))
            frame["genes"] = _top_members(members, top, genes)
            frames.append(frame)
    if not frames:
        raise ValueError(f"no gene set has {min_size} to {max_size} genes among the model's {n_genes} genes; check "
                         "that the gene names are symbols of the same species and naming as the gene sets.")
    table = pd.concat(frames, ignore_index=True)
    table["q_value"] = table.groupby(["topic", "collection", "test"], sort=False)["p_value"].transform(
        lambda p: false_discovery_control(p.to_numpy(), method="bh"))
    order = {topic: i for i, topic in enumerate(loadings.index)}
    table = table.sort_values(["topic", "p_value", "effect"], key=lambda c: c.map(order) if c.name == "topic" else c,
                              ascending=[True, True, False], kind="stable")
    return table[COLUMNS].reset_index(drop=True)


def _check_tests(tests) -> tuple[str, ...]:
    tests = (tests,) if isinstance(tests, str) else tuple(tests)
    unknown = [t for t in tests if t not in TESTS]
    if unknown or not tests:
        raise ValueError(f"tests={tests!r}: choose one or more of {TESTS}.")
    return tests


def _check_loadings(loadings) -> tuple[np.ndarray, list[str]]:
    if not isinstance(loadings, pd.DataFrame):
        raise TypeError("loadings must be a pandas DataFrame, topics x genes, with gene names as columns "
                        "(for example bcnmf.get.loadings(adata)).")
    values = loadings.to_numpy(dtype=np.float64)
    if values.ndim != 2 or values.shape[1] < 2 or not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("loadings must hold finite, non-negative values for at least two genes.")
    return values, [str(g) for g in loadings.columns]


def _membership(sets, index: dict, key, n_genes: int, min_size: int, max_size: int):
    """Names of the sets kept, and a 0/1 CSR matrix (sets x genes) of their genes in the model;
    ``index`` maps ``key(gene name)`` to the gene's position."""
    names, rows, cols = [], [], []
    for name, genes in sets.items():
        positions = sorted({index[k] for k in map(key, genes) if k in index})
        if min_size <= len(positions) <= max_size:
            rows.extend([len(names)] * len(positions))
            cols.extend(positions)
            names.append(name)
    members = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(names), n_genes))
    return names, members


def _ora(values: np.ndarray, members: sp.csr_matrix, top: np.ndarray) -> pd.DataFrame:
    n_topics, n_genes = values.shape
    n_top = top.shape[1]
    indicator = np.zeros((n_genes, n_topics))
    indicator[top.T, np.arange(n_topics)] = 1.0
    overlap = np.asarray(members @ indicator).T  # topics x sets
    size = np.asarray(members.sum(axis=1)).ravel()[None, :]
    p = hypergeom.sf(overlap - 1, n_genes, size, n_top)
    expected = size * n_top / n_genes
    return pd.DataFrame({"set_size": np.broadcast_to(size, overlap.shape).ravel().astype(int),
                         "overlap": overlap.ravel().astype(int), "effect": (overlap / expected).ravel(),
                         "p_value": np.clip(p, 0.0, 1.0).ravel()})


def _rank_sum(values: np.ndarray, members: sp.csr_matrix, top: np.ndarray) -> pd.DataFrame:
    n_genes = values.shape[1]
    ranks = rankdata(values, axis=1)  # average ranks for ties
    n_in = np.asarray(members.sum(axis=1)).ravel()[None, :]
    n_out = n_genes - n_in
    u = np.asarray(members @ ranks.T).T - n_in * (n_in + 1) / 2  # topics x sets
    ties = np.array([_tie_term(row) for row in values])[:, None]
    variance = n_in * n_out / 12.0 * ((n_genes + 1) - ties / (n_genes * (n_genes - 1)))
    z = (u - n_in * n_out / 2.0 - 0.5) / np.sqrt(np.maximum(variance, 1e-300))  # continuity correction
    nonzero = np.asarray(members @ (values > 0).T.astype(np.float64)).T
    return pd.DataFrame({"set_size": np.broadcast_to(n_in, u.shape).ravel().astype(int),
                         "overlap": nonzero.ravel().astype(int), "effect": (u / (n_in * n_out)).ravel(),
                         "p_value": norm.sf(z).ravel()})


def _tie_term(row: np.ndarray) -> float:
    """Sum over groups of tied values of t^3 - t."""
    _, counts = np.unique(row, return_counts=True)
    counts = counts.astype(np.float64)
    return float(np.sum(counts**3 - counts))


def _top_members(members: sp.csr_matrix, top: np.ndarray, genes: list[str]) -> list[str]:
    """For each topic and set (topic-major), the set's genes among the topic's top genes, in order."""
    out = []
    for order in top:
        in_top = members[:, order].tocsr()
        for row in range(members.shape[0]):
            hits = order[np.sort(in_top.indices[in_top.indptr[row]:in_top.indptr[row + 1]])]
            out.append(";".join(genes[g] for g in hits))
    return out

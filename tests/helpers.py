"""Data builders several test modules share (pytest puts this folder on the import path)."""

from __future__ import annotations

import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from bcnmf.enrichment.gene_sets import bundled

def quiet(fit, *args, **kwargs):
    """``fit(*args, **kwargs)`` with warnings silenced (convergence warnings of short test fits)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(*args, **kwargs)


#: Hallmark sets the planted target programs are drawn from.
PLANTED = ("HALLMARK_INTERFERON_GAMMA_RESPONSE", "HALLMARK_OXIDATIVE_PHOSPHORYLATION")


def _planted_counts(rng, genes, programs, n_cells, enriched):
    """Poisson counts: a Dirichlet mix of shared programs, plus one enriched program per subgroup."""
    shared, planted = programs
    mix = rng.dirichlet(np.full(len(shared), 0.3), size=n_cells) @ shared
    labels = np.arange(n_cells) % len(planted)
    profile = 2.0 * mix + (planted[labels] if enriched else 0.0) + 0.1 / len(genes)
    profile /= profile.sum(axis=1, keepdims=True)
    return rng.poisson(1500 * profile).astype(np.float32)


def hallmark_planted(seed: int = 0, n_cells: int = 300):
    """Target and background counts (DataFrames over every hallmark gene) with three shared
    programs on genes outside :data:`PLANTED` and two target programs on the genes of those sets."""
    rng = np.random.default_rng(seed)
    hallmark = bundled("hallmark")
    genes = sorted({gene for genes in hallmark.values() for gene in genes})
    position = {gene: i for i, gene in enumerate(genes)}
    planted = np.zeros((len(PLANTED), len(genes)))
    for row, name in zip(planted, PLANTED):
        row[[position[g] for g in hallmark[name]]] = rng.gamma(2.0, 1.0, len(hallmark[name]))
    in_planted = planted.sum(axis=0) > 0
    others = rng.permutation(np.flatnonzero(~in_planted))
    shared = np.zeros((3, len(genes)))
    for row, block in zip(shared, np.array_split(others[:1500], 3)):
        row[block] = rng.gamma(2.0, 1.0, block.size)
    programs = (shared / shared.sum(1, keepdims=True), planted / planted.sum(1, keepdims=True))
    target = pd.DataFrame(_planted_counts(rng, genes, programs, n_cells, True), columns=genes)
    background = pd.DataFrame(_planted_counts(rng, genes, programs, n_cells, False), columns=genes)
    return target, background, programs[1]


def write_cells(path: Path, target: pd.DataFrame, background: pd.DataFrame) -> ad.AnnData:
    """One .h5ad with a condition column: MDD (target) and Control (background)."""
    X = np.vstack([target.to_numpy(), background.to_numpy()])
    obs = pd.DataFrame({"condition": ["MDD"] * len(target) + ["Control"] * len(background)},
                       index=[f"cell{i}" for i in range(len(X))])
    adata = ad.AnnData(sp.csr_matrix(X), obs=obs, var=pd.DataFrame(index=target.columns))
    adata.write_h5ad(path)
    return adata


def one_object(data, n_other: int = 10) -> ad.AnnData:
    """Target, background and a few cells of a third condition in one AnnData."""
    X = np.vstack([data.target, data.background, data.background[:n_other]])
    condition = ["MDD"] * len(data.target) + ["Control"] * len(data.background) + ["Other"] * n_other
    adata = ad.AnnData(X, obs=pd.DataFrame({"condition": condition}, index=[f"c{i}" for i in range(len(X))]),
                       var=pd.DataFrame(index=[f"g{i}" for i in range(X.shape[1])]))
    return adata

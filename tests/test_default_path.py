"""The default path, as a new user runs it: `bcnmf fit` with no model setting on realistic
case/control counts gives each planted program its label."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from bcnmf.cli import main
from bcnmf.datasets import simulate_case_control
from bcnmf.enrichment.topics import BACKGROUND_ENRICHED, ENRICHED, SHARED


def cosines(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    A = A / np.linalg.norm(A, axis=1, keepdims=True)
    B = B / np.linalg.norm(B, axis=1, keepdims=True)
    return A @ B.T


def write_cells(path, data) -> None:
    import scipy.sparse as sp

    X = sp.vstack([data.target, data.background]).tocsr()
    condition = ["treated"] * data.target.shape[0] + ["control"] * data.background.shape[0]
    obs = pd.DataFrame({"condition": condition}, index=[f"cell{i}" for i in range(X.shape[0])])
    ad.AnnData(X, obs=obs, var=pd.DataFrame(index=data.gene_names)).write_h5ad(path)


@pytest.mark.slow
def test_the_default_fit_labels_the_planted_programs(tmp_path):
    data = simulate_case_control(n_genes=400, n_target=600, n_background=600, seed=0)
    write_cells(tmp_path / "cells.h5ad", data)
    out = tmp_path / "result.h5ad"
    assert main(["fit", str(tmp_path / "cells.h5ad"), "--condition-key", "condition", "--target", "treated",
                 "--background", "control", "--out", str(out), "--quiet"]) == 0
    result = ad.read_h5ad(out)
    labels = result.uns["bcnmf"]["enrichment"]["label"].to_numpy()
    loadings = result.varm["bcnmf_loadings"].T
    # Each response program is its own topic, labelled target-enriched.
    response = cosines(data.response_programs, loadings)
    assert response.max(axis=1).min() >= 0.9
    assert all(labels[topic] == ENRICHED for topic in response.argmax(axis=1))
    # The cell type the target lost is background-enriched.
    lost = cosines(data.cell_type_profiles[[data.lost_cell_type]], loadings)[0]
    assert lost.max() >= 0.9 and labels[lost.argmax()] == BACKGROUND_ENRICHED
    # No other topic is called target-enriched; the table says how the numbers were chosen.
    assert (labels == ENRICHED).sum() == len(data.response_programs)
    assert (labels == SHARED).sum() >= 4
    assert "topic_selection" in result.uns["bcnmf"]


@pytest.mark.slow
def test_a_batch_wide_scale_alone_is_labelled_nothing(tmp_path):
    data = simulate_case_control(n_genes=400, n_target=600, n_background=600, n_responses=0, lost_cell_type=False,
                                 n_genes_down=0, batch_scale=2.0, seed=1)
    write_cells(tmp_path / "cells.h5ad", data)
    out = tmp_path / "result.h5ad"
    assert main(["fit", str(tmp_path / "cells.h5ad"), "--condition-key", "condition", "--target", "treated",
                 "--background", "control", "--out", str(out), "--quiet"]) == 0
    labels = ad.read_h5ad(out).uns["bcnmf"]["enrichment"]["label"]
    assert (labels == SHARED).all()

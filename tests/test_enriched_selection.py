"""Choosing the numbers of shared and target-enriched topics of the disentangled model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bcnmf
from bcnmf import BCNMF
from bcnmf.selection.enriched import fewest_that_predict_as_well, select_n_enriched
from bcnmf.evaluation import clustering_ari
from bcnmf.cli.report import render_report
from bcnmf.enrichment.topics import ENRICHED, SHARED
from helpers import one_object


def cosines(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    A = A / np.linalg.norm(A, axis=1, keepdims=True)
    B = B / np.linalg.norm(B, axis=1, keepdims=True)
    return A @ B.T


def test_the_planted_number_of_enriched_programs_is_recommended(small_sim):
    result = select_n_enriched(small_sim.target, small_sim.background, (1, 2, 3), n_shared=5, n_restarts=3,
                               random_state=0, alpha=0.0, max_iter=150)
    assert result.recommended == 2
    table = result.table
    assert list(table.index) == [1, 2, 3]
    # Two enriched topics come back alike in every restart.
    assert table.loc[2, "stable"] and table.loc[2, "min_silhouette"] >= 0.75
    # The second enriched topic is what lets the target be predicted; a third adds nothing.
    assert table.loc[2, "heldout_target"] < 0.95 * table.loc[1, "heldout_target"]
    assert table.loc[3, "heldout_target"] > 0.99 * table.loc[2, "heldout_target"]


def test_a_stable_topic_that_predicts_nothing_more_is_not_chosen():
    table = pd.DataFrame({"stable": [True, True, True, False], "heldout_target": [0.54, 0.374, 0.372, 0.30]},
                         index=pd.Index([1, 2, 3, 4], name="n_enriched"))
    assert fewest_that_predict_as_well(table, fallback=1) == 2
    assert fewest_that_predict_as_well(table.assign(stable=False), fallback=1) == 1


@pytest.mark.slow
def test_automatic_shared_and_enriched_counts_recover_the_planted_programs(small_sim):
    adata = one_object(small_sim)
    bcnmf.tl.bcnmf(adata, "condition", "MDD", "Control", n_components="auto", n_enriched="auto", alpha=0.0,
                   max_iter=150, random_state=0)
    results = adata.uns["bcnmf"]
    steps = results["topic_selection"]
    n_shared = int(steps["n_shared"].iloc[-1])
    # The background's five programs (and its mean profile) are shared; the target's two are its own.
    assert n_shared >= 5 and results["n_components"] == n_shared + 2
    # A first fit with four enriched topics, two of them called; then the two kept, refitted.
    assert list(steps["n_enriched"]) == [4, 2] and list(steps["called_enriched"]) == [2, 2]
    assert (steps["held_out_target"] == 60).all()
    assert list(results["enrichment"]["label"]) == [SHARED] * n_shared + [ENRICHED] * 2
    loadings = adata.varm["bcnmf_loadings"].T
    assert cosines(small_sim.enriched_programs, loadings[n_shared:]).max(axis=1).min() >= 0.9
    target = (adata.obs["condition"] == "MDD").to_numpy()
    assert clustering_ari(adata.obsm["X_bcnmf"][target][:, n_shared:], small_sim.target_labels) > 0.95
    assert results["params"]["n_enriched"] == "auto"
    assert "Choice of the numbers of shared and target-enriched topics" in render_report(adata)


@pytest.mark.parametrize("params, message", [
    ({"n_components": 7, "n_enriched": "auto"}, "set both to 'auto'"),
    ({"n_components": "auto", "n_enriched": 2}, "set both to 'auto'"),
    ({"n_components": "auto", "n_enriched": "some"}, "n_enriched='some'"),
])
def test_automatic_counts_need_both_set_to_auto(small_sim, params, message):
    with pytest.raises(ValueError, match=message):
        BCNMF(**params).fit(small_sim.target, small_sim.background)


def test_automatic_counts_need_the_data_in_memory(small_sim):
    blocks = [small_sim.target[:150], small_sim.target[150:]], [small_sim.background[:150], small_sim.background[150:]]
    with pytest.raises(ValueError, match="in memory"):
        BCNMF("auto", n_enriched="auto").fit(*blocks)


@pytest.mark.parametrize("kwargs, message", [
    ({"candidates": (0, 1)}, "candidates"),
    ({"heldout_fraction": 0.0}, "heldout_fraction"),
    ({"n_enriched": 2}, "n_enriched is set by select_n_enriched"),
    ({"n_restarts": 1}, "n_restarts"),
])
def test_bad_selection_arguments_are_refused(small_sim, kwargs, message):
    with pytest.raises(ValueError, match=message):
        select_n_enriched(small_sim.target, small_sim.background, **{"n_shared": 5, **kwargs})

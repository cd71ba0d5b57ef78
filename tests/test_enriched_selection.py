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


def test_the_pieces_of_a_split_program_are_merged_and_different_programs_are_not(small_sim):
    import copy

    from bcnmf.estimators.topic_counts import _programs

    model = BCNMF(7, n_enriched=2, alpha=0.0, random_state=0).fit(small_sim.target, small_sim.background)
    H = model.components_
    # The first enriched program cut in two by its genes: every cell needs both pieces at once.
    piece = np.zeros(H.shape[1], dtype=bool)
    piece[np.flatnonzero(H[5] > 0)[::2]] = True
    split = copy.deepcopy(model)
    split.components_ = np.vstack([H[:5], H[5] * piece, H[5] * ~piece, H[6]])
    programs = _programs(split, small_sim.target, 5, np.array([5, 6, 7]))
    assert programs.shape == (2, H.shape[1])
    np.testing.assert_allclose(programs.sum(axis=1), 1.0, rtol=1e-5)
    assert np.sort(cosines(H[5:], programs).max(axis=1)).tolist() == pytest.approx([1.0, 1.0], abs=0.01)
    # Two programs of their own stay two.
    assert _programs(model, small_sim.target, 5, np.array([5, 6])).shape == (2, H.shape[1])


def test_divergence_prices_a_changed_set_of_topics(small_sim):
    model = BCNMF(7, n_enriched=2, alpha=0.0, random_state=0).fit(small_sim.target, small_sim.background)
    full = model.divergence(small_sim.target)
    assert np.isfinite(full) and full > 0
    # Without the enriched topics the target is fitted worse; the background barely needs them.
    assert model.divergence(small_sim.target, components=model.components_[:5]) > 1.2 * full
    background = model.divergence(small_sim.background, background=True)
    assert model.divergence(small_sim.background, components=model.components_[:5], background=True) \
        < 1.05 * background
    with pytest.raises(ValueError, match="components must be a non-negative matrix with 600 columns"):
        model.divergence(small_sim.target, components=model.components_[:, :10])


def test_a_fit_that_explains_too_little_is_flagged_and_not_labelled(small_sim, monkeypatch):
    from bcnmf.enrichment import topics

    # Every fit falls short of a bar above one: the wiring from statistics to labels is what is tested.
    monkeypatch.setattr(topics, "MIN_EXPLAINED_SHARE", 1.01)
    with pytest.warns(bcnmf.PoorFitWarning, match="labels say nothing"):
        model = BCNMF(7, n_enriched=2, alpha=0.0, random_state=0).fit(small_sim.target, small_sim.background)
    assert model.fit_statistics_["poor_fit"].tolist() == [True, False]
    assert (model.enrichment_["label"] == topics.NOT_LABELLED).all()
    assert model.fit_statistics_["explained_share"].between(0.8, 1.01).all()


def test_the_automatic_fit_gives_the_same_answer_on_every_run(small_sim):
    fits = [BCNMF("auto", n_enriched="auto", max_iter=60).fit(small_sim.target, small_sim.background) for _ in range(2)]
    np.testing.assert_array_equal(fits[0].components_, fits[1].components_)
    pd.testing.assert_frame_equal(fits[0].enrichment_, fits[1].enrichment_)

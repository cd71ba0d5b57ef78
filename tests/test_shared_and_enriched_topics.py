"""Shared and target-enriched topics: the disentangled model, the enrichment table of a fit, and its
calibration when target and background come from one population."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from bcnmf import BCNMF
from bcnmf.datasets import simulate_case_control, simulate_contrastive
from bcnmf.enrichment.topics import ENRICHED, SHARED


def cosines(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    A = A / np.linalg.norm(A, axis=1, keepdims=True)
    B = B / np.linalg.norm(B, axis=1, keepdims=True)
    return A @ B.T


def log_normalize(X):
    return np.log1p(X / X.sum(axis=1, keepdims=True) * 1e4)


@pytest.mark.parametrize("loss", ["kl", "nb", "frobenius"])
def test_disentangled_topics_are_the_planted_programs_with_the_right_labels(small_sim, loss):
    Xt, Xb = small_sim.target, small_sim.background
    if loss == "frobenius":
        Xt, Xb = log_normalize(Xt), log_normalize(Xb)
    model = BCNMF(7, n_enriched=2, alpha=0.0, loss=loss, random_state=0).fit(Xt, Xb)
    labels = model.enrichment_["label"].to_numpy()
    assert list(labels) == [SHARED] * 5 + [ENRICHED] * 2
    H = model.components_
    # Every planted target program is one of the enriched topics, every shared program a shared one.
    assert cosines(small_sim.enriched_programs, H[5:]).max(axis=1).min() >= 0.9
    assert cosines(small_sim.shared_programs, H[:5]).max(axis=1).min() >= 0.85
    # The background never uses an enriched topic.
    assert np.all(model.background_usage_[:, 5:] == 0)
    assert np.all(model.enrichment_["log2_fold_change"].iloc[5:] > 3)


def test_disentangled_topics_with_the_contrastive_penalty_and_in_row_blocks(small_sim):
    reference = BCNMF(7, n_enriched=2, alpha=1.0, random_state=0).fit(small_sim.target, small_sim.background)
    blocks = [small_sim.target[:150], small_sim.target[150:]], [small_sim.background[:150], small_sim.background[150:]]
    streamed = BCNMF(7, n_enriched=2, alpha=1.0, random_state=0, solver="minibatch").fit(*blocks)
    for model in (reference, streamed):
        assert list(model.enrichment_["label"]) == [SHARED] * 5 + [ENRICHED] * 2
        assert cosines(small_sim.enriched_programs, model.components_[5:]).max(axis=1).min() >= 0.9
        assert np.all(model.background_usage_[:, 5:] == 0)
    assert streamed.objective_curve_[-1] == pytest.approx(reference.objective_curve_[-1], rel=0.02)


def test_partial_fit_keeps_the_background_off_enriched_topics(small_sim):
    model = BCNMF(4, n_enriched=1, random_state=0)
    for rows in (slice(0, 150), slice(150, 300)):
        model.partial_fit(small_sim.target[rows], small_sim.background[rows])
    assert np.all(model.background_usage_[:, 3] == 0) and np.all(model.target_usage_[:, 3] > 0)


@pytest.mark.parametrize("n_enriched", [0, 5, 2.5, True])
def test_n_enriched_must_leave_a_shared_topic(small_sim, n_enriched):
    with pytest.raises(ValueError, match="n_enriched"):
        BCNMF(5, n_enriched=n_enriched).fit(small_sim.target, small_sim.background)


@pytest.mark.slow
@pytest.mark.parametrize("n_enriched", [None, 2])
def test_no_more_than_five_percent_of_topics_are_called_when_both_datasets_are_one_population(n_enriched):
    """Target and background drawn from one dataset at random, 20 times: calls are false positives."""
    cells = simulate_contrastive(n_features=400, n_target=2, n_background=600, seed=3).background
    called = tested = 0
    for split in range(20):
        order = np.random.default_rng(split).permutation(cells.shape[0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = BCNMF(5, n_enriched=n_enriched, max_iter=100, random_state=split)
            model.fit(cells[order[:300]], cells[order[300:]])
        called += int((model.enrichment_["label"] == ENRICHED).sum())
        tested += 5
    assert called / tested <= 0.05


@pytest.mark.slow
def test_automatic_labels_are_calibrated_when_both_datasets_are_one_population():
    """One population of cell types split at random, 10 times: the automatic fit labels on cells
    its loadings never saw, so its q-values alone, with no fold-change threshold, call no more
    than 5% of the topics (Benjamini-Hochberg at 5% when nothing differs: a call in at most about one
    split in twenty)."""
    cells = simulate_case_control(n_genes=400, n_target=2, n_background=600, n_responses=0, lost_cell_type=False,
                                  n_genes_down=0, seed=4).background
    significant = tested = splits_with_a_label = 0
    for split in range(10):
        order = np.random.default_rng(split).permutation(cells.shape[0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = BCNMF("auto", n_enriched="auto", alpha=0.0, max_iter=100, random_state=split)
            model.fit(cells[order[:300]], cells[order[300:]])
        significant += int((model.enrichment_["q_value"] < 0.05).sum())
        splits_with_a_label += int((model.enrichment_["label"] != SHARED).any())
        tested += len(model.enrichment_)
    assert significant / tested <= 0.05
    assert splits_with_a_label <= 1

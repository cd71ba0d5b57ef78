"""Choosing the number of topics from the agreement of restarts."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from bcnmf import BCNMF, NMF
from bcnmf.datasets import simulate_contrastive
from bcnmf.evaluation import clustering_ari
from bcnmf.losses import make_loss
from bcnmf.losses.held_out import divergence_at
from bcnmf.selection.rank import (
    consensus_matrix,
    cophenetic_correlation,
    dispersion,
    select_n_components,
    topic_silhouettes,
)


def test_consensus_measures_are_one_for_identical_groupings_and_fall_for_random_ones():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 20)
    same = consensus_matrix([labels, (labels + 1) % 3, labels])  # relabelled, same grouping
    assert np.array_equal(same, labels[:, None] == labels[None, :])
    assert cophenetic_correlation(same) == pytest.approx(1.0) and dispersion(same) == pytest.approx(1.0)
    noisy = consensus_matrix([rng.integers(0, 3, 60) for _ in range(10)])
    assert dispersion(noisy) < 0.6 and cophenetic_correlation(noisy) < 0.9


def test_topic_silhouettes_tell_a_recurring_topic_from_one_that_changes_every_fit():
    rng = np.random.default_rng(1)
    stable = rng.gamma(1.0, 1.0, size=(2, 50))
    fits = []
    for _ in range(6):
        drifting = rng.gamma(1.0, 1.0, size=(1, 50))  # a new third topic each time
        H = np.vstack([stable * rng.uniform(0.95, 1.05, stable.shape), drifting])
        fits.append(H[rng.permutation(3)])  # topic order differs between fits
    silhouettes = np.sort(topic_silhouettes(fits))
    assert silhouettes[0] < 0.3 and silhouettes[1:].min() > 0.9


def test_the_planted_number_of_programs_is_recommended_for_nmf():
    data = simulate_contrastive(n_features=600, n_target=2, n_background=300, n_shared=4, seed=0)
    result = select_n_components(data.background, range(2, 7), n_restarts=5, random_state=0, loss="kl", max_iter=200)
    table = result.table
    assert result.recommended == 4
    assert list(table.index) == [2, 3, 4, 5, 6]
    assert table.loc[4, "min_silhouette"] > 0.9
    assert (table.loc[[5, 6], "min_silhouette"] < 0.75).all()
    # Held-out entries: the loss drops until the planted rank, then flattens.
    assert table.loc[4, "heldout_loss"] < 0.5 * table.loc[3, "heldout_loss"]
    assert table.loc[[5, 6], "heldout_loss"].min() > 0.98 * table.loc[4, "heldout_loss"]
    assert result.cv_recommended >= 4


def test_heldout_loss_is_the_divergence_at_the_left_out_entries():
    rng = np.random.default_rng(0)
    W, H = rng.gamma(1.0, 1.0, (20, 2)), rng.gamma(1.0, 1.0, (2, 15))
    X = rng.poisson(W @ H).astype(np.float64)
    pattern = sp.csr_matrix(rng.random(X.shape) < 0.3)
    loss = make_loss("kl")
    rows, cols = pattern.nonzero()
    direct = loss._div(X, W @ H, slice(None))[rows, cols]
    np.testing.assert_allclose(divergence_at(loss, sp.csr_matrix(X), pattern, W, H), direct, rtol=1e-12)
    np.testing.assert_allclose(divergence_at(loss, X, pattern, W, H), direct, rtol=1e-12)


def test_without_held_out_entries_there_is_no_heldout_loss(small_sim):
    result = select_n_components(small_sim.background, [2, 3], n_restarts=2, heldout_fraction=0.0, random_state=0,
                                 loss="kl", max_iter=50)
    assert result.table["heldout_loss"].isna().all()


def test_bcnmf_rank_selection_prefers_a_small_number_of_contrastive_topics(small_sim):
    result = select_n_components(small_sim.target, [2, 3, 4, 5], X_background=small_sim.background, n_restarts=4,
                                 random_state=0, max_iter=150)
    # Two programs are planted in the target; beyond three topics the restarts stop agreeing.
    assert result.recommended in (2, 3)
    assert result.table.loc[2, "cophenetic"] > 0.99


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"candidates": [1, 2]}, "candidates"),
        ({"candidates": []}, "candidates"),
        ({"n_restarts": 1}, "n_restarts"),
        ({"heldout_fraction": 0.5}, "heldout_fraction"),
        ({"n_components": 3}, "n_components"),
        ({"init": "random"}, "init"),
    ],
)
def test_bad_arguments_are_refused(small_sim, kwargs, message):
    with pytest.raises(ValueError, match=message):
        select_n_components(small_sim.target, **kwargs)


def test_nmf_with_automatic_rank_fits_the_recommended_number_of_topics():
    data = simulate_contrastive(n_features=400, n_target=2, n_background=300, n_shared=4, seed=2)
    model = NMF("auto", loss="kl", max_iter=150, random_state=0).fit(data.background)
    assert model.n_components_ == 4 and model.components_.shape == (4, 400)
    assert list(model.rank_selection_.index) == list(range(2, 11))


@pytest.mark.slow
def test_bcnmf_with_automatic_rank_still_finds_the_target_subgroups(small_sim):
    model = BCNMF("auto", max_iter=150, random_state=0).fit(small_sim.target, small_sim.background)
    # Two programs are planted; from five topics on, restarts split them differently (smallest
    # silhouette below zero), and the choice stops before that.
    assert 2 <= model.n_components_ <= 4
    assert (model.rank_selection_.loc[5:, "min_silhouette"] < 0.75).all()
    assert clustering_ari(model.target_usage_, small_sim.target_labels) >= 0.95


def test_automatic_rank_is_refused_where_it_cannot_run(small_sim):
    with pytest.raises(ValueError, match="n_enriched"):
        BCNMF("auto", n_enriched=1).fit(small_sim.target, small_sim.background)
    with pytest.raises(ValueError, match="in memory"):
        NMF("auto").fit([small_sim.target[:150], small_sim.target[150:]])

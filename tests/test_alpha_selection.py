"""Choosing bcNMF's contrast strength without labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bcnmf import BCNMF
from bcnmf.selection.alpha import _recommend, select_alpha
from bcnmf.datasets import simulate_contrastive
from bcnmf.evaluation import clustering_ari


@pytest.fixture(scope="module")
def buried_signal():
    """Target programs under shared programs four times as strong: too small an alpha misses them."""
    return simulate_contrastive(n_features=1000, n_target=300, n_background=300, beta=4.0, seed=0)


def test_the_recommended_alpha_finds_the_planted_target_subgroups(buried_signal):
    data = buried_signal
    result = select_alpha(data.target, data.background, (0.125, 2.0, 8.0), n_components=2, random_state=0,
                          max_iter=200)
    table = result.table
    assert list(table.index) == [0.125, 2.0, 8.0]
    assert {"n_enriched", "top_log2_fold_change", "heldout_target", "heldout_background", "cophenetic",
            "min_silhouette", "stable"} <= set(table.columns)
    # The weak contrast finds no enriched topic; both stronger ones find the two planted programs,
    # and the smaller of them is recommended.
    assert table.loc[0.125, "n_enriched"] == 0 and (table.loc[[2.0, 8.0], "n_enriched"] == 2).all()
    assert result.recommended == 2.0
    # More contrast costs fit: the target's held-out loss grows with alpha.
    assert table.loc[2.0, "heldout_target"] > 2 * table.loc[0.125, "heldout_target"]
    weak = BCNMF(2, alpha=0.125, random_state=0, max_iter=200).fit_transform(data.target, data.background)
    chosen = BCNMF(2, alpha=result.recommended, random_state=0, max_iter=200).fit_transform(data.target, data.background)
    assert clustering_ari(weak, data.target_labels) < 0.2
    assert clustering_ari(chosen, data.target_labels) > 0.95


def test_alpha_auto_fits_at_the_recommended_alpha_and_keeps_the_table():
    data = simulate_contrastive(n_features=400, n_target=150, n_background=150, beta=1.0, seed=1)
    model = BCNMF(2, alpha="auto", random_state=0, max_iter=60).fit(data.target, data.background)
    table = model.alpha_selection_
    assert list(table.index) == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
    assert model.alpha_ == _recommend(table)
    assert model.get_params()["alpha"] == "auto"


def test_the_recommendation_rule():
    def table(n_enriched, fold_change, stable, used=(0.5, 1.0, 2.0, 4.0)):
        return pd.DataFrame({"n_enriched": n_enriched, "top_log2_fold_change": fold_change, "stable": stable,
                             "alpha_used": used}, index=pd.Index([0.5, 1.0, 2.0, 4.0], name="alpha"))

    # Smallest alpha with the most enriched topics, unstable fits ignored.
    assert _recommend(table([0, 2, 2, 3], [0.1, 1.5, 2.0, 4.0], [True, True, True, False])) == 1.0
    # No enriched topic anywhere: the stable alpha with the largest fold change.
    assert _recommend(table([0, 0, 0, 0], [0.1, 0.6, 0.3, 0.9], [True, True, True, False])) == 1.0
    # Nothing stable: every alpha is a candidate.
    assert _recommend(table([0, 1, 1, 0], [0.1, 1.2, 1.4, 0.2], [False] * 4)) == 1.0
    # An alpha whose fits backed off was never fitted as asked, stable or not: never recommended.
    assert _recommend(table([0, 3, 1, 0], [0.1, 1.2, 1.4, 0.2], [False] * 4, used=(0.5, 0.5, 2.0, 4.0))) == 2.0
    assert _recommend(table([0, 3, 1, 0], [0.1, 1.2, 1.4, 0.2], [False] * 4, used=(0.25, 0.5, 1.0, 1.0))) == 1.0


def test_the_default_recommendation_is_the_same_on_every_run():
    data = simulate_contrastive(n_features=200, n_target=60, n_background=60, seed=3)
    runs = [select_alpha(data.target, data.background, (0.5, 2.0), n_components=2, max_iter=40) for _ in range(2)]
    assert runs[0].recommended == runs[1].recommended
    pd.testing.assert_frame_equal(runs[0].table, runs[1].table)


@pytest.mark.parametrize(
    ("alphas", "kwargs", "message"),
    [
        ((), {}, "alphas is empty"),
        ((1.0, -2.0), {}, "alphas=-2.0 must be > 0"),
        ((1.0,), {"alpha": 2.0}, "alpha is set by select_alpha"),
        ((1.0,), {"n_restarts": 1}, "n_restarts=1 must be an integer >= 2"),
        ((1.0,), {"n_components": 500}, "n_components=500 is larger than X_target allows"),
    ],
)
def test_bad_settings_are_refused_before_any_fit(alphas, kwargs, message):
    rng = np.random.default_rng(0)
    X, Y = rng.poisson(2.0, (20, 30)).astype(float), rng.poisson(2.0, (20, 30)).astype(float)
    kwargs = {"n_components": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        select_alpha(X, Y, alphas, **kwargs)


def test_alpha_auto_needs_fit_on_data_in_memory():
    rng = np.random.default_rng(0)
    X, Y = rng.poisson(2.0, (20, 30)).astype(float), rng.poisson(2.0, (20, 30)).astype(float)
    with pytest.raises(ValueError, match="alpha='auto' .* choose alpha for partial_fit"):
        BCNMF(2, alpha="auto").partial_fit(X, Y)
    with pytest.raises(ValueError, match="cannot be combined with alpha='auto'"):
        BCNMF(2, alpha="auto").fit(X, Y, missing_target=X > 3)
    with pytest.raises(ValueError, match="alpha='auto' refits the model many times"):
        BCNMF(2, alpha="auto", solver="minibatch").fit([X], [Y])
    with pytest.raises(ValueError, match="alpha='fast' must be a finite number"):
        BCNMF(2, alpha="fast").fit(X, Y)

"""The per-topic enrichment table: the statistics it reports and the errors it raises."""

from __future__ import annotations

import numpy as np
import pytest

from bcnmf import topic_enrichment
from bcnmf.enrichment.topics import (
    BACKGROUND_ENRICHED,
    ENRICHED,
    PSEUDO_FRACTION,
    SHARED,
    usage_fractions,
)


def test_a_topic_used_more_by_the_target_is_called_and_the_others_are_not():
    rng = np.random.default_rng(0)
    background = rng.gamma(2.0, 1.0, size=(300, 4))
    target = rng.gamma(2.0, 1.0, size=(200, 4))
    target[:, 2] *= 8.0  # a larger share of every target sample's usage
    table = topic_enrichment(target * 50, background, topic_names=["a", "b", "c", "d"])
    assert list(table.index) == ["a", "b", "c", "d"]
    assert table.loc["c", "label"] == ENRICHED
    assert (table.drop(index="c")["label"] == SHARED).all()
    assert table.loc["c", "q_value"] < 1e-10 and table.loc["c", "auc"] > 0.8
    # Shares, not totals: scaling the target's usages (more counts) changes nothing else.
    np.testing.assert_allclose(table["share_target"].sum(), 1.0)
    # Fold changes against the typical topic: c's growth shrinks every other share by the same
    # factor, which is no difference of theirs.
    raw = np.log2((table["share_target"] + PSEUDO_FRACTION) / (table["share_background"] + PSEUDO_FRACTION))
    np.testing.assert_allclose(table["log2_fold_change"], raw - np.median(raw), atol=0.01)
    assert table.drop(index="c")["log2_fold_change"].abs().max() < 0.3
    uncentred = topic_enrichment(target * 50, background, reference_topics=None, topic_names=["a", "b", "c", "d"])
    assert (uncentred.drop(index="c")["label"] == BACKGROUND_ENRICHED).all()


def test_a_significant_but_small_increase_is_shared_until_the_fold_change_threshold_is_lowered():
    rng = np.random.default_rng(1)
    background = rng.gamma(2.0, 1.0, size=(2000, 3))
    target = rng.gamma(2.0, 1.0, size=(2000, 3))
    target[:, 0] *= 1.3
    strict = topic_enrichment(target, background)
    assert strict.loc["topic_0", "q_value"] < 1e-6 and strict.loc["topic_0", "label"] == SHARED
    assert topic_enrichment(target, background, min_log2_fold_change=0.0).loc["topic_0", "label"] == ENRICHED


def test_a_topic_lost_in_the_target_is_background_enriched():
    rng = np.random.default_rng(2)
    background = rng.gamma(2.0, 1.0, size=(300, 3))
    target = rng.gamma(2.0, 1.0, size=(300, 3))
    target[:, 1] /= 4.0  # depleted in the target: a program the target lost
    table = topic_enrichment(target, background)
    assert table.loc["topic_1", "label"] == BACKGROUND_ENRICHED
    assert table.loc["topic_1", "q_value"] < 1e-10 and table.loc["topic_1", "auc"] < 0.3
    assert table.loc["topic_1", "log2_fold_change"] < -1
    assert (table.drop(index="topic_1")["label"] == SHARED).all()


def test_fractions_of_usage_sums_or_of_given_totals():
    W = np.array([[1.0, 3.0], [0.0, 0.0]])
    np.testing.assert_allclose(usage_fractions(W), [[0.25, 0.75], [0.0, 0.0]])
    np.testing.assert_allclose(usage_fractions(W, np.array([8.0, 5.0])), [[0.125, 0.375], [0.0, 0.0]])
    with pytest.raises(ValueError, match="one value per sample"):
        usage_fractions(W, np.ones(3))


@pytest.mark.parametrize(
    ("target", "background", "kwargs", "message"),
    [
        (np.ones((5, 3)), np.ones((5, 2)), {}, "same number of topics"),
        (np.ones((1, 3)), np.ones((5, 3)), {}, "at least two"),
        (np.ones((5, 3)), np.ones((5, 3)), {"fdr": 1.5}, "fdr"),
        (np.ones((5, 3)), np.ones((5, 3)), {"topic_names": ["x"]}, "topic_names"),
        (np.ones((5, 3)), np.ones((5, 3)), {"reference_topics": [7]}, "reference_topics"),
        (np.ones((5, 3)), np.ones((5, 3)), {"reference_topics": np.zeros(3, dtype=bool)}, "selects no topic"),
    ],
)
def test_bad_input_is_refused_with_the_argument_named(target, background, kwargs, message):
    with pytest.raises(ValueError, match=message):
        topic_enrichment(target, background, **kwargs)


def test_fit_statistics_measure_what_the_topics_explain_and_flag_a_poor_fit():
    from bcnmf.enrichment.topics import (
        MIN_EXPLAINED_SHARE,
        NOT_LABELLED,
        fit_statistics,
        withhold_labels,
    )

    usage = np.full((4, 2), 10.0)
    good = fit_statistics(usage, usage, target_totals=np.full(4, 25.0), background_totals=np.full(4, 20.0))
    np.testing.assert_allclose(good["explained_share"], [0.8, 1.0])
    assert list(good.index) == ["target", "background"] and list(good["samples"]) == [4, 4]
    assert not good["poor_fit"].any()
    table = topic_enrichment(usage * [1.0, 3.0], usage)
    assert withhold_labels(table, good) is table
    # A background left to the floor is what the contrast asks for: not flagged.
    contrasted = fit_statistics(usage, usage, target_totals=np.full(4, 25.0), background_totals=np.full(4, 200.0))
    assert contrasted.loc["background", "explained_share"] < MIN_EXPLAINED_SHARE
    assert not contrasted["poor_fit"].any()
    # The target's topics model a twentieth of its counts: nothing can be said of the programs.
    poor = fit_statistics(usage, usage, target_totals=np.full(4, 200.0), background_totals=np.full(4, 20.0))
    assert poor.loc["target", "explained_share"] < MIN_EXPLAINED_SHARE and poor["poor_fit"].tolist() == [True, False]
    withheld = withhold_labels(table, poor)
    assert (withheld["label"] == NOT_LABELLED).all()
    np.testing.assert_array_equal(withheld["q_value"], table["q_value"])

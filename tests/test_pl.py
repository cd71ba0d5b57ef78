"""Plots: each draws what it should from the AnnData and saves where asked."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import bcnmf  # noqa: E402
from bcnmf.datasets import simulate_contrastive  # noqa: E402
from helpers import one_object  # noqa: E402


@pytest.fixture(scope="module")
def fitted():
    data = simulate_contrastive(n_features=300, n_target=120, n_background=120, beta=2.0, seed=0)
    adata = one_object(data)
    adata.obs["depth"] = np.asarray(adata.X.sum(axis=1)).ravel()
    bcnmf.tl.bcnmf(adata, "condition", "MDD", "Control", n_components=3, max_iter=100)
    top = list(bcnmf.get.top_features(adata, n=20).query("topic == 'topic_0'")["feature"])
    bcnmf.tl.enrich(adata, {"TOP0": top, "OTHER": list(adata.var_names[-30:])}, n_top=20)
    return adata


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_objective_curve_draws_the_stored_values(fitted):
    fig = bcnmf.pl.objective(fitted, return_fig=True)
    x, y = fig.axes[0].lines[0].get_data()
    np.testing.assert_array_equal(y, fitted.uns["bcnmf"]["objective"])
    np.testing.assert_array_equal(x, fitted.uns["bcnmf"]["objective_iterations"])


def test_usage_by_condition_has_one_panel_per_topic_and_the_conditions_as_ticks(fitted):
    fig = bcnmf.pl.usage_by_condition(fitted, return_fig=True)
    assert len(fig.axes) == 3
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["MDD", "Control", "Other"]
    fig = bcnmf.pl.usage_by_condition(fitted, topics=["topic_1"], kind="box", return_fig=True)
    assert [ax.get_title() for ax in fig.axes] == ["topic_1"]


def test_top_features_lists_the_largest_loadings(fitted):
    fig = bcnmf.pl.top_features(fitted, n=5, return_fig=True)
    expected = bcnmf.get.top_features(fitted, n=5).query("topic == 'topic_2'")["feature"].tolist()
    ax = fig.axes[2]
    assert [t.get_text() for t in ax.get_yticklabels()] == expected
    assert ax.get_yticks()[0] == max(ax.get_yticks())  # the largest on top


def test_embedding_colours_by_categories_or_numbers(fitted, tmp_path):
    axes = bcnmf.pl.embedding(fitted, color="condition", show=False)
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["MDD", "Control", "Other"]
    fig = bcnmf.pl.embedding(fitted, color="depth", topics=["topic_0", "topic_1"], return_fig=True)
    assert len(fig.axes) == 2 and fig.axes[0].get_xlabel() == "topic_0"  # the scatter and its colour bar
    path = tmp_path / "embedding.png"
    bcnmf.pl.embedding(fitted, color="condition", save=path, show=False)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_enrichment_dotplot_shows_the_significant_sets(fitted):
    fig = bcnmf.pl.enrichment_dotplot(fitted, return_fig=True)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "TOP0" in labels and "OTHER" not in labels


def test_selection_curves_mark_the_recommendation(fitted):
    adata = fitted.copy()
    bcnmf.tl.select_k(adata, "condition", "MDD", "Control", candidates=[2, 3], n_restarts=2, max_iter=40)
    fig = bcnmf.pl.selection(adata, which="k", return_fig=True)
    assert len(fig.axes) == 3
    assert fig.axes[0].lines[1].get_xdata()[0] == adata.uns["bcnmf_select_k"]["recommended"]
    with pytest.raises(ValueError, match="run bcnmf.tl.select_alpha"):
        bcnmf.pl.selection(adata, which="alpha")


def test_missing_results_and_bad_arguments_are_named(fitted):
    with pytest.raises(KeyError, match="no results under key 'nmf'"):
        bcnmf.pl.objective(fitted, key="nmf")
    with pytest.raises(ValueError, match="groupby='tissue' is not a column"):
        bcnmf.pl.usage_by_condition(fitted, groupby="tissue")
    with pytest.raises(ValueError, match="topics \\['topic_9'\\] are not among"):
        bcnmf.pl.top_features(fitted, topics=["topic_9"])
    with pytest.raises(ValueError, match="kind='bar'"):
        bcnmf.pl.usage_by_condition(fitted, kind="bar")


def test_scanpy_draws_the_usages_as_an_embedding(fitted):
    sc = pytest.importorskip("scanpy")  # optional for users; the test extra installs it
    axes = sc.pl.embedding(fitted, basis="X_bcnmf", color="condition", show=False)
    assert axes.get_xlabel() == "X_bcnmf1" and axes.get_ylabel() == "X_bcnmf2"
    offsets = axes.collections[0].get_offsets()
    assert len(offsets) == fitted.n_obs

"""AnnData functions: where results go, what they hold, and what bad input gets."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import bcnmf
from bcnmf.datasets import simulate_contrastive
from bcnmf.evaluation import clustering_ari
from helpers import one_object

FIT = {"max_iter": 150}


@pytest.fixture(scope="module")
def simulated():
    return simulate_contrastive(n_features=400, n_target=150, n_background=150, beta=2.0, seed=0)


def test_results_land_where_scanpy_users_look(simulated):
    adata = one_object(simulated)
    assert bcnmf.tl.bcnmf(adata, "condition", "MDD", "Control", n_components=2, **FIT) is None
    usages = adata.obsm["X_bcnmf"]
    assert usages.shape == (adata.n_obs, 2) and np.isfinite(usages).all()
    assert adata.varm["bcnmf_loadings"].shape == (adata.n_vars, 2)
    results = adata.uns["bcnmf"]
    assert list(results["topic_names"]) == ["topic_0", "topic_1"]
    assert results["params"]["condition_key"] == "condition" and results["alpha"] == 1.0
    assert results["objective"].size == results["objective_iterations"].size > 1
    assert list(results["enrichment"].index) == ["topic_0", "topic_1"]
    # The target cells' usages separate the planted subgroups; the background's are the model's.
    target = (adata.obs["condition"] == "MDD").to_numpy()
    assert clustering_ari(usages[target], simulated.target_labels) > 0.95
    model = bcnmf.BCNMF(2, random_state=0, **FIT).fit(simulated.target, simulated.background)
    np.testing.assert_allclose(usages[target], model.target_usage_, rtol=1e-5)
    background = (adata.obs["condition"] == "Control").to_numpy()
    np.testing.assert_allclose(usages[background], model.background_usage_, rtol=1e-5)
    # Cells of neither condition get usages with the loadings fixed.
    np.testing.assert_allclose(usages[-10:], model.transform(simulated.background[:10]), rtol=1e-4)


def test_top_features_and_tables_read_back(simulated, tmp_path):
    adata = one_object(simulated)
    bcnmf.tl.bcnmf(adata, "condition", ["MDD"], "Control", n_components=2, **FIT)
    top = bcnmf.get.top_features(adata, n=5)
    assert list(top.columns) == ["topic", "rank", "feature", "loading"] and len(top) == 10
    assert (top.groupby("topic")["loading"].apply(lambda x: x.is_monotonic_decreasing)).all()
    loadings = bcnmf.get.loadings(adata)
    assert loadings.shape == (2, adata.n_vars) and np.allclose(loadings.sum(axis=1), 1.0, atol=1e-4)
    # The results survive a round trip through .h5ad.
    path = tmp_path / "result.h5ad"
    adata.write_h5ad(path)
    back = ad.read_h5ad(path)
    pd.testing.assert_frame_equal(bcnmf.get.loadings(back), loadings)
    pd.testing.assert_frame_equal(back.uns["bcnmf"]["enrichment"], adata.uns["bcnmf"]["enrichment"])
    pd.testing.assert_frame_equal(back.uns["bcnmf"]["fit_statistics"], adata.uns["bcnmf"]["fit_statistics"])
    pd.testing.assert_frame_equal(bcnmf.get.shares(back), bcnmf.get.shares(adata))


def test_shares_are_the_quantity_of_the_table_and_the_fit_statistics(simulated):
    adata = one_object(simulated)
    bcnmf.tl.bcnmf(adata, "condition", "MDD", "Control", n_components=2, **FIT)
    shares = bcnmf.get.shares(adata)
    results = adata.uns["bcnmf"]
    totals = np.asarray(adata.X.sum(axis=1)).ravel()
    for condition, name in (("MDD", "target"), ("Control", "background")):
        cells = (adata.obs["condition"] == condition).to_numpy()
        np.testing.assert_allclose(shares[cells].mean().to_numpy(), results["enrichment"][f"share_{name}"], rtol=1e-5)
        explained = (shares[cells].sum(axis=1) * totals[cells]).sum() / totals[cells].sum()
        np.testing.assert_allclose(explained, results["fit_statistics"].loc[name, "explained_share"], rtol=1e-5)
    assert not results["fit_statistics"]["poor_fit"].any()


def test_copy_leaves_the_original_untouched(simulated):
    adata = one_object(simulated)
    result = bcnmf.tl.bcnmf(adata, "condition", "MDD", "Control", n_components=2, copy=True, **FIT)
    assert "X_bcnmf" in result.obsm and "X_bcnmf" not in adata.obsm and "bcnmf" not in adata.uns


def test_two_objects_are_matched_by_feature_name(simulated):
    one = one_object(simulated, n_other=0)
    bcnmf.tl.bcnmf(one, "condition", "MDD", "Control", n_components=2, **FIT)
    target = one[one.obs["condition"] == "MDD"].copy()
    background = one[one.obs["condition"] == "Control"].copy()
    shuffled = background[:, np.random.default_rng(0).permutation(background.n_vars)].copy()
    del target.obsm["X_bcnmf"], shuffled.obsm["X_bcnmf"]
    bcnmf.tl.bcnmf(target, adata_background=shuffled, n_components=2, **FIT)
    np.testing.assert_allclose(target.obsm["X_bcnmf"], one.obsm["X_bcnmf"][: target.n_obs], rtol=1e-5)
    np.testing.assert_allclose(shuffled.obsm["X_bcnmf"], one.obsm["X_bcnmf"][target.n_obs:], rtol=1e-5)


def test_highly_variable_features_are_used_when_marked(simulated):
    adata = one_object(simulated)
    adata.var["highly_variable"] = np.arange(adata.n_vars) < 300
    bcnmf.tl.bcnmf(adata, "condition", "MDD", "Control", n_components=2, layer=None, **FIT)
    assert not adata.varm["bcnmf_loadings"][300:].any() and adata.varm["bcnmf_loadings"][:300].any()
    assert bcnmf.get.loadings(adata).shape == (2, 300)
    bcnmf.tl.bcnmf(adata, "condition", "MDD", "Control", n_components=2, mask_var=None, key_added="all", **FIT)
    assert adata.varm["all_loadings"][300:].any()


def test_layers_and_plain_nmf(simulated):
    adata = one_object(simulated)
    adata.layers["counts"] = adata.X.copy()
    adata.X = np.log1p(adata.X)
    bcnmf.tl.nmf(adata, 3, layer="counts", loss="kl", **FIT)
    assert adata.obsm["X_nmf"].shape == (adata.n_obs, 3)
    assert adata.uns["nmf"]["params"]["layer"] == "counts"
    model = bcnmf.NMF(3, loss="kl", random_state=0, **FIT).fit(adata.layers["counts"])
    np.testing.assert_allclose(bcnmf.get.loadings(adata, "nmf").to_numpy(), model.components_, rtol=1e-4)


def test_selection_tables_are_kept(simulated):
    adata = one_object(simulated)
    bcnmf.tl.select_k(adata, "condition", "MDD", "Control", candidates=[2, 3], n_restarts=2, max_iter=50)
    assert list(adata.uns["bcnmf_select_k"]["table"].index) == [2, 3]
    assert adata.uns["bcnmf_select_k"]["recommended"] in (2, 3)
    bcnmf.tl.select_alpha(adata, "condition", "MDD", "Control", n_components=2, alphas=[0.5, 2.0], n_restarts=2,
                          max_iter=50)
    assert list(adata.uns["bcnmf_select_alpha"]["table"].index) == [0.5, 2.0]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"condition_key": "disease"}, ValueError, "condition_key='disease' is not a column of adata.obs"),
        ({"target": "AD"}, ValueError, "target='AD': no cell has obs\\['condition'\\] == 'AD' .*'MDD'"),
        ({"background": "MDD"}, ValueError, "target and background share condition values"),
        ({"layer": "raw"}, ValueError, "layer='raw' is not in adata.layers"),
        ({"mask_var": "hvg"}, ValueError, "mask_var='hvg' is not a column of adata.var"),
        ({"condition_key": None}, ValueError, "give condition_key="),
        ({"n_components": 0}, ValueError, "n_components=0 must be a positive integer"),
    ],
)
def test_bad_input_is_named_and_nothing_is_written(simulated, kwargs, error, message):
    adata = one_object(simulated)
    arguments = {"condition_key": "condition", "target": "MDD", "background": "Control", **kwargs}
    with pytest.raises(error, match=message):
        bcnmf.tl.bcnmf(adata, n_components=kwargs.get("n_components", 2), **{k: v for k, v in arguments.items()
                                                                            if k != "n_components"})
    assert "X_bcnmf" not in adata.obsm and "bcnmf" not in adata.uns


def test_duplicate_gene_names_are_refused(simulated):
    import warnings

    adata = one_object(simulated)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # anndata warns about the names it is given
        adata.var_names = ["gene"] * 2 + list(adata.var_names[2:])
    with pytest.raises(ValueError, match=r"1 feature names used more than once \('gene'\).*var_names_make_unique"):
        bcnmf.tl.bcnmf(adata, "condition", "MDD", "Control", n_components=2)
    with pytest.raises(ValueError, match="var_names_make_unique"):
        bcnmf.tl.nmf(adata, 2)
    assert "X_bcnmf" not in adata.obsm and "X_nmf" not in adata.obsm


def test_background_without_the_target_features_is_refused(simulated):
    adata = one_object(simulated, n_other=0)
    target = adata[:150].copy()
    background = adata[150:, :390].copy()
    with pytest.raises(ValueError, match="10 feature\\(s\\) of adata are not in adata_background .*'g390'"):
        bcnmf.tl.bcnmf(target, adata_background=background, n_components=2)
    with pytest.raises(TypeError, match="adata_background must be an AnnData"):
        bcnmf.tl.bcnmf(target, adata_background=background.X, n_components=2)


def test_enrich_tests_the_topics_against_gene_sets(simulated):
    adata = one_object(simulated)
    bcnmf.tl.bcnmf(adata, "condition", "MDD", "Control", n_components=2, **FIT)
    loadings = bcnmf.get.loadings(adata)
    top0 = list(loadings.columns[np.argsort(-loadings.iloc[0].to_numpy())[:30]])
    sets = {"TOP_OF_TOPIC_0": top0, "RANDOM": list(adata.var_names[::20][:20])}
    table = bcnmf.tl.enrich(adata, sets, n_top=30)
    best = table[(table.topic == "topic_0") & (table.test == "ora")].iloc[0]
    assert best.gene_set == "TOP_OF_TOPIC_0" and best.q_value < 1e-10
    assert adata.uns["bcnmf"]["gene_set_enrichment"] is table
    with pytest.raises(KeyError, match="no results under key 'nmf'"):
        bcnmf.tl.enrich(adata, sets, key="nmf")

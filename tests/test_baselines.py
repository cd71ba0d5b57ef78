"""Contrastive PCA: finds what PCA misses, chooses alpha without labels, refuses bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score

from bcnmf.estimators.contrastive_pca import ContrastivePCA, subspace_affinity
from bcnmf.datasets import mice_protein


def kmeans_ari(Z, labels) -> float:
    """ARI of KMeans on the raw projection (cPCA outputs are signed, so not row-normalised)."""
    clusters = KMeans(len(np.unique(labels)), n_init=10, random_state=0).fit_predict(Z)
    return adjusted_rand_score(labels, clusters)


@pytest.fixture(scope="module")
def hidden_clusters():
    """The cPCA paper's toy: four target clusters in low-variance features, swamped by
    high-variance features that the background shares."""
    rng = np.random.default_rng(0)
    n, gap = 400, 3.0
    background = np.hstack([rng.normal(0, 10, (n, 10)), rng.normal(0, 3, (n, 10)), rng.normal(0, 1, (n, 10))])
    labels = np.repeat(np.arange(4), n // 4)
    target = np.hstack([rng.normal(0, 10, (n, 10)), rng.normal(0, 1, (n, 10)), rng.normal(0, 1, (n, 10))])
    target[:, 10:20] += 2 * gap * (labels[:, None] >= 2)
    target[:, 20:30] += gap * (labels[:, None] % 2 == 1)
    return target, background, labels


def test_automatic_alpha_finds_the_clusters_that_pca_misses(hidden_clusters):
    target, background, labels = hidden_clusters
    model = ContrastivePCA(2, random_state=0)
    Z = model.fit_transform(target, background)
    assert kmeans_ari(Z, labels) > 0.9
    assert kmeans_ari(PCA(2).fit_transform(target), labels) < 0.2
    assert model.alpha_ > 0 and model.alpha_ in model.alphas_ and len(model.alphas_) == 4
    np.testing.assert_allclose(model.components_ @ model.components_.T, np.eye(2), atol=1e-10)


def test_alpha_zero_is_pca_of_the_target(hidden_clusters):
    target, background, _ = hidden_clusters
    model = ContrastivePCA(3, alpha=0.0, standardize=False).fit(target, background)
    assert subspace_affinity(model.components_, PCA(3).fit(target).components_) > 0.999


def test_sparse_input_gives_the_dense_result(hidden_clusters):
    target, background, _ = hidden_clusters
    positive_t, positive_b = np.abs(target), np.abs(background)
    dense = ContrastivePCA(2, alpha=5.0).fit(positive_t, positive_b)
    sparse = ContrastivePCA(2, alpha=5.0).fit(sp.csr_matrix(positive_t), sp.csr_matrix(positive_b))
    np.testing.assert_allclose(np.abs(sparse.transform(positive_t)), np.abs(dense.transform(positive_t)), atol=1e-8)


def test_on_mice_protein_standardized_cpca_separates_genotypes_and_pca_does_not():
    data = mice_protein()
    Z = ContrastivePCA(2, random_state=0).fit_transform(data.target, data.background)
    assert kmeans_ari(Z, data.target_labels) > 0.5
    assert kmeans_ari(PCA(2).fit_transform(data.target), data.target_labels) < 0.1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"alpha": -1.0}, "alpha"),
        ({"alpha": "best"}, "alpha"),
        ({"n_components": 0}, "n_components"),
        ({"n_components": 31}, "n_components"),
        ({"alpha_grid": [0.0, 1.0]}, "alpha_grid"),
        ({"n_alpha_groups": 0}, "n_alpha_groups"),
    ],
)
def test_bad_parameters_are_refused(hidden_clusters, params, message):
    target, background, _ = hidden_clusters
    with pytest.raises(ValueError, match=message):
        ContrastivePCA(**params).fit(target, background)


def test_bad_data_is_refused(hidden_clusters):
    target, background, _ = hidden_clusters
    with pytest.raises(ValueError, match="features"):
        ContrastivePCA().fit(target, background[:, :20])
    broken = target.copy()
    broken[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ContrastivePCA().fit(broken, background)
    with pytest.raises(ValueError, match="features"):
        ContrastivePCA(alpha=1.0).fit(target, background).transform(target[:, :5])

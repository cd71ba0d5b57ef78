"""Starting factors: the pooled row space found without stacking the data."""

from __future__ import annotations

import tracemalloc

import numpy as np
import scipy.sparse as sp

from bcnmf.backend.blocks import ArraySource
from bcnmf.models.starts import contrastive_loadings, pooled_row_space


def test_pooled_row_space_spans_the_leading_singular_vectors_of_the_stacked_blocks():
    rng = np.random.default_rng(0)
    # Rank-6 signal plus small noise, split unevenly into a sparse and a dense block.
    X = rng.gamma(1.0, 1.0, (300, 6)) @ rng.gamma(1.0, 1.0, (6, 80)) + 0.01 * rng.random((300, 80))
    sources = [ArraySource(sp.csr_matrix(X[:110])), ArraySource(X[110:])]
    Vt = pooled_row_space(sources, 6, np.random.default_rng(1), np.float64)
    reference = np.linalg.svd(X, full_matrices=False)[2][:6]
    assert Vt.shape == (6, 80)
    np.testing.assert_allclose(Vt @ Vt.T, np.eye(6), atol=1e-10)
    # Same subspace: the singular values of the overlap are the cosines of the principal angles.
    cosines = np.linalg.svd(Vt @ reference.T, compute_uv=False)
    assert cosines.min() > 0.999


def test_contrastive_start_is_the_same_in_small_blocks_and_leaves_the_data_alone(monkeypatch):
    rng = np.random.default_rng(0)
    Xt = sp.random(400, 60, density=0.2, format="csr", random_state=rng, dtype=np.float32)
    Xt.data = rng.poisson(4.0, Xt.nnz).astype(np.float32) + 1
    Xb = np.asarray(rng.poisson(1.0, (300, 60)), dtype=np.float32)
    kept_t, kept_b = Xt.copy(), Xb.copy()
    whole = contrastive_loadings(Xt, Xb, 4, np.random.default_rng(3), np.float32, log_transform=True)
    monkeypatch.setattr("bcnmf.models.starts.BLOCK_ENTRIES", 500)  # about 30 blocks per dataset
    blocked = contrastive_loadings(Xt, Xb, 4, np.random.default_rng(3), np.float32, log_transform=True)
    np.testing.assert_allclose(blocked, whole, rtol=1e-3, atol=1e-6)
    assert (Xt != kept_t).nnz == 0 and np.array_equal(Xb, kept_b)


def test_pooled_row_space_holds_one_features_by_size_factor_at_a_time():
    # Many features and few rows: the features x (rank + oversample) factors dominate, and the
    # power iterations and the final product must not hold two of them at once.
    n_features, rank, oversample = 40_000, 20, 10
    X = sp.random(200, n_features, density=0.01, format="csr", random_state=0, dtype=np.float32)
    factor = n_features * (rank + oversample) * 4
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        Vt = pooled_row_space([ArraySource(X)], rank, np.random.default_rng(0), np.float32)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert Vt.shape == (rank, n_features)
    assert peak < 1.5 * factor, f"peak {peak / 2**20:.1f} MiB for a {factor / 2**20:.1f} MiB factor"

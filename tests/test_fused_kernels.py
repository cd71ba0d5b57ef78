"""The fused sparse kernels against plain dense computations: every entry rule, both precisions,
ranks that are and are not a multiple of the SIMD width, rows without entries, and the fused KL
usage sweep against a usage step followed by the loadings' parts."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from bcnmf.backend import fused
from bcnmf.backend.fused import (
    BETA,
    KL,
    NB,
    ZINB,
    thread_bounds,
    kl_usage_sweep,
    make_rule,
    sparse_h_parts,
    sparse_w_parts,
)
from bcnmf.engine import Term, usage_step
from bcnmf.losses import make_loss
from bcnmf.losses.penalty import Penalty


def _data(n=60, p=45, k=11, density=0.2, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, format="csr", random_state=seed, dtype=np.float64)
    X.data[:] = rng.poisson(3.0, X.nnz) + 1
    X = X.tolil()
    X[5, :] = 0  # a row with no stored entries
    X = X.tocsr().astype(dtype)
    X.eliminate_zeros()
    W = rng.uniform(0.1, 1.0, (n, k)).astype(dtype)
    H = rng.uniform(0.1, 1.0, (k, p)).astype(dtype)
    return X, W, H


def _coefficients(mode, x, v, r, pi):
    """The coefficients the kernels should use, written directly (float64)."""
    if mode == KL:
        return x / v, 0.0 * x
    if mode == BETA:
        return x * v ** (1.5 - 2.0), 0.0 * x
    if mode == NB:
        return x / v, x / (v + r)
    keep = 1.0 - pi / (pi + (1.0 - pi) * (r / (r + v)) ** r)
    return x / v, (x + r) / (v + r) - keep * r / (v + r)


@pytest.mark.parametrize("tile_bytes", [fused.TILE_BYTES, 64])
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 2e-4)])
@pytest.mark.parametrize("mode", [KL, BETA, NB, ZINB])
@pytest.mark.parametrize("k", [3, 8, 11, 70, 130])
def test_kernels_match_dense_products(mode, k, dtype, rtol, tile_bytes, monkeypatch):
    """Also with tiny feature tiles (8 features each), so rows span many tiles."""
    monkeypatch.setattr(fused, "TILE_BYTES", tile_bytes)
    X, W, H = _data(k=k, dtype=dtype)
    offset = np.linspace(0.01, 0.05, X.shape[1])
    r, pi = np.linspace(0.5, 4.0, X.shape[1]), np.linspace(0.05, 0.3, X.shape[1])
    rule = make_rule(mode, X.shape[1], dtype, offset=offset, size=r, zero_inflation=pi, power=-0.5)
    dense = X.toarray().astype(np.float64)
    V = W.astype(np.float64) @ H.astype(np.float64) + offset
    a, b = _coefficients(mode, dense, V, r, pi)
    a, b = a * (dense > 0), b * (dense > 0)

    w_neg, w_pos = sparse_w_parts(X, W, H, rule)
    h_neg, h_pos = sparse_h_parts(X, W, H, rule)
    np.testing.assert_allclose(w_neg, a @ H.T, rtol=rtol, atol=1e-6 * np.abs(a @ H.T).max())
    np.testing.assert_allclose(h_neg, W.T @ a, rtol=rtol, atol=1e-6 * np.abs(W.T @ a).max())
    assert w_neg.dtype == dtype and h_neg.shape == H.shape
    if mode in (NB, ZINB):
        np.testing.assert_allclose(w_pos, b @ H.T, rtol=rtol, atol=1e-6 * np.abs(b @ H.T).max())
        np.testing.assert_allclose(h_pos, W.T @ b, rtol=rtol, atol=1e-6 * np.abs(W.T @ b).max())
    else:
        assert w_pos is None and h_pos is None
    assert np.all(w_neg[5] == 0)


@pytest.mark.parametrize("tile_bytes", [fused.TILE_BYTES, 64])
@pytest.mark.parametrize("penalty", [Penalty(), Penalty(l1=0.3, l2=0.2)])
def test_kl_sweep_equals_a_usage_step_then_the_loadings_parts(penalty, tile_bytes, monkeypatch):
    monkeypatch.setattr(fused, "TILE_BYTES", tile_bytes)
    X, W, H = _data(k=7)
    loss = make_loss("kl", offset=np.full(X.shape[1], 0.02))
    reference = Term(X.toarray(), W.copy(), loss, penalty=penalty)
    expected_neg, expected_pos = usage_step(reference, H, loadings_parts=True)

    swept = Term(X, W.copy(), loss, penalty=penalty)
    neg, pos = usage_step(swept, H, loadings_parts=True)
    np.testing.assert_allclose(swept.W, reference.W, rtol=1e-10)
    np.testing.assert_allclose(neg, expected_neg, rtol=1e-10)
    np.testing.assert_allclose(pos, expected_pos, rtol=1e-10)


def test_unsorted_column_indices_give_the_same_parts():
    X, W, H = _data(k=5)
    rule = make_rule(NB, X.shape[1], np.float64, size=np.full(X.shape[1], 2.0))
    shuffled = X.copy()
    for i in range(X.shape[0]):
        segment = slice(X.indptr[i], X.indptr[i + 1])
        order = np.random.default_rng(i).permutation(X.indptr[i + 1] - X.indptr[i])
        shuffled.indices[segment] = X.indices[segment][order]
        shuffled.data[segment] = X.data[segment][order]
    shuffled.has_sorted_indices = False
    for got, expected in zip(sparse_h_parts(shuffled, W, H, rule), sparse_h_parts(X, W, H, rule)):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_kl_sweep_refuses_a_non_contiguous_usage_array():
    X, W, H = _data(k=4)
    with pytest.raises(ValueError, match="C-contiguous"):
        kl_usage_sweep(X, np.asfortranarray(W), H, np.zeros(X.shape[1]), H.sum(axis=1))


def test_thread_blocks_cover_every_row_once():
    X, _, _ = _data(n=101)
    bounds = thread_bounds(X)
    assert bounds[0] == 0 and bounds[-1] == X.shape[0]
    assert np.all(np.diff(bounds) >= 0)

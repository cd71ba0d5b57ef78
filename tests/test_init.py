"""Starting factors: the pooled row space found without stacking the data."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from bcnmf.init import pooled_row_space


def test_pooled_row_space_spans_the_leading_singular_vectors_of_the_stacked_blocks():
    rng = np.random.default_rng(0)
    # Rank-6 signal plus small noise, split unevenly into a sparse and a dense block.
    X = rng.gamma(1.0, 1.0, (300, 6)) @ rng.gamma(1.0, 1.0, (6, 80)) + 0.01 * rng.random((300, 80))
    blocks = [sp.csr_matrix(X[:110]), X[110:]]
    Vt = pooled_row_space(blocks, 6, np.random.default_rng(1))
    reference = np.linalg.svd(X, full_matrices=False)[2][:6]
    assert Vt.shape == (6, 80)
    np.testing.assert_allclose(Vt @ Vt.T, np.eye(6), atol=1e-10)
    # Same subspace: the singular values of the overlap are the cosines of the principal angles.
    cosines = np.linalg.svd(Vt @ reference.T, compute_uv=False)
    assert cosines.min() > 0.999

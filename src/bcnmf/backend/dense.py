"""Kernels over dense blocks that NumPy would run as several passes with temporaries."""

from __future__ import annotations

import numba
import numpy as np

from bcnmf.backend.namespace import array_namespace, is_torch, to_float


@numba.njit(parallel=True, fastmath=True, error_model="numpy", cache=True, nogil=True)
def _squared_distance(X, V):  # pragma: no cover - compiled
    totals = np.zeros(X.shape[0])
    for i in numba.prange(X.shape[0]):
        total = 0.0
        for j in range(X.shape[1]):
            d = np.float64(X[i, j]) - np.float64(V[i, j])
            total += d * d
        totals[i] = total
    return totals.sum()


def squared_distance(X, V) -> float:
    """``||X - V||_F^2`` of two dense blocks of the same shape, accumulated in float64.

    One pass over both blocks with no temporary: NumPy's ``X - V`` followed by a float64 copy for
    the sum took 10x as long on a 1,400 x 3,000 float32 block.
    """
    if X.shape != V.shape:
        raise ValueError(f"squared_distance needs blocks of one shape, got {X.shape} and {V.shape}")
    if is_torch(X):
        xp = array_namespace(X)
        return to_float(xp.sum(xp.astype(X - V, xp.float64) ** 2))
    return float(_squared_distance(X, V))

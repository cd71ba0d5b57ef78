"""Coordinate sweeps of non-negative quadratic problems, the kernel of HALS / coordinate descent.

Both sub-problems of squared-error NMF are, row by row, ``min_{f >= 0} 0.5 f G f - a . f`` with a
small ``k x k`` matrix ``G`` shared by every row: the usages with ``G = H H^T`` and ``a`` a row of
``X H^T``, the loadings (columns of ``H``) with ``G = W^T W`` and ``a`` a column of ``W^T X``. The
rows are independent, so they run in parallel; the coordinates of one row are swept in turn
(Gauss-Seidel), each moved to the minimum of the problem along it, clipped at zero.
"""

from __future__ import annotations

import numba
import numpy as np

_JIT = {"fastmath": True, "error_model": "numpy", "cache": True, "nogil": True}


@numba.njit(parallel=True, **_JIT)
def _sweeps(F, A, G, curvature, l1, l2, allowed, max_sweeps, tol):  # pragma: no cover - compiled
    n, k = F.shape
    for i in numba.prange(n):
        f = F[i]
        a = A[i]
        zero = l1 - l1  # zero in F's dtype: a literal 0 would turn the row's arithmetic to float64
        first = 0.0
        for sweep in range(max_sweeps):
            change = 0.0
            for j in range(k):
                c = curvature[j]
                if not allowed[j] or c <= 0:
                    continue
                g = l1 + l2 * f[j] - a[j]
                for q in range(k):
                    g += G[j, q] * f[q]
                new = max(f[j] - g / c, zero)
                step = new - f[j]
                change += step * step
                f[j] = new
            # Accelerated HALS (Gillis & Glineur 2012): more sweeps are cheap next to the products
            # that built A and G, and worth it while they still move the row.
            if sweep == 0:
                first = change
            elif change <= tol * first:
                break


def quadratic_sweeps(F: np.ndarray, A: np.ndarray, G: np.ndarray, curvature: np.ndarray, *, l1: float = 0.0,
                     l2: float = 0.0, allowed: np.ndarray | None = None, max_sweeps: int = 1,
                     tol: float = 0.0) -> None:
    """Coordinate sweeps on every row of ``F``, in place.

    Each row ``f`` of ``F`` descends ``0.5 f G f - a . f + l1 * sum(f) + 0.5 * l2 * |f|^2`` over
    ``f >= 0``, ``a`` the row of ``A``: coordinate ``j`` moves by ``-gradient_j / (curvature_j +
    l2)``, clipped at zero.

    Parameters
    ----------
    F : ndarray, shape (n, k), C-contiguous
        Rows to update.
    A : ndarray, shape (n, k)
        Linear terms.
    G : ndarray, shape (k, k)
        Quadratic term (symmetric; it may be indefinite).
    curvature : ndarray, shape (k,)
        Step curvature per coordinate, at least ``G[j, j]`` (then each step does not increase the
        objective: it minimises a majoriser along the coordinate). Coordinates with curvature
        ``<= 0`` are left alone.
    l1, l2 : float
        Elastic-net penalty on ``F``.
    allowed : boolean ndarray of shape (k,), optional
        Coordinates that may move; the others are left as they are (zero, for restricted topics).
    max_sweeps : int
        Most sweeps over a row's coordinates.
    tol : float
        A row stops sweeping once a sweep moves it less than ``tol`` times its first sweep did
        (squared step lengths).
    """
    if not F.flags.c_contiguous:
        rows = np.ascontiguousarray(F)
        quadratic_sweeps(rows, A, G, curvature, l1=l1, l2=l2, allowed=allowed, max_sweeps=max_sweeps, tol=tol)
        F[...] = rows
        return
    dtype = F.dtype
    allowed = np.ones(F.shape[1], dtype=np.bool_) if allowed is None else np.asarray(allowed, dtype=np.bool_)
    _sweeps(F, np.ascontiguousarray(A, dtype=dtype), np.ascontiguousarray(G, dtype=dtype),
            np.ascontiguousarray(curvature + l2, dtype=dtype), dtype.type(l1), dtype.type(l2), allowed,
            max_sweeps, tol)

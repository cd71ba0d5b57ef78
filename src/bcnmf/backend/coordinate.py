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

from bcnmf.backend.simd import padded_transpose, row_axpy, row_blocks

_JIT = {"fastmath": True, "error_model": "numpy", "cache": True, "nogil": True}


#: Rows swept together: their residuals (and values) stay in a core's L1 cache across sweeps.
CHUNK_ROWS = 128


@numba.njit(parallel=True, **_JIT)
def _sweeps(F, R, Gp, curvature, l1, l2, allowed, max_sweeps, tol, blocks):  # pragma: no cover - compiled
    n, k = F.shape
    zero = l1 - l1  # zero in F's dtype: a literal 0 would turn the arithmetic to float64
    for chunk in numba.prange((n + CHUNK_ROWS - 1) // CHUNK_ROWS):
        start = chunk * CHUNK_ROWS
        stop = min(n, start + CHUNK_ROWS)
        first = 0.0
        for sweep in range(max_sweeps):
            change = 0.0
            for j in range(k):
                c = curvature[j]
                if not allowed[j] or c <= 0:
                    continue
                inverse = 1 / c
                # Coordinate j of many rows in turn, not of one row after another: each row's
                # update waits on its previous coordinate's (a chain of about 25 cycles), and the
                # rows' chains are independent, so they overlap.
                for i in range(start, stop):
                    old = F[i, j]
                    new = max(old - (l1 + l2 * old - R[i, j]) * inverse, zero)
                    step = new - old
                    if step != 0:
                        # R holds a - G f per row, updated by one axpy per coordinate that moves:
                        # one at zero that stays there (most, in a non-negative solution) is free.
                        F[i, j] = new
                        change += step * step
                        row_axpy(R, i, -step, Gp, j, blocks)
            # Accelerated HALS (Gillis & Glineur 2012): more sweeps are cheap next to the products
            # that built A and G, and worth it while they still move the rows.
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
    G = np.asarray(G, dtype=dtype)
    # The residuals start from one BLAS product (per row in the kernel they cost 20 times more),
    # in padded rows for the vector intrinsics.
    residuals = padded_transpose((np.asarray(A, dtype=dtype) - F @ G).T, dtype)
    Gp = padded_transpose(G.T, dtype)
    _sweeps(F, residuals, Gp,
            np.ascontiguousarray(curvature + l2, dtype=dtype), dtype.type(l1), dtype.type(l2), allowed,
            max_sweeps, tol, row_blocks(Gp.shape[1]))

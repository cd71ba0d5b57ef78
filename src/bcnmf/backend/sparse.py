"""Kernels that evaluate a low-rank product only where a sparse matrix has entries.

Count losses need ``X / (W H)`` at the non-zeros of ``X`` only; computing ``W H`` densely would
cost ``n * p * k`` memory traffic and, for single-cell data, 10-20 times more work than needed.

The products take SciPy CSR matrices (Numba kernels on every core), dense arrays, and their PyTorch
counterparts (:class:`~bcnmf.backend.torch_sparse.DeviceCSR` and tensors), so that a loss calls
one function wherever its data live.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp

from bcnmf.backend.arrays import is_sparse
from bcnmf.backend.namespace import is_torch
from bcnmf.backend.simd import aligned_zeros, padded_transpose, row_axpy, row_blocks

_JIT = {"fastmath": True, "error_model": "numpy", "cache": True, "nogil": True}


@numba.njit(parallel=True, **_JIT)
def _sampled_dot_csr(indptr, indices, W, Ht, out):  # pragma: no cover - compiled
    n_rows = indptr.shape[0] - 1
    k = W.shape[1]
    for i in numba.prange(n_rows):
        # A local copy of the row and 1-D views of H let the dot vectorise (measured 2x at k=20).
        wi = W[i].copy()
        zero = wi[0] - wi[0]  # zero in W's dtype: a literal 0.0 would make the sums float64
        for pos in range(indptr[i], indptr[i + 1]):
            h = Ht[indices[pos]]
            acc = zero
            for q in range(k):
                acc += wi[q] * h[q]
            out[pos] = acc


# The same loop on one thread, for small patterns: waking Numba's threads right after a BLAS call,
# whose threads still spin, cost 4 ms per call on 2 cores where the work takes 0.06 ms (a masked
# NMF fit ran 1.8 s instead of 0.2 s).
_sampled_dot_csr_serial = numba.njit(**_JIT)(_sampled_dot_csr.py_func)
#: Below this many multiply-adds the serial loop is used.
SERIAL_WORK = 2**20


def sampled_dot(X, W, H):
    """Values of ``W @ H`` at the stored entries of CSR ``X``, in ``X.data`` order.

    Parameters
    ----------
    X : scipy.sparse.csr_matrix or DeviceCSR, shape (n, p)
        Sparsity pattern to evaluate on.
    W : ndarray, shape (n, k)
    H : ndarray, shape (k, p)

    Returns
    -------
    ndarray, shape (X.nnz,)
        ``(W @ H)[i, j]`` for every stored ``(i, j)``, in the dtype of ``W``.
    """
    if is_torch(X):
        return X.sampled(W, H)
    W = np.ascontiguousarray(W)
    Ht = np.ascontiguousarray(H.T, dtype=W.dtype)
    out = np.empty(X.indices.shape[0], dtype=W.dtype)
    kernel = _sampled_dot_csr_serial if out.shape[0] * W.shape[1] < SERIAL_WORK else _sampled_dot_csr
    kernel(X.indptr, X.indices, W, Ht, out)
    return out


@numba.njit(parallel=True, **_JIT)
def _csr_times(indptr, indices, data, Hp, out, blocks):  # pragma: no cover - compiled
    for i in numba.prange(indptr.shape[0] - 1):
        for pos in range(indptr[i], indptr[i + 1]):
            row_axpy(out, i, data[pos], Hp, indices[pos], blocks)


@numba.njit(parallel=True, **_JIT)
def _csr_transposed_times(indptr, indices, data, Yp, bounds, buffers, blocks):  # pragma: no cover - compiled
    # Each thread adds its block of rows into its own buffer: scattering into one shared output
    # would race, and a transposed (CSC) copy of the data would double their memory.
    for block in numba.prange(bounds.shape[0] - 1):
        out = buffers[block]
        for i in range(bounds[block], bounds[block + 1]):
            for pos in range(indptr[i], indptr[i + 1]):
                row_axpy(out, indices[pos], data[pos], Yp, i, blocks)


# The same loops on one thread, for small products (see ``_sampled_dot_csr_serial``).
_csr_times_serial = numba.njit(**_JIT)(_csr_times.py_func)
_csr_transposed_times_serial = numba.njit(**_JIT)(_csr_transposed_times.py_func)


def _csr_arrays(X, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = sp.csr_matrix(X)
    return X.indptr, X.indices, X.data if X.data.dtype == dtype else X.data.astype(dtype)


def times_transposed(X, H):
    """``X @ H.T``, in ``H``'s dtype; for sparse ``X`` with all cores (SciPy's product uses one).

    Parameters
    ----------
    X : csr_matrix, ndarray, DeviceCSR or tensor, shape (n, p)
    H : ndarray, shape (k, p)

    Returns
    -------
    ndarray, shape (n, k)
    """
    if is_torch(X):
        return X.times(X.data, H.T) if is_sparse(X) else X @ H.T
    if not sp.issparse(X):
        return np.asarray(X @ H.T, dtype=H.dtype)
    indptr, indices, data = _csr_arrays(X, H.dtype)
    Hp = padded_transpose(H, H.dtype)
    out = aligned_zeros((X.shape[0], Hp.shape[1]), H.dtype)
    kernel = _csr_times_serial if data.shape[0] * H.shape[0] < SERIAL_WORK else _csr_times
    kernel(indptr, indices, data, Hp, out, row_blocks(Hp.shape[1]))
    return np.ascontiguousarray(out[:, :H.shape[0]])


def transposed_times(X, W):
    """``X.T @ W``, in ``W``'s dtype; for sparse ``X`` with all cores, without a transposed copy
    of ``X``.

    Parameters
    ----------
    X : csr_matrix, ndarray, DeviceCSR or tensor, shape (n, p)
    W : ndarray, shape (n, k)

    Returns
    -------
    ndarray, shape (p, k)
    """
    if is_torch(X):
        return X.transposed_times(X.data, W) if is_sparse(X) else X.T @ W
    if not sp.issparse(X):
        return np.asarray(X.T @ W, dtype=W.dtype)
    X = sp.csr_matrix(X)
    indptr, indices, data = _csr_arrays(X, W.dtype)
    serial = data.shape[0] * W.shape[1] < SERIAL_WORK
    bounds = np.array([0, X.shape[0]]) if serial else thread_bounds(X)
    Wp = padded_transpose(W.T, W.dtype)
    buffers = aligned_zeros((bounds.shape[0] - 1, X.shape[1], Wp.shape[1]), W.dtype)
    kernel = _csr_transposed_times_serial if serial else _csr_transposed_times
    kernel(indptr, indices, data, Wp, bounds, buffers, row_blocks(Wp.shape[1]))
    return np.ascontiguousarray(buffers.sum(axis=0)[:, :W.shape[1]])


def pattern_times(X, values, H):
    """``A @ H.T`` for ``A`` the pattern of sparse ``X`` holding ``values`` (one per stored entry,
    in ``X.data`` order): ``(n, k)``."""
    if is_torch(X):
        return X.times(values, H.T)
    return times_transposed(sp.csr_matrix((values, X.indices, X.indptr), shape=X.shape), H)


def pattern_transposed_times(X, values, W):
    """``A.T @ W`` for ``A`` the pattern of sparse ``X`` holding ``values``: ``(p, k)``."""
    if is_torch(X):
        return X.transposed_times(values, W)
    return transposed_times(sp.csr_matrix((values, X.indices, X.indptr), shape=X.shape), W)


def thread_bounds(X: sp.csr_matrix) -> np.ndarray:
    """Row boundaries that give each thread about the same number of stored entries."""
    n_blocks = max(1, min(numba.get_num_threads(), X.shape[0]))
    bounds = np.searchsorted(X.indptr, np.linspace(0, X.indptr[-1], n_blocks + 1), side="left").astype(np.int64)
    bounds[0], bounds[-1] = 0, X.shape[0]
    return np.maximum.accumulate(bounds)


@numba.njit(**_JIT)
def _add_transposed_product_csr(indptr, indices, data, Y, out):  # pragma: no cover - compiled
    for i in range(indptr.shape[0] - 1):
        yi = Y[i]
        for pos in range(indptr[i], indptr[i + 1]):
            row = out[indices[pos]]
            x = data[pos]
            for q in range(yi.shape[0]):
                row[q] += x * yi[q]


def add_transposed_product(X, Y: np.ndarray, out: np.ndarray) -> None:
    """``out += X.T @ Y`` in place, without the ``p x m`` temporary that ``X.T @ Y`` allocates.

    Parameters
    ----------
    X : csr_matrix of shape (n, p), or ndarray
    Y : ndarray, shape (n, m)
    out : ndarray, shape (p, m), C-contiguous, of ``Y``'s dtype
    """
    if not sp.issparse(X):
        out += X.T @ Y
        return
    indptr, indices, data = _csr_arrays(X, out.dtype)
    _add_transposed_product_csr(indptr, indices, data, np.ascontiguousarray(Y, dtype=out.dtype), out)

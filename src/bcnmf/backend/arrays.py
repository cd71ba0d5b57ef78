"""Storage-agnostic helpers over dense NumPy arrays and SciPy CSR matrices."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp

from bcnmf.backend.namespace import array_namespace, is_device_csr, to_float

#: Largest dense intermediate (in elements) a loss may build for one chunk of rows. Sparse
#: input must never be densified whole; 2**22 float32 elements is 16 MiB.
MAX_CHUNK_ELEMENTS = 2**22


def is_sparse(X: object) -> bool:
    """Return True for any SciPy sparse matrix or array, and for sparse data on a PyTorch device
    (:class:`~bcnmf.backend.torch_sparse.DeviceCSR`)."""
    return sp.issparse(X) or is_device_csr(X)


def row_chunks(n_rows: int, n_cols: int, max_elements: int = MAX_CHUNK_ELEMENTS) -> Iterator[slice]:
    """Yield row slices whose dense ``rows x n_cols`` block holds at most ``max_elements``."""
    step = max(1, max_elements // max(n_cols, 1))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def to_dense_rows(X, rows: slice):
    """Dense copy of a slice of rows (only ever called on a bounded chunk), in ``X``'s library."""
    if is_device_csr(X):
        return X.dense_rows(rows)
    block = X[rows]
    return block.toarray() if sp.issparse(block) else block


def column_sums(X) -> np.ndarray:
    """Sum over rows as a 1-D float64 array, for dense or sparse ``X``."""
    return np.asarray(X.sum(axis=0, dtype=np.float64)).ravel()


def count_nonzero(X) -> int:
    """Number of non-zero entries of dense or sparse ``X`` (stored zeros of a sparse matrix not
    counted)."""
    return int(np.count_nonzero(X.data if sp.issparse(X) else X))


def max_row_total(X) -> float:
    """The largest sum over a row (float64 accumulation), for dense or sparse ``X``."""
    return float(np.asarray(X.sum(axis=1, dtype=np.float64)).max())


def squared_norm(X) -> float:
    """Squared Frobenius norm accumulated in float64 (NumPy or PyTorch data, dense or sparse)."""
    data = X.data if is_sparse(X) else X
    xp = array_namespace(data)
    data = xp.reshape(xp.astype(data, xp.float64), (-1,))
    return to_float(xp.vecdot(data, data))

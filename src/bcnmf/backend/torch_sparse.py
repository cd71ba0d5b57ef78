"""Sparse data on a PyTorch device: the CSR layout with what the losses' sparse path needs.

A loss on sparse counts evaluates the model at the stored entries only (a sampled product), turns
those values into coefficients, and multiplies the matrix of coefficients (the data's pattern) by a
factor, as is or transposed. :class:`DeviceCSR` keeps the pattern once, with its transpose as a
second CSR pattern and the permutation between the two, so that every product is a CSR-times-dense
product, which PyTorch runs on the CPU and on CUDA (cuSPARSE) alike, and nothing ``n x p`` is built.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch


def _csr(indptr: torch.Tensor, indices: torch.Tensor, values: torch.Tensor, shape) -> torch.Tensor:
    # The pattern was checked once, on the host (canonical CSR); PyTorch warns that CSR support is
    # in beta at every construction, which says nothing to our users.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(indptr, indices, values, size=shape, check_invariants=False)


class DeviceCSR:
    """A CSR matrix on a torch device.

    Attributes
    ----------
    indptr, indices, data : torch.Tensor
        The CSR arrays (int64, int64, float values) as SciPy names them; ``indices`` are the
        features of the stored entries, ``data`` their values.
    rows : torch.Tensor
        The row of each stored entry.
    shape : tuple of int
    """

    def __init__(self, indptr: torch.Tensor, indices: torch.Tensor, data: torch.Tensor, shape) -> None:
        self.indptr, self.indices, self.data = indptr, indices, data
        self.shape = (int(shape[0]), int(shape[1]))
        counts = indptr[1:] - indptr[:-1]
        self.rows = torch.repeat_interleave(torch.arange(self.shape[0], device=data.device), counts)
        self._order = torch.argsort(indices, stable=True)
        column_counts = torch.bincount(indices, minlength=self.shape[1])
        self._t_indptr = torch.cat([column_counts.new_zeros(1), torch.cumsum(column_counts, 0)])
        self._t_indices = self.rows[self._order]
        self._pattern = _csr(indptr, indices, data, self.shape)

    @classmethod
    def from_scipy(cls, X: sp.csr_matrix, device, dtype: torch.dtype) -> DeviceCSR:
        """Copy a canonical SciPy CSR matrix to ``device`` with values of ``dtype``."""
        def tensor(array, kind):
            return torch.as_tensor(np.ascontiguousarray(array), dtype=kind, device=device)

        return cls(tensor(X.indptr, torch.int64), tensor(X.indices, torch.int64), tensor(X.data, dtype), X.shape)

    @property
    def dtype(self) -> torch.dtype:
        return self.data.dtype

    @property
    def device(self) -> torch.device:
        return self.data.device

    @property
    def nnz(self) -> int:
        return int(self.data.shape[0])

    def sampled(self, W: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
        """``(W @ H)`` at the stored entries, in their order."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse.sampled_addmm(self._pattern, W, H, beta=0.0).values()

    def times(self, values: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
        """``A @ M`` for ``A`` the pattern holding ``values``: ``(n, m)`` from ``M`` of shape ``(p, m)``."""
        return _csr(self.indptr, self.indices, values, self.shape) @ M

    def transposed_times(self, values: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
        """``A.T @ M`` for ``A`` the pattern holding ``values``: ``(p, m)`` from ``M`` of shape ``(n, m)``."""
        transposed = _csr(self._t_indptr, self._t_indices, values[self._order], (self.shape[1], self.shape[0]))
        return transposed @ M

    def dense_rows(self, rows: slice) -> torch.Tensor:
        """The rows ``rows`` as a dense tensor (only ever asked for a bounded chunk)."""
        start, stop, _ = rows.indices(self.shape[0])
        first, last = int(self.indptr[start]), int(self.indptr[stop])
        block = torch.zeros((stop - start, self.shape[1]), dtype=self.dtype, device=self.device)
        block[self.rows[first:last] - start, self.indices[first:last]] = self.data[first:last]
        return block

    def column_counts_where(self, mask: torch.Tensor) -> torch.Tensor:
        """Stored entries per feature among those where ``mask`` (one flag per entry) holds."""
        return torch.bincount(self.indices[mask], minlength=self.shape[1])

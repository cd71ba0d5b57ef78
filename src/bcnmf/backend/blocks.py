"""Matrices read block by block of rows: in memory, from a backed AnnData / ``.h5ad`` file, or from a
re-iterable sequence of row blocks.

Mini-batch and out-of-core schedules see only :class:`RowSource`: a row count, a feature count and
an iterator over ``(rows, block)`` pairs, each ``block`` a CSR matrix or a dense array in the working
dtype. Nothing here holds more than one block of the data at a time (plus the sample that
initialisation asks for).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import scipy.sparse as sp

from bcnmf.backend.arrays import is_sparse
from bcnmf.utils.validation import canonical_csr


def as_block(block, dtype) -> object:
    """A row block as CSR or a C-contiguous dense array of ``dtype`` (the formats the kernels take)."""
    if is_sparse(block):
        return canonical_csr(block, dtype)
    return np.ascontiguousarray(np.asarray(block, dtype=dtype))


class RowSource(ABC):
    """Rows of a matrix, read in blocks.

    Attributes
    ----------
    n_rows, n_features : int
    feature_names : ndarray of str or None
    """

    n_rows: int
    n_features: int
    feature_names: np.ndarray | None = None

    @abstractmethod
    def blocks(self, n_blocks: int, dtype) -> Iterator[tuple[slice, object]]:
        """Yield ``(rows, block)`` for consecutive row ranges covering every row once.

        Sources that choose their own blocks (a sequence of blocks) ignore ``n_blocks``.
        """

    def reduce_blocks(self, function: Callable, combine: Callable, n_blocks: int, dtype):
        """``function(rows, block)`` of every block, folded with ``combine(a, b)`` (associative):
        block by block here, as a tree on the workers for a source spread over a Dask cluster."""
        total = None
        for rows, block in self.blocks(n_blocks, dtype):
            value = function(rows, block)
            total = value if total is None else combine(total, value)
        return total

    def apply_blocks(self, function: Callable, n_blocks: int, dtype) -> list[tuple[slice, object]]:
        """``(rows, function(rows, block))`` for every block, in order (run on the workers for a
        source spread over a Dask cluster; only the results come back)."""
        return [(rows, function(rows, block)) for rows, block in self.blocks(n_blocks, dtype)]

    def map_blocks(self, transform: Callable) -> RowSource:
        """A source whose blocks are ``transform(block)`` of this one's."""
        return MappedSource(self, transform)

    def sample(self, max_rows: int, rng: np.random.Generator, dtype):
        """Up to ``max_rows`` rows in memory, spread over the whole matrix, for initialisation."""
        keep = self._sample_rows(max_rows, rng)
        parts = [block[keep[(keep >= rows.start) & (keep < rows.stop)] - rows.start]
                 for rows, block in self.blocks(max(1, self.n_rows // 65536), dtype)]
        return sp.vstack(parts, format="csr") if is_sparse(parts[0]) else np.vstack(parts)

    def _sample_rows(self, max_rows: int, rng: np.random.Generator) -> np.ndarray:
        if self.n_rows <= max_rows:
            return np.arange(self.n_rows)
        return np.sort(rng.choice(self.n_rows, size=max_rows, replace=False))


class MappedSource(RowSource):
    """The blocks of ``inner``, each passed through ``transform`` as it is read."""

    def __init__(self, inner: RowSource, transform: Callable) -> None:
        self.inner, self.transform = inner, transform
        self.n_rows, self.n_features, self.feature_names = inner.n_rows, inner.n_features, inner.feature_names

    def blocks(self, n_blocks, dtype):
        for rows, block in self.inner.blocks(n_blocks, dtype):
            yield rows, self.transform(block)

    def sample(self, max_rows, rng, dtype):
        return self.transform(self.inner.sample(max_rows, rng, dtype))


def _even_bounds(n_rows: int, n_blocks: int) -> np.ndarray:
    return np.linspace(0, n_rows, min(max(n_blocks, 1), max(n_rows, 1)) + 1).round().astype(np.int64)


class ArraySource(RowSource):
    """An in-memory dense array or CSR matrix; blocks are row slices."""

    def __init__(self, X, feature_names=None) -> None:
        self.X = X
        self.n_rows, self.n_features = X.shape
        self.feature_names = feature_names

    def blocks(self, n_blocks, dtype):
        bounds = _even_bounds(self.n_rows, n_blocks)
        if len(bounds) == 2:  # the whole matrix: slicing a CSR matrix would copy it
            yield slice(0, self.n_rows), as_block(self.X, dtype)
            return
        for start, stop in zip(bounds[:-1], bounds[1:]):
            yield slice(int(start), int(stop)), as_block(self.X[start:stop], dtype)

    def sample(self, max_rows, rng, dtype):
        return as_block(self.X[self._sample_rows(max_rows, rng)], dtype)


class BackedAnnDataSource(RowSource):
    """``X`` of an AnnData opened with ``backed="r"`` (or an ``.h5ad`` path, opened so): blocks are
    read from disk one at a time."""

    def __init__(self, adata) -> None:
        self.adata = adata
        self.n_rows, self.n_features = adata.shape
        self.feature_names = np.asarray(adata.var_names, dtype=object)

    @classmethod
    def from_path(cls, path: str | os.PathLike) -> BackedAnnDataSource:
        import anndata

        return cls(anndata.read_h5ad(path, backed="r"))

    def blocks(self, n_blocks, dtype):
        bounds = _even_bounds(self.n_rows, n_blocks)
        for start, stop in zip(bounds[:-1], bounds[1:]):
            yield slice(int(start), int(stop)), as_block(self.adata.X[int(start):int(stop)], dtype)


class BlockSequenceSource(RowSource):
    """A re-iterable collection of row blocks (a list of CSR matrices, or any object whose
    ``__iter__`` starts again from the first block). Its blocks are used as they are."""

    def __init__(self, blocks: Iterable) -> None:
        if iter(blocks) is blocks:
            raise TypeError(
                "a one-shot iterator (such as a generator) can be read only once, and fit needs several "
                "passes; pass a list of blocks or an object whose __iter__ restarts, or feed the blocks "
                "one by one to partial_fit."
            )
        self._blocks = blocks
        shapes = [np.shape(block) if not is_sparse(block) else block.shape for block in blocks]
        if not shapes:
            raise ValueError("the sequence of row blocks is empty.")
        widths = {shape[1] if len(shape) == 2 else None for shape in shapes}
        if len(widths) != 1 or None in widths:
            raise ValueError(f"every row block must be 2-D with the same number of features; got shapes {shapes[:5]}.")
        self.n_rows = int(sum(shape[0] for shape in shapes))
        self.n_features = int(widths.pop())

    def blocks(self, n_blocks, dtype):
        start = 0
        for block in self._blocks:
            rows = slice(start, start + block.shape[0])
            start = rows.stop
            yield rows, as_block(block, dtype)

"""Rows of a Dask array, read chunk by chunk: the data of a fit spread over a Dask cluster.

A :class:`DaskSource` is a :class:`~bcnmf.backend.blocks.RowSource` whose blocks are the row
chunks of a ``dask.array.Array`` (dense or with SciPy sparse chunks, for example ``X`` of an
AnnData read lazily). Read from the client (:meth:`DaskSource.blocks`), each chunk is computed and
brought over, one at a time, which is what the single-process schedules see. With a
``dask.distributed`` client, the schedules instead send work to the chunks
(:meth:`DaskSource.delayed_blocks`), and only factor-sized results come back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from bcnmf.backend.blocks import RowSource, as_block


def current_client():
    """The ``dask.distributed`` client in use (the default one), or None when there is none."""
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


def is_dask_array(X: object) -> bool:
    """True for a ``dask.array.Array`` (checked without importing Dask)."""
    return type(X).__module__.startswith("dask.array") and hasattr(X, "chunks")


def rows_like(W: np.ndarray, X):
    """``W`` (one row per row of ``X``) as a Dask array with ``X``'s row chunks when ``X`` is a
    Dask array; ``W`` itself otherwise."""
    if not is_dask_array(X):
        return W
    import dask.array as da

    return da.from_array(W, chunks=(X.chunks[0], -1))


def tree_fold(items: list, combine: Callable):
    """``items`` combined pairwise, level by level, into one (``combine(a, b)`` builds each
    combination, as a task or a delayed call): a tree reduction's shape, about log2(len) deep."""
    while len(items) > 1:
        items = [combine(*items[i:i + 2]) if i + 1 < len(items) else items[i] for i in range(0, len(items), 2)]
    return items[0]


def _prepared(block, dtype, transforms: tuple) -> object:
    block = as_block(block, dtype)
    for transform in transforms:
        block = transform(block)
    return block


class DaskSource(RowSource):
    """The rows of a 2-D Dask array, in its row chunks.

    Parameters
    ----------
    X : dask.array.Array, shape (n_rows, n_features)
        Rechunked, if needed, so that each chunk holds every feature of its rows.
    transforms : tuple of callables
        Applied in turn to each block where it is read (on a worker, with a cluster): how a
        scaled copy of the data is read without writing one.
    """

    def __init__(self, X, transforms: tuple[Callable, ...] = ()) -> None:
        if X.ndim != 2:
            raise ValueError(f"a Dask array to fit must be 2-D (samples x features), got shape {X.shape}.")
        if len(X.chunks[1]) > 1:
            X = X.rechunk({1: -1})
        self.X = X
        self.transforms = transforms
        self.n_rows, self.n_features = (int(size) for size in X.shape)
        bounds = np.cumsum((0, *X.chunks[0]))
        self.row_ranges = [slice(int(start), int(stop)) for start, stop in zip(bounds[:-1], bounds[1:])]

    def map_blocks(self, transform: Callable) -> DaskSource:
        return DaskSource(self.X, (*self.transforms, transform))

    def delayed_blocks(self, dtype) -> list[tuple[slice, object]]:
        """``(rows, block)`` per chunk, each block a ``dask.delayed`` object of the prepared
        (canonical CSR or C-ordered, ``dtype``, transformed) chunk."""
        import dask

        prepare = dask.delayed(_prepared, pure=True)
        chunks = self.X.to_delayed().ravel()
        return [(rows, prepare(chunk, np.dtype(dtype), self.transforms)) for rows, chunk in zip(self.row_ranges, chunks)]

    def blocks(self, n_blocks: int, dtype) -> Iterator[tuple[slice, object]]:
        # The chunks are the blocks (n_blocks is the choice of sources that split on request).
        for rows, block in self.delayed_blocks(dtype):
            yield rows, block.compute()

    def apply_blocks(self, function: Callable, n_blocks: int, dtype) -> list[tuple[slice, object]]:
        import dask

        apply = dask.delayed(function, pure=True)
        blocks = self.delayed_blocks(dtype)
        results = dask.compute(*[apply(rows, block) for rows, block in blocks])
        return [(rows, result) for (rows, _), result in zip(blocks, results)]

    def reduce_blocks(self, function: Callable, combine: Callable, n_blocks: int, dtype):
        import dask

        apply, fold = dask.delayed(function, pure=True), dask.delayed(combine, pure=True)
        return tree_fold([apply(rows, block) for rows, block in self.delayed_blocks(dtype)], fold).compute()

    def sample(self, max_rows: int, rng: np.random.Generator, dtype):
        keep = self._sample_rows(max_rows, rng)
        return _prepared(self.X[keep].compute(), np.dtype(dtype), self.transforms)

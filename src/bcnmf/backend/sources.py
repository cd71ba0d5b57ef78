"""Which inputs are read block by block, and the :class:`~bcnmf.backend.blocks.RowSource` that
reads each kind."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from bcnmf.backend.arrays import is_sparse
from bcnmf.backend.blocks import BackedAnnDataSource, BlockSequenceSource, RowSource
from bcnmf.backend.dask_source import DaskSource, is_dask_array


def is_out_of_core(X) -> bool:
    """True for inputs read block by block: paths, backed AnnData, Dask arrays, sequences of blocks
    (and one-shot iterators, which :func:`as_source` refuses with advice)."""
    if isinstance(X, (str, os.PathLike, Iterator)) or is_dask_array(X):
        return True
    if _is_anndata(X):
        return bool(X.isbacked)
    return isinstance(X, (list, tuple)) and len(X) > 0 and all(is_sparse(b) or np.ndim(b) == 2 for b in X)


def _is_anndata(X) -> bool:
    return type(X).__name__ == "AnnData" and hasattr(X, "isbacked")


def as_source(X, name: str) -> RowSource:
    """Wrap an out-of-core input (see :func:`is_out_of_core`) in a :class:`RowSource`."""
    if isinstance(X, (str, os.PathLike)):
        path = os.fspath(X)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{name}: no file at {path!r}.")
        if not path.endswith(".h5ad"):
            raise ValueError(f"{name}: {path!r} is not an .h5ad file; load other formats first.")
        return BackedAnnDataSource.from_path(path)
    if _is_anndata(X) and X.isbacked:
        return BackedAnnDataSource(X)
    if is_dask_array(X):
        return DaskSource(X)
    return BlockSequenceSource(X)

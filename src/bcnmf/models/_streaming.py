"""Input handling for the block schedules: which solver runs, and data read in row blocks."""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np

from bcnmf.backend import column_sums, count_nonzero, max_row_total
from bcnmf.backend.blocks import ArraySource, RowSource
from bcnmf.backend.sources import as_source, is_out_of_core
from bcnmf.models._common import allowed_mass, restrict_topics
from bcnmf.models._scaling import DataScale
from bcnmf.utils.validation import check_matrix, scan_source

#: Values of ``solver=`` (how the data are visited): "auto" is "full" for data in memory and
#: "minibatch" for data read from disk.
SOLVERS = ("auto", "full", "minibatch", "online")
#: The old name of "full" (from when multiplicative updates were the only rule), kept until 0.3.
OLD_FULL_BATCH = "mu"
#: Usage-only iterations that fit the starting usages to the starting loadings (for block
#: schedules: on each block's first visit).
WARM_UP_ITERATIONS = 20
#: Rows per dataset that initialisation (and NB/ZINB noise estimates) read into memory.
INIT_SAMPLE_ROWS = 20_000


def check_solver(estimator) -> None:
    """Reject an unknown solver, batch size or forget factor before any work."""
    if estimator.solver not in SOLVERS and estimator.solver != OLD_FULL_BATCH:
        raise ValueError(f"solver={estimator.solver!r} is not known; choose one of {SOLVERS}.")
    size = estimator.batch_size
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"batch_size={size!r} must be a positive integer (rows per block).")
    factor = estimator.forget_factor
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not 0 < factor <= 1:
        raise ValueError(f"forget_factor={factor!r} must be in (0, 1].")


def resolve_solver(solver: str, *inputs) -> str:
    """The schedule to run: block schedules for out-of-core input, which "full" cannot take."""
    if solver == OLD_FULL_BATCH:
        warnings.warn("solver='mu' is deprecated and will be removed in bcnmf 0.3: it is now solver='full' (all "
                      "rows at once); multiplicative updates are update='mu'.", FutureWarning, stacklevel=4)
        solver = "full"
    out_of_core = any(is_out_of_core(X) for X in inputs)
    if solver == "auto":
        return "minibatch" if out_of_core else "full"
    if solver == "full" and out_of_core:
        raise ValueError(
            "solver='full' needs the data in memory, but it is given as a file, a backed AnnData or a list of "
            "blocks; use solver='minibatch' (same result, read in blocks) or solver='online'."
        )
    return solver


@dataclass
class BlockInput:
    """A dataset ready for the block schedules, with what one checking pass learnt about it."""

    source: RowSource
    feature_names: np.ndarray | None
    column_sums: np.ndarray
    max_row_total: float
    nonzeros: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.source.n_rows, self.source.n_features

    @property
    def column_means(self) -> np.ndarray:
        return self.column_sums / self.source.n_rows

    def scale(self, loss: str, beta: float | None) -> DataScale:
        """The scale this dataset is fitted at (see :mod:`bcnmf.models._scaling`)."""
        return DataScale.from_totals(loss, beta, float(self.column_sums.sum()), self.nonzeros)

    def scaled(self, scale: DataScale) -> BlockInput:
        """This dataset divided by ``scale.factor``, read block by block."""
        if not scale.active:
            return self
        return BlockInput(scale.source(self.source), self.feature_names, self.column_sums / scale.factor,
                          self.max_row_total / scale.factor, self.nonzeros)


def block_input(X, name: str, dtype, *, allow_zeros: bool, batch_size: int) -> BlockInput:
    """Check ``X`` (in memory or out of core) and wrap it as a :class:`RowSource`."""
    if is_out_of_core(X):
        source = as_source(X, name)
        summary = scan_source(source, name, dtype, allow_zeros=allow_zeros,
                              n_blocks=n_blocks_for(source.n_rows, batch_size))
        return BlockInput(source, source.feature_names, summary.column_sums, summary.max_row_total, summary.nonzeros)
    X, names = check_matrix(X, name, dtype, allow_zeros=allow_zeros, warn_empty="rows")
    return BlockInput(ArraySource(X, names), names, column_sums(X), max_row_total(X), count_nonzero(X))


def n_blocks_for(n_rows: int, batch_size: int) -> int:
    return max(1, math.ceil(n_rows / batch_size))


def starting_usages(data: BlockInput, H: np.ndarray, topics: np.ndarray | None = None) -> np.ndarray:
    """Usages for every row before the first pass: each row at the average sample total, spread
    evenly over the allowed ``topics`` (the first visit's warm-up steps fit them)."""
    n_rows = data.source.n_rows
    per_topic = float(data.column_sums.sum()) / n_rows / max(allowed_mass(H, topics), np.finfo(np.float64).tiny)
    W = np.full((n_rows, H.shape[0]), max(per_topic, np.finfo(H.dtype).tiny), dtype=H.dtype)
    return restrict_topics(W, topics)

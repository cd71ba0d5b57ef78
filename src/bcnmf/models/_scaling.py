"""Data of any magnitude, fitted at unit scale.

The updates keep ratios finite by flooring small denominators and model values at float32's
epsilon, an absolute number. Data far from unit scale fell foul of it: entries of 1e-5 fitted as
all-zero loadings (the floor outweighed every denominator), and entries of 1e30 overflowed float32
in ``W^T W H``. The beta-divergences are homogeneous, ``d_beta(c x | c v) = c**beta d_beta(x | v)``,
so a fit of ``X / c`` is a fit of ``X`` with the usages divided by ``c``: the models divide such data
by a power of two (exact in floating point), fit, and multiply the usages back. Data whose typical
non-zero entry lies in :data:`UNIT_RANGE` (counts, log-normalised values, intensities in [0, 1])
are fitted as given, without a copy. The negative binomial models are not rescaled: their
dispersion gives counts a scale of their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from bcnmf.backend import count_nonzero
from bcnmf.backend.blocks import RowSource
from bcnmf.losses.penalty import Penalty

#: Typical non-zero entries in this range are fitted as given.
UNIT_RANGE = (2.0**-6, 2.0**10)


def divergence_power(loss: str, beta: float | None) -> float | None:
    """The ``beta`` whose power of the data scale a loss's divergence carries, or None for the
    losses that are not homogeneous in the data (negative binomial, zero-inflated NB)."""
    if loss == "frobenius":
        return 2.0
    if loss == "kl":
        return 1.0
    if loss == "beta":
        return float(beta)
    return None


@dataclass(frozen=True)
class DataScale:
    """The data divided by ``factor`` for the fit; divergences of the fit are ``factor ** power``
    times smaller than the data's."""

    factor: float = 1.0
    power: float = 0.0

    @classmethod
    def choose(cls, loss: str, beta: float | None, matrices) -> DataScale:
        """The scale for in-memory ``matrices`` (dense or CSR, fitted together)."""
        total = sum(float(X.sum(dtype=np.float64)) for X in matrices)
        nonzeros = sum(count_nonzero(X) for X in matrices)
        return cls.from_totals(loss, beta, total, nonzeros)

    @classmethod
    def from_totals(cls, loss: str, beta: float | None, total: float, nonzeros: int) -> DataScale:
        """The scale for data whose ``nonzeros`` non-zero entries sum to ``total``."""
        power = divergence_power(loss, beta)
        if power is None or nonzeros == 0:
            return cls()
        typical = total / nonzeros
        if UNIT_RANGE[0] <= typical <= UNIT_RANGE[1]:
            return cls()
        return cls(2.0 ** round(math.log2(typical)), power)

    @classmethod
    def of(cls, model) -> DataScale:
        """The scale a fitted model ran at (``data_scale_``; 1 for a model fitted before it was
        recorded), with its loss's power."""
        return cls(getattr(model, "data_scale_", 1.0), divergence_power(model.loss, model.beta) or 0.0)

    @property
    def active(self) -> bool:
        return self.factor != 1.0

    def data(self, X):
        """``X / factor``: a scaled copy of a dense array or CSR matrix, or ``X`` itself at unit scale
        (and None for None, as for a count model's absent floor)."""
        if not self.active or X is None:
            return X
        if sp.issparse(X):
            scaled = X.copy()
            scaled.data /= scaled.dtype.type(self.factor)
            return scaled
        return X / X.dtype.type(self.factor)

    def source(self, source: RowSource) -> RowSource:
        """A block source whose blocks are divided by ``factor``."""
        return source.map_blocks(self.data) if self.active else source

    def to_data_units(self, A: np.ndarray | None) -> np.ndarray | None:
        """Usages (or the count models' floor) of the scaled fit in the data's units; None stays None."""
        return A * A.dtype.type(self.factor) if self.active and A is not None else A

    def divergence(self, value: float) -> float:
        """A divergence of the scaled fit, in the data's units."""
        return value * self.factor**self.power

    def penalties(self, W_penalty: Penalty, H_penalty: Penalty) -> tuple[Penalty, Penalty]:
        """The penalties of the scaled fit that make it the fit of the data: with ``W`` in data
        units equal to ``factor`` times the scaled usages and the objective divided by
        ``factor ** power``, an L1 term on ``W`` carries ``factor ** (1 - power)``, an L2 term
        ``factor ** (2 - power)``, and both terms on ``H`` ``factor ** -power``."""
        if not self.active:
            return W_penalty, H_penalty
        c, b = self.factor, self.power
        return (Penalty(W_penalty.l1 * c ** (1 - b), W_penalty.l2 * c ** (2 - b)),
                Penalty(H_penalty.l1 * c**-b, H_penalty.l2 * c**-b))

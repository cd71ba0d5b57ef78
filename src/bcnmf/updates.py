"""The multiplicative step and the elastic-net penalty, shared by the losses and the engine."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Floor for denominators (and model values in ratios); matches scikit-learn's choice so that our
#: multiplicative updates and theirs agree to rounding on the same data.
EPSILON = float(np.finfo(np.float32).eps)


@dataclass(frozen=True)
class Penalty:
    """Elastic-net penalty ``l1 * sum(F) + 0.5 * l2 * ||F||^2`` on a factor ``F``."""

    l1: float = 0.0
    l2: float = 0.0

    @property
    def active(self) -> bool:
        return self.l1 > 0 or self.l2 > 0

    def value(self, F: np.ndarray) -> float:
        if not self.active:
            return 0.0
        F64 = F.astype(np.float64, copy=False)
        return self.l1 * float(F64.sum()) + 0.5 * self.l2 * float(np.sum(F64 * F64))

    def add_to_pos(self, pos: np.ndarray, F: np.ndarray) -> np.ndarray:
        if self.l1 > 0:
            pos = pos + self.l1
        if self.l2 > 0:
            pos = pos + self.l2 * F
        return pos


def multiplicative_step(F: np.ndarray, neg: np.ndarray, pos: np.ndarray, exponent: float) -> None:
    """In-place ``F *= (neg / pos) ** exponent`` with a floor on ``pos``."""
    # In place, one factor-sized temporary instead of two, in the precision neg / pos would have.
    ratio = np.maximum(pos, EPSILON, dtype=np.result_type(neg, pos))
    np.divide(neg, ratio, out=ratio)
    if exponent != 1.0:
        np.power(ratio, exponent, out=ratio)
    F *= ratio

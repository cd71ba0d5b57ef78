"""The elastic-net penalty on a factor: a term of the objective with its own gradient part."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bcnmf.backend.namespace import array_namespace, to_float


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
        xp = array_namespace(F)
        F64 = xp.astype(F, xp.float64, copy=False)
        return self.l1 * to_float(xp.sum(F64)) + 0.5 * self.l2 * to_float(xp.sum(F64 * F64))

    def add_to_pos(self, pos: np.ndarray, F: np.ndarray) -> np.ndarray:
        if self.l1 > 0:
            pos = pos + self.l1
        if self.l2 > 0:
            pos = pos + self.l2 * F
        return pos

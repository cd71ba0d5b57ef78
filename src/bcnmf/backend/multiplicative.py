"""The multiplicative step ``F *= (neg / pos) ** exponent`` and the floor it divides by."""

from __future__ import annotations

import numpy as np

#: Floor for denominators (and model values in ratios); matches scikit-learn's choice so that our
#: multiplicative updates and theirs agree to rounding on the same data.
EPSILON = float(np.finfo(np.float32).eps)


def multiplicative_step(F: np.ndarray, neg: np.ndarray, pos: np.ndarray, exponent: float) -> None:
    """In-place ``F *= (neg / pos) ** exponent`` with a floor on ``pos``."""
    # In place, one factor-sized temporary instead of two, in the precision neg / pos would have.
    ratio = np.maximum(pos, EPSILON, dtype=np.result_type(neg, pos))
    np.divide(neg, ratio, out=ratio)
    if exponent != 1.0:
        np.power(ratio, exponent, out=ratio)
    F *= ratio

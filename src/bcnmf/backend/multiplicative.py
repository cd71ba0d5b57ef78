"""The multiplicative step ``F *= (neg / pos) ** exponent``, the floor it divides by, and the
floor below which a factor entry is zero."""

from __future__ import annotations

import numpy as np

from bcnmf.backend.namespace import array_namespace, is_torch

#: Floor for denominators (and model values in ratios); matches scikit-learn's choice so that our
#: multiplicative updates and theirs agree to rounding on the same data.
EPSILON = float(np.finfo(np.float32).eps)


def multiplicative_step(F, neg, pos, exponent: float) -> None:
    """In-place ``F *= (neg / pos) ** exponent`` with a floor on ``pos`` (arrays of one namespace)."""
    if is_torch(F):  # the same arithmetic without NumPy's out= arguments
        ratio = neg / array_namespace(F).clip(pos, min=EPSILON)
        F *= ratio if exponent == 1.0 else ratio**exponent
        return
    # In place, one factor-sized temporary instead of two, in the precision neg / pos would have.
    ratio = np.maximum(pos, EPSILON, dtype=np.result_type(neg, pos))
    np.divide(neg, ratio, out=ratio)
    if exponent != 1.0:
        np.power(ratio, exponent, out=ratio)
    F *= ratio


def flush_tiny(F) -> None:
    """Set entries of ``F`` below the square root of the dtype's smallest normal number to zero,
    in place.

    Multiplicative updates shrink unused entries geometrically; in float32 they became subnormal
    (9,513 entries of ``W`` and ``H`` after 512 KL iterations on 10,000 x 2,000 sparse counts,
    k = 20), and subnormal arithmetic is up to 100x slower on many CPUs (reported on one: a
    512-iteration fit took 330 s, its last blocks of 32 iterations 35 s against 2 s at the start;
    the AMD machine of ``benchmarks/RESULTS.md`` showed no slowdown). Above this floor the
    product of two entries is still a normal number; below it an entry is no longer distinguishable
    from zero in the model, and a multiplicative update would not have brought it back in time.
    """
    F[F < float(np.sqrt(array_namespace(F).finfo(F.dtype).smallest_normal))] = 0

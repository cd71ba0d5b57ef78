"""Which thread pools run during a fit.

Our sparse kernels run on Numba's threads, one per core. OpenBLAS's threads keep spinning for a
while after each BLAS call (about 2^28 cycles by default), and on a sparse fit every BLAS call is
a small ``k``-sized product between two of our kernels: the kernel that follows then shares a core
with a spinning BLAS thread and runs at the speed of one thread. Measured on 2 cores, squared-error
coordinate descent on 10,000 x 2,000 sparse counts (k = 20): 41 ms an iteration with BLAS's
threads, 23 ms with one. Dense data keep BLAS's threads: there the BLAS products are the large
ones (a dense fit with one BLAS thread was 10% slower).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable

from threadpoolctl import ThreadpoolController

from bcnmf.backend.arrays import is_sparse


@functools.lru_cache(maxsize=1)
def _controller() -> ThreadpoolController:
    # Built once: finding the loaded libraries costs about 1 ms, a limit from it 0.04 ms.
    return ThreadpoolController()


def fit_threads(arrays: Iterable) -> contextlib.AbstractContextManager:
    """A context in which to iterate a fit on ``arrays``: one BLAS thread when any of them is a
    sparse matrix, the threads as they are otherwise."""
    if any(is_sparse(X) for X in arrays):
        return _controller().limit(limits=1, user_api="blas")
    return contextlib.nullcontext()

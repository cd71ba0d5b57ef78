"""Array kernels: how products and element-wise ratios are evaluated for dense and sparse input.

Losses call these helpers instead of touching storage formats, so that a loss is written once
for NumPy arrays and SciPy CSR matrices alike.
"""

import os

# Set before Numba first starts its threads (GNU OpenMP reads it once, when loaded). OpenMP threads
# spin while idle by default; with as many threads as cores they compete with OpenBLAS's spinning
# threads between our kernels and the BLAS products, and each kernel waits for a time slice:
# measured 4 ms per kernel call on 2 cores, a 500 x 1,000 bcNMF fit 10x slower (6.5 s against
# 0.65 s). Passive waiting costs microseconds per parallel region. A value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bcnmf.backend.arrays import (
    column_sums,
    count_nonzero,
    is_sparse,
    max_row_total,
    row_chunks,
    squared_norm,
    to_dense_rows,
)
from bcnmf.backend.sparse import sampled_dot, times_transposed, transposed_times

__all__ = [
    "column_sums",
    "count_nonzero",
    "is_sparse",
    "max_row_total",
    "row_chunks",
    "sampled_dot",
    "squared_norm",
    "times_transposed",
    "to_dense_rows",
    "transposed_times",
]

"""Array kernels: how products and element-wise ratios are evaluated for dense and sparse input.

Losses call these helpers instead of touching storage formats, so that a loss is written once
for NumPy arrays and SciPy CSR matrices alike.
"""

from bcnmf.backend.arrays import (
    column_sums,
    count_nonzero,
    is_sparse,
    max_row_total,
    row_chunks,
    squared_norm,
    to_dense_rows,
)
from bcnmf.backend.sparse import sampled_dot

__all__ = [
    "column_sums",
    "count_nonzero",
    "is_sparse",
    "max_row_total",
    "row_chunks",
    "sampled_dot",
    "squared_norm",
    "to_dense_rows",
]

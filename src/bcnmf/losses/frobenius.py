"""Squared error, ``D(X | WH) = 0.5 * ||X - WH||_F^2`` (Gaussian likelihood)."""

from __future__ import annotations

from bcnmf.backend import (
    is_sparse,
    row_chunks,
    squared_norm,
    times_transposed,
    transposed_times,
)
from bcnmf.backend.dense import squared_distance
from bcnmf.backend.namespace import array_namespace, to_float
from bcnmf.losses.base import Loss


class Frobenius(Loss):
    """Half the squared Frobenius norm, evaluated through Gram matrices.

    The gradient parts are ``neg = W^T X``, ``pos = W^T W H`` for ``H`` and ``neg = X H^T``,
    ``pos = W H H^T`` for ``W``; the product order keeps every step a thin BLAS call and never
    forms ``W @ H`` for sparse input.
    """

    name = "frobenius"

    def value(self, X, W, H) -> float:
        if is_sparse(X):
            # <X, W H> as <X H^T, W>: the product that gathers rows of H runs about a third
            # faster than the one that scatters into the rows of X^T W.
            xp = array_namespace(W)
            cross = to_float(xp.sum(xp.astype(times_transposed(X, H), xp.float64) * W))
            W64, H64 = xp.astype(W, xp.float64), xp.astype(H, xp.float64)
            gram = to_float(xp.sum((W64.T @ W64) * (H64 @ H64.T)))
            return 0.5 * max(squared_norm(X) - 2.0 * cross + gram, 0.0)
        total = 0.0
        for rows in row_chunks(W.shape[0], H.shape[1]):
            total += squared_distance(X[rows], W[rows] @ H)
        return 0.5 * total

    def entry_divergence(self, x, v, cols):
        return 0.5 * (x - v) ** 2

    def zero_entry_value(self, v, cols):
        return 0.5 * v**2

    def zero_entry_pos(self, v, cols):
        return v

    def h_parts(self, X, W, H):
        neg = transposed_times(X, W).T if is_sparse(X) else W.T @ X
        return neg, (W.T @ W) @ H

    def w_parts(self, X, W, H):
        return times_transposed(X, H), W @ (H @ H.T)

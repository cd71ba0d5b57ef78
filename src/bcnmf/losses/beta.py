"""The beta-divergence family: Itakura-Saito (beta = 0), generalized Kullback-Leibler / Poisson
(beta = 1) and every real beta in between and beyond (beta = 2 is squared error)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from bcnmf.backend import is_sparse, row_chunks
from bcnmf.backend.fused import BETA, KL, kl_usage_sweep, make_rule
from bcnmf.backend.multiplicative import EPSILON
from bcnmf.backend.namespace import array_namespace, to_float, xlogy
from bcnmf.losses.base import ElementwiseLoss


def _safe(v):
    return array_namespace(v).maximum(v, EPSILON)


class KullbackLeibler(ElementwiseLoss):
    """Generalized KL divergence ``x log(x / v) - x + v``: the Poisson negative log-likelihood up
    to terms free of the model.

    Its positive gradient part is a matrix of ones, which is applied as row and column sums of
    the factors instead of a product with ones.
    """

    name = "kl"
    unbounded_at_zero = True

    def _div(self, x, v, cols):
        v = _safe(v)
        return xlogy(x, x / v) - x + v

    def _neg(self, x, v, cols):
        return x / _safe(v)

    def _pos(self, x, v, cols):
        return array_namespace(v).ones_like(v)

    def _entry_rule(self, n_features, dtype):
        return make_rule(KL, n_features, dtype, offset=self.offset)

    def usage_step(self, X, W, H, penalty, *, loadings_parts=False):
        """On sparse data, the usage step and the loadings' negative part share one pass over the
        stored entries (:func:`~bcnmf.backend.fused.kl_usage_sweep`)."""
        if not (loadings_parts and sp.issparse(X) and W.flags.c_contiguous):
            return super().usage_step(X, W, H, penalty, loadings_parts=loadings_parts)
        offset = np.zeros(H.shape[1], dtype=W.dtype) if self.offset is None else self.offset
        denominator = H.sum(axis=1) + penalty.l1
        neg = kl_usage_sweep(X, W, H, offset, denominator, penalty.l2, self.mu_exponent)
        return neg, self._zero_h_pos(W, H)

    def _zero_value(self, W, H) -> float:
        xp = array_namespace(W)
        total = to_float(xp.sum(W, axis=0, dtype=xp.float64) @ xp.sum(H, axis=1, dtype=xp.float64))
        if self.offset is not None:
            total += W.shape[0] * to_float(xp.sum(self.offset, dtype=xp.float64))
        return total

    # KL's positive parts are sums of the other factor, the same in every column (row): read-only
    # broadcast views, so that no k x p (n x k) array of repeated values is held.
    def _zero_h_pos(self, W, H):
        xp = array_namespace(W)
        return xp.broadcast_to(xp.sum(W, axis=0, dtype=H.dtype)[:, None], H.shape)

    def _zero_w_pos(self, W, H):
        xp = array_namespace(W)
        return xp.broadcast_to(xp.sum(H, axis=1, dtype=W.dtype)[None, :], W.shape)

    def h_parts(self, X, W, H):
        if is_sparse(X):
            return super().h_parts(X, W, H)
        neg = array_namespace(H).zeros_like(H)
        for rows in row_chunks(W.shape[0], H.shape[1]):
            neg += W[rows].T @ self._neg(X[rows], self._model(W[rows], H), None)
        return neg, self._zero_h_pos(W, H)

    def w_parts(self, X, W, H):
        if is_sparse(X):
            return super().w_parts(X, W, H)
        neg = array_namespace(W).empty_like(W)
        for rows in row_chunks(W.shape[0], H.shape[1]):
            neg[rows] = self._neg(X[rows], self._model(W[rows], H), None) @ H.T
        return neg, self._zero_w_pos(W, H)


class BetaDivergence(ElementwiseLoss):
    """``d_beta(x | v) = (x^b + (b - 1) v^b - b x v^(b-1)) / (b (b - 1))`` for real ``b``,
    with its limit ``x / v - log(x / v) - 1`` at ``b = 0`` (Itakura-Saito).

    Use :class:`KullbackLeibler` for ``b = 1`` and :class:`~bcnmf.losses.frobenius.Frobenius` for
    ``b = 2``: they have faster special forms; :func:`bcnmf.losses.make_loss` picks them.
    """

    name = "beta"

    def __init__(self, beta: float, offset: np.ndarray | None = None) -> None:
        super().__init__(offset)
        self.beta = float(beta)
        # Fevotte & Idier (2011): this exponent makes the plain MU step a majorization-minimization.
        if self.beta < 1:
            self.mu_exponent = 1.0 / (2.0 - self.beta)
        elif self.beta > 2:
            self.mu_exponent = 1.0 / (self.beta - 1.0)
        self.unbounded_at_zero = self.beta <= 1
        self.sublinear_overestimation = self.beta < 1

    def _div(self, x, v, cols):
        b = self.beta
        v = _safe(v)
        if b == 0:
            ratio = x / v
            return ratio - array_namespace(v).log(ratio) - 1.0
        return (x**b + (b - 1.0) * v**b - b * x * v ** (b - 1.0)) / (b * (b - 1.0))

    def _neg(self, x, v, cols):
        return x * _safe(v) ** (self.beta - 2.0)

    def _pos(self, x, v, cols):
        return _safe(v) ** (self.beta - 1.0)

    def _entry_rule(self, n_features, dtype):
        return make_rule(BETA, n_features, dtype, offset=self.offset, power=self.beta - 2.0)

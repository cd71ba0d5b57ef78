"""Negative binomial likelihood with one dispersion per feature, and its zero-inflated form.

Dispersion follows DESeq2/edgeR: ``Var = mu + dispersion * mu^2``; its inverse ``r`` (the NB
"size") enters the updates, ``grad = W^T((X + r) / (WH + r)) - W^T(X / WH)``. Both parts come from
a majorization (Jensen on ``-x log mu``, a tangent on the concave ``(x + r) log(mu + r)``), so the
plain multiplicative step never increases the loss for fixed dispersion.

Values are negative log-likelihoods minus those of the saturated NB model (``mu = x``), a
divergence that is zero at a perfect fit, so relative-change tolerances mean the same as for KL.
"""

from __future__ import annotations

import numpy as np

from bcnmf.backend import is_sparse, row_chunks, to_dense_rows
from bcnmf.backend.fused import NB, ZINB, make_rule
from bcnmf.backend.multiplicative import EPSILON
from bcnmf.backend.namespace import array_namespace, is_torch, xlogy
from bcnmf.losses.base import ElementwiseLoss

#: Range the moment estimate of the dispersion is kept in: below, NB is Poisson to float
#: precision; above, a feature is modelled as pure noise.
DISPERSION_RANGE = (1e-4, 1e3)


class NegativeBinomial(ElementwiseLoss):
    """Negative binomial loss.

    Parameters
    ----------
    dispersion : float or ndarray of shape (n_features,), optional
        Fixed dispersion(s). ``None`` estimates one per feature from the residuals of the current
        fit by the method of moments each time :meth:`fit_nuisance` is called.
    offset : ndarray of shape (n_features,), optional
        Per-feature floor added to the model.
    """

    name = "nb"
    unbounded_at_zero = True
    sublinear_overestimation = True
    pos_depends_on_data = True

    def __init__(self, dispersion=None, offset: np.ndarray | None = None) -> None:
        super().__init__(offset)
        self.fixed_dispersion = dispersion
        self.dispersion_: np.ndarray | None = None
        self._size: np.ndarray | None = None
        if dispersion is not None:
            self._set_dispersion(np.asarray(dispersion, dtype=np.float64))

    def _set_dispersion(self, dispersion) -> None:
        self.dispersion_ = array_namespace(dispersion).clip(dispersion, *DISPERSION_RANGE)
        self._size = 1.0 / self.dispersion_

    def _r(self, cols, dtype):
        """The NB size of features ``cols``, in ``dtype`` (a NumPy or PyTorch dtype, matching where
        the size lives)."""
        if self._size is None:
            raise RuntimeError("NegativeBinomial used before its dispersion was set or estimated")
        return _at_features(self._size, cols, dtype)

    def _nb_div(self, x, v, r):
        xp = array_namespace(v)
        return xlogy(x, x / v) - (x + r) * (xp.log(x + r) - xp.log(v + r))

    def _div(self, x, v, cols):
        v = array_namespace(v).maximum(v, EPSILON)
        return self._nb_div(x, v, self._r(cols, v.dtype))

    def _neg(self, x, v, cols):
        return x / array_namespace(v).maximum(v, EPSILON)

    def _pos(self, x, v, cols):
        r = self._r(cols, v.dtype)
        return (x + r) / (array_namespace(v).maximum(v, EPSILON) + r)

    def _entry_rule(self, n_features, dtype):
        return make_rule(NB, n_features, dtype, offset=self.offset, size=self._r(slice(None), np.float64))

    def _zero_weights(self, x, v) -> np.ndarray | float:
        """Weight of each entry in the dispersion moments (zero inflation down-weights zeros)."""
        return 1.0

    def fit_nuisance(self, X, W, H) -> None:
        if self.fixed_dispersion is None:
            self._set_dispersion(self._moment_dispersion(X, W, H))

    def freeze_nuisance(self) -> None:
        if self.dispersion_ is not None:
            self.fixed_dispersion = self.dispersion_

    def _moment_dispersion(self, X, W, H, weighted: bool = True):
        """``sum w((x - mu)^2 - mu) / sum w mu^2`` per feature (Pearson-type moments)."""
        xp = array_namespace(W)
        excess = xp.zeros_like(H[0], dtype=xp.float64)
        scale = xp.zeros_like(excess)
        for rows in row_chunks(W.shape[0], H.shape[1]):
            x = xp.astype(to_dense_rows(X, rows), xp.float64)
            mu = xp.astype(self._model(W[rows], H), xp.float64)
            w = self._zero_weights(x, mu) if weighted else 1.0
            excess += xp.sum(w * ((x - mu) ** 2 - mu), axis=0)
            scale += xp.sum(w * mu**2, axis=0)
        return excess / xp.maximum(scale, EPSILON)


class ZeroInflatedNegativeBinomial(NegativeBinomial):
    """Zero-inflated NB: a zero is a technical dropout with probability ``pi`` (one per feature),
    otherwise a draw from ``NB(mu, dispersion)``.

    The updates are generalized EM: at zero entries the dropout responsibility
    ``z = pi / (pi + (1 - pi) NB(0))`` (from the current model) down-weights the NB term, and
    :meth:`fit_nuisance` sets ``pi`` to the mean responsibility. Neither step increases the loss.

    Parameters
    ----------
    dispersion : float or ndarray, optional
        As for :class:`NegativeBinomial`.
    zero_inflation : float or ndarray of shape (n_features,), optional
        Fixed dropout probabilities. ``None`` estimates them by EM, starting from half of each
        feature's observed fraction of zeros.
    offset : ndarray of shape (n_features,), optional
    """

    name = "zinb"

    def __init__(self, dispersion=None, zero_inflation=None, offset: np.ndarray | None = None) -> None:
        super().__init__(dispersion, offset)
        self.fixed_zero_inflation = zero_inflation
        self.zero_inflation_: np.ndarray | None = None
        if zero_inflation is not None:
            self.zero_inflation_ = np.clip(np.asarray(zero_inflation, dtype=np.float64), 0.0, 1.0 - 1e-6)

    def _pi(self, cols, dtype):
        if self.zero_inflation_ is None:
            raise RuntimeError("ZeroInflatedNegativeBinomial used before its zero inflation was set")
        return _at_features(self.zero_inflation_, cols, dtype)

    def _entry_rule(self, n_features, dtype):
        return make_rule(ZINB, n_features, dtype, offset=self.offset, size=self._r(slice(None), np.float64),
                         zero_inflation=self._pi(slice(None), np.float64))

    def freeze_nuisance(self) -> None:
        super().freeze_nuisance()
        if self.zero_inflation_ is not None:
            self.fixed_zero_inflation = self.zero_inflation_

    def _log_nb_zero(self, v, r):
        return -r * array_namespace(v).log1p(v / r)

    def _dropout_responsibility(self, v, cols):
        """``P(dropout | x = 0)`` for model values ``v``."""
        xp = array_namespace(v)
        r = self._r(cols, xp.float64)
        pi = self._pi(cols, xp.float64)
        nb_zero = xp.exp(self._log_nb_zero(xp.astype(v, xp.float64), r))
        return pi / xp.maximum(pi + (1.0 - pi) * nb_zero, 1e-300)

    def _div(self, x, v, cols):
        xp = array_namespace(v)
        v64 = xp.astype(xp.maximum(v, EPSILON), xp.float64)
        r = self._r(cols, xp.float64)
        pi = self._pi(cols, xp.float64)
        zero = -xp.log(pi + (1.0 - pi) * xp.exp(self._log_nb_zero(v64, r)))
        if _is_zero(x):
            return zero
        positive = -xp.log1p(-xp.asarray(pi)) + self._nb_div(x, v64, r)
        return xp.where(x > 0, positive, zero)

    def _pos(self, x, v, cols):
        xp = array_namespace(v)
        nb_pos = super()._pos(x, v, cols)
        at_zero = xp.astype((1.0 - self._dropout_responsibility(v, cols)) * nb_pos, nb_pos.dtype)
        return at_zero if _is_zero(x) else xp.where(x > 0, nb_pos, at_zero)

    def _zero_weights(self, x, v):
        return array_namespace(v).where(x > 0, 1.0, 1.0 - self._dropout_responsibility(v, slice(None)))

    def fit_nuisance(self, X, W, H) -> None:
        if self.zero_inflation_ is None:
            zero_fraction = 1.0 - _column_nonzero_fraction(X)
            self.zero_inflation_ = array_namespace(zero_fraction).clip(0.5 * zero_fraction, 1e-3, 1.0 - 1e-6)
        if self.dispersion_ is None:
            self._set_dispersion(self._moment_dispersion(X, W, H, weighted=False))
        if self.fixed_zero_inflation is None:
            xp = array_namespace(W)
            total = xp.zeros_like(H[0], dtype=xp.float64)
            for rows in row_chunks(W.shape[0], H.shape[1]):
                x = to_dense_rows(X, rows)
                z = self._dropout_responsibility(self._model(W[rows], H), slice(None))
                total += xp.sum(xp.where(x > 0, 0.0, z), axis=0)
            self.zero_inflation_ = xp.clip(total / W.shape[0], 0.0, 1.0 - 1e-6)
        super().fit_nuisance(X, W, H)


def _at_features(parameter, cols, dtype):
    """A per-feature ``parameter`` at features ``cols`` in ``dtype`` (a NumPy or PyTorch dtype,
    matching where it lives); one value for every feature as a number."""
    if getattr(parameter, "ndim", 0) == 0:
        return float(parameter)
    values = parameter[cols]
    return array_namespace(values).astype(values, dtype)


def _is_zero(x) -> bool:
    """Whether ``x`` is the number zero (the value of every entry observed as zero) rather than
    an array of data."""
    return not hasattr(x, "shape") and x == 0


def _column_nonzero_fraction(X):
    """Fraction of positive entries per feature, in ``X``'s library."""
    if is_sparse(X):
        if is_torch(X):
            counts = X.column_counts_where(X.data > 0)
        else:
            counts = np.bincount(X.indices[X.data > 0], minlength=X.shape[1])
    else:
        xp = array_namespace(X)
        counts = xp.sum(xp.astype(X > 0, xp.float64), axis=0)
    return counts / X.shape[0]

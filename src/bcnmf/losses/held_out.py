"""A loss with some entries left out (missing, or held out for validation).

The data given to it have zeros at the left-out entries. For every loss here the negative gradient
part vanishes at ``x = 0``, so such a zero adds nothing there; what it does add is the divergence
and the positive part of an observed zero, which depend on the model alone. Subtracting those at
the left-out entries gives the loss over the observed entries only, at the cost of evaluating the
model at the left-out entries (a sampled product), never a dense mask.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from bcnmf.backend import sampled_dot
from bcnmf.losses.base import Loss


class HeldOutEntries(Loss):
    """``base`` summed over observed entries only.

    Parameters
    ----------
    base : Loss
        The loss of the observed entries (its noise parameters are estimated with the left-out
        entries counted as zeros).
    left_out : csr_matrix of shape (n_samples, n_features)
        Pattern of the left-out entries (values ignored); the data passed to this loss must be
        zero there.
    """

    def __init__(self, base: Loss, left_out: sp.csr_matrix) -> None:
        super().__init__(base.offset)
        self.base = base
        self.left_out = sp.csr_matrix(left_out, dtype=np.float64)
        self.left_out.sum_duplicates()
        self.name = base.name
        self.mu_exponent = base.mu_exponent
        self.unbounded_at_zero = base.unbounded_at_zero
        self.sublinear_overestimation = base.sublinear_overestimation

    def _model_at_left_out(self, W: np.ndarray, H: np.ndarray) -> np.ndarray:
        v = sampled_dot(self.left_out, W, H)
        if self.base.offset is not None:
            v += self.base.offset[self.left_out.indices]
        return v

    def _left_out_coefficients(self, W: np.ndarray, H: np.ndarray) -> sp.csr_matrix:
        """The positive part of an observed zero at each left-out entry, as a sparse matrix."""
        S = self.left_out
        coefficients = self.base.zero_entry_pos(self._model_at_left_out(W, H), S.indices)
        return sp.csr_matrix((np.asarray(coefficients, dtype=W.dtype), S.indices, S.indptr), shape=S.shape)

    def value(self, X, W, H) -> float:
        zeros = self.base.zero_entry_value(self._model_at_left_out(W, H), self.left_out.indices)
        return self.base.value(X, W, H) - float(np.sum(zeros, dtype=np.float64))

    def h_parts(self, X, W, H):
        neg, pos = self.base.h_parts(X, W, H)
        correction = np.asarray((self._left_out_coefficients(W, H).T @ W).T, dtype=pos.dtype)
        return neg, np.maximum(pos - correction, 0)

    def w_parts(self, X, W, H):
        neg, pos = self.base.w_parts(X, W, H)
        correction = np.asarray(self._left_out_coefficients(W, H) @ H.T, dtype=pos.dtype)
        return neg, np.maximum(pos - correction, 0)

    def fit_nuisance(self, X, W, H) -> None:
        self.base.fit_nuisance(X, W, H)

    def freeze_nuisance(self) -> None:
        self.base.freeze_nuisance()

    def reconstruction_error(self, value: float) -> float:
        return self.base.reconstruction_error(value)

    def entry_divergence(self, x, v, cols):
        return self.base.entry_divergence(x, v, cols)

    def zero_entry_value(self, v, cols):
        return self.base.zero_entry_value(v, cols)

    def zero_entry_pos(self, v, cols):
        return self.base.zero_entry_pos(v, cols)

    @property
    def dispersion_(self):
        return getattr(self.base, "dispersion_", None)

    @property
    def zero_inflation_(self):
        return getattr(self.base, "zero_inflation_", None)


def divergence_at(loss: Loss, X, pattern: sp.csr_matrix, W: np.ndarray, H: np.ndarray) -> np.ndarray:
    """``d(x, v)`` at the entries of ``pattern`` (in its CSR order), for data ``X`` (dense or CSR)
    and the model ``W @ H + loss.offset``."""
    rows, cols = pattern.nonzero()
    x = np.asarray(X[rows, cols], dtype=np.float64).ravel()
    v = sampled_dot(pattern, W, H).astype(np.float64)
    if loss.offset is not None:
        v += loss.offset[cols]
    return np.asarray(loss.entry_divergence(x, v, cols), dtype=np.float64)


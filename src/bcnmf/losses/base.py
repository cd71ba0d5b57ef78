"""The contract every loss implements, and the shared machinery of element-wise losses.

A loss ``D(X | V)`` with ``V = W @ H (+ offset)`` supplies its value and the two non-negative parts
of its gradients, ``grad = pos - neg``, with respect to ``H`` (summed over the rows it is given) and
to ``W`` (one row per sample). The multiplicative-update engine only ever sees those parts, which
is what lets one engine serve every likelihood.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import scipy.sparse as sp

from bcnmf.backend import is_sparse, row_chunks, sampled_dot
from bcnmf.backend.fused import (
    EntryRule,
    fused_value_supported,
    sparse_h_parts,
    sparse_value,
    sparse_w_parts,
)
from bcnmf.backend.multiplicative import multiplicative_step
from bcnmf.backend.namespace import array_namespace, to_float
from bcnmf.backend.sparse import pattern_times, pattern_transposed_times
from bcnmf.losses.penalty import Penalty


class Loss(ABC):
    """A divergence between data ``X`` and the low-rank model ``W @ H + offset``.

    Parameters
    ----------
    offset : ndarray of shape (n_features,), optional
        A per-feature floor added to the model. Count likelihoods are unbounded as the model goes
        to zero where data are positive; contrastive objectives exploit that, so bcNMF adds a small
        offset to keep its objective bounded below.
    """

    #: Short name used in messages and in ``loss=`` arguments.
    name: str = ""
    #: Exponent of the multiplicative step under which plain NMF provably does not increase this
    #: loss (Fevotte & Idier 2011).
    mu_exponent: float = 1.0
    #: True where ``D(x | v) -> inf`` as ``v -> 0`` for ``x > 0``: such losses need an offset in
    #: contrastive models.
    unbounded_at_zero: bool = False
    #: True where ``D(x | v)`` grows slower than linearly as ``v -> inf`` (NB, ZINB, beta < 1):
    #: over-estimating a feature is then nearly free, which contrastive fits exploit.
    sublinear_overestimation: bool = False

    def __init__(self, offset: np.ndarray | None = None) -> None:
        self.offset = offset

    @abstractmethod
    def value(self, X, W: np.ndarray, H: np.ndarray) -> float:
        """Total divergence summed over all entries (float64)."""

    @abstractmethod
    def h_parts(self, X, W: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(neg, pos)`` parts of the gradient with respect to ``H``, each ``(k, p)``."""

    @abstractmethod
    def w_parts(self, X, W: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(neg, pos)`` parts of the gradient with respect to ``W``, each ``(n, k)``."""

    @abstractmethod
    def entry_divergence(self, x: np.ndarray, v: np.ndarray, cols) -> np.ndarray:
        """``d(x, v)`` entry by entry, for data ``x`` and model values ``v`` in features ``cols``."""

    @abstractmethod
    def zero_entry_value(self, v: np.ndarray, cols) -> np.ndarray:
        """``d(0, v)`` at entries with model values ``v`` in features ``cols``: what an entry
        observed as zero adds to :meth:`value`."""

    @abstractmethod
    def zero_entry_pos(self, v: np.ndarray, cols) -> np.ndarray:
        """The positive gradient coefficient of an entry observed as zero (its negative one is 0)."""

    def usage_step(self, X, W: np.ndarray, H: np.ndarray, penalty: Penalty, *, loadings_parts: bool = False):
        """One multiplicative step on ``W`` (in place) with ``H`` fixed.

        Returns the ``(neg, pos)`` parts with respect to ``H`` at the new ``W`` when
        ``loadings_parts`` is true (None otherwise); losses that can compute both in one pass over
        the data override this.
        """
        neg, pos = self.w_parts(X, W, H)
        multiplicative_step(W, neg, penalty.add_to_pos(pos, W), self.mu_exponent)
        return self.h_parts(X, W, H) if loadings_parts else None

    def fit_nuisance(self, X, W: np.ndarray, H: np.ndarray) -> None:  # noqa: B027 - optional hook
        """Re-estimate parameters that are not factors (dispersion, zero inflation); default none."""

    def freeze_nuisance(self) -> None:  # noqa: B027 - optional hook
        """Keep the current nuisance parameters fixed from now on; default none."""

    def reconstruction_error(self, value: float) -> float:
        """Error reported as ``reconstruction_err_``: ``sqrt(2 * value)``, as scikit-learn does."""
        return float(np.sqrt(2.0 * max(value, 0.0)))

    def _model(self, W: np.ndarray, H: np.ndarray) -> np.ndarray:
        V = W @ H
        if self.offset is not None:
            V += self.offset
        return V

    def _model_at(self, X, W: np.ndarray, H: np.ndarray) -> np.ndarray:
        """Model values at the stored entries of sparse ``X``."""
        v = sampled_dot(X, W, H)
        if self.offset is not None:
            v += self.offset[X.indices]
        return v


class ElementwiseLoss(Loss):
    """A loss that is a sum of ``d(x, v)`` over entries, with per-entry gradient parts.

    Subclasses define ``_div``, ``_neg`` and ``_pos`` as functions of the data ``x``, the model
    ``v`` and ``cols``, an index that selects per-feature parameters (a full slice for dense
    blocks, ``X.indices`` for the stored entries of a sparse matrix). ``_neg`` must vanish at
    ``x = 0``; that is what lets sparse input be handled at its non-zeros plus a part that depends
    on the model alone. The three are written against the array API, so that they run on NumPy
    arrays and on PyTorch tensors alike.
    """

    #: Whether ``_pos`` depends on the data (NB, ZINB); when not, sparse data add nothing to the
    #: positive part beyond its value at zero.
    pos_depends_on_data: bool = False

    def _div(self, x, v, cols) -> np.ndarray:
        raise NotImplementedError

    def _neg(self, x, v, cols) -> np.ndarray:
        raise NotImplementedError

    def _pos(self, x, v, cols) -> np.ndarray:
        raise NotImplementedError

    def _entry_rule(self, n_features: int, dtype) -> EntryRule:
        """How the fused sparse kernels evaluate this loss's coefficients at stored entries."""
        raise NotImplementedError

    def entry_divergence(self, x, v, cols):
        return self._div(x, v, cols)

    def zero_entry_value(self, v, cols):
        return self._div(0.0, v, cols)

    def zero_entry_pos(self, v, cols):
        return self._pos(0.0, v, cols)

    # -- parts that depend on the model only (the data at zero); dense, chunked by rows ----------

    def _zero_value(self, W, H) -> float:
        xp = array_namespace(W)
        total = 0.0
        for rows in row_chunks(W.shape[0], H.shape[1]):
            total += to_float(xp.sum(self._div(0.0, self._model(W[rows], H), slice(None)), dtype=xp.float64))
        return total

    def _zero_h_pos(self, W, H):
        pos = array_namespace(H).zeros_like(H)
        for rows in row_chunks(W.shape[0], H.shape[1]):
            pos += W[rows].T @ self._pos(0.0, self._model(W[rows], H), slice(None))
        return pos

    def _zero_w_pos(self, W, H):
        pos = array_namespace(W).empty_like(W)
        for rows in row_chunks(W.shape[0], H.shape[1]):
            pos[rows] = self._pos(0.0, self._model(W[rows], H), slice(None)) @ H.T
        return pos

    # -- sparse data on a device: the same coefficients, without the fused kernels --------------

    def _entry_coefficients(self, X, W, H):
        """The negative part's coefficient at each stored entry of ``X`` and the positive part's
        correction there (its value less its value at ``x = 0``; None where it does not depend on
        the data)."""
        v = self._model_at(X, W, H)
        neg = self._neg(X.data, v, X.indices)
        if not self.pos_depends_on_data:
            return neg, None
        return neg, self._pos(X.data, v, X.indices) - self._pos(0.0, v, X.indices)

    # -- the contract ---------------------------------------------------------------------------

    def value(self, X, W, H) -> float:
        xp = array_namespace(W)
        if is_sparse(X):
            if sp.issparse(X):
                rule = self._entry_rule(H.shape[1], W.dtype)
                if fused_value_supported(rule):
                    return sparse_value(X, W, H, rule) + self._zero_value(W, H)
            v = self._model_at(X, W, H)
            at_nonzeros = self._div(X.data, v, X.indices) - self._div(0.0, v, X.indices)
            return to_float(xp.sum(at_nonzeros, dtype=xp.float64)) + self._zero_value(W, H)
        total = 0.0
        for rows in row_chunks(W.shape[0], H.shape[1]):
            d = self._div(X[rows], self._model(W[rows], H), slice(None))
            total += to_float(xp.sum(d, dtype=xp.float64))
        return total

    def h_parts(self, X, W, H):
        if is_sparse(X):
            if sp.issparse(X):
                neg, correction = sparse_h_parts(X, W, H, self._entry_rule(H.shape[1], W.dtype))
            else:
                neg_values, correction_values = self._entry_coefficients(X, W, H)
                neg = pattern_transposed_times(X, neg_values, W).T
                correction = None if correction_values is None else pattern_transposed_times(X, correction_values, W).T
            pos = self._zero_h_pos(W, H)
            return neg, (pos if correction is None else pos + correction)
        xp = array_namespace(H)
        neg, pos = xp.zeros_like(H), xp.zeros_like(H)
        for rows in row_chunks(W.shape[0], H.shape[1]):
            V = self._model(W[rows], H)
            neg += W[rows].T @ self._neg(X[rows], V, slice(None))
            pos += W[rows].T @ self._pos(X[rows], V, slice(None))
        return neg, pos

    def w_parts(self, X, W, H):
        if is_sparse(X):
            if sp.issparse(X):
                neg, correction = sparse_w_parts(X, W, H, self._entry_rule(H.shape[1], W.dtype))
            else:
                neg_values, correction_values = self._entry_coefficients(X, W, H)
                neg = pattern_times(X, neg_values, H)
                correction = None if correction_values is None else pattern_times(X, correction_values, H)
            pos = self._zero_w_pos(W, H)
            return neg, (pos if correction is None else pos + correction)
        xp = array_namespace(W)
        neg, pos = xp.empty_like(W), xp.empty_like(W)
        for rows in row_chunks(W.shape[0], H.shape[1]):
            V = self._model(W[rows], H)
            neg[rows] = self._neg(X[rows], V, slice(None)) @ H.T
            pos[rows] = self._pos(X[rows], V, slice(None)) @ H.T
        return neg, pos

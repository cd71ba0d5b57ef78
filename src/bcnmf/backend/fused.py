"""Fused Numba kernels for element-wise losses on sparse (CSR) data.

At each stored entry ``(i, j)`` a kernel evaluates the model ``v = W[i] . H[:, j] + offset[j]``,
turns it into the loss's gradient coefficients and adds them, times a row of ``H`` or ``W``, into
the gradient parts: the sampled product and the products that follow happen in one pass, so no
``n x p`` array (dense model, ratio matrix or matrix of ones) is ever built.

Two coefficients exist per entry (:class:`EntryRule`):

* ``a``, the negative part: ``x / v`` (KL, NB, ZINB) or ``x * v**(beta - 2)`` (beta);
* ``b``, a correction to the positive part where it depends on ``x`` (NB: ``x / (v + r)``; ZINB:
  the NB part minus its dropout-weighted value at ``x = 0``). The part at ``x = 0`` depends on the
  model alone and is the loss's business.

Rows of ``H`` (and of the buffers the kernels add into) are padded to a multiple of
:data:`~bcnmf.backend.simd.LANES` and start on cache-line boundaries, so that the row operations
of :mod:`bcnmf.backend.simd` run whole vectors that never straddle two cache lines.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp

from bcnmf.backend.simd import LANES, aligned_zeros, padded_transpose, row_axpy, row_blocks, row_dot
from bcnmf.backend.sparse import thread_bounds

#: Bytes of ``Hp`` rows per feature tile (the thread's buffer tile is as large): two of them fit
#: in a 512 KiB L2 cache with room for the data streaming through.
TILE_BYTES = 2**17
#: Entry rules understood by the kernels.
KL, BETA, NB, ZINB = 0, 1, 2, 3

_JIT = dict(fastmath=True, error_model="numpy", cache=True, nogil=True)


@dataclass(frozen=True)
class EntryRule:
    """How a loss turns the model value at a stored entry into gradient coefficients.

    Attributes
    ----------
    mode : int
        One of :data:`KL`, :data:`BETA`, :data:`NB`, :data:`ZINB`.
    offset : ndarray of shape (p,)
        Per-feature floor added to the model (zeros for none).
    size : ndarray of shape (p,)
        NB size ``r = 1 / dispersion`` (ignored by KL and beta).
    zero_inflation : ndarray of shape (p,)
        ZINB dropout probability ``pi`` (ignored otherwise).
    power : float
        ``beta - 2`` for the beta rule.
    floor : float
        Smallest model value used in a ratio.
    """

    mode: int
    offset: np.ndarray
    size: np.ndarray
    zero_inflation: np.ndarray
    power: float = 0.0
    floor: float = float(np.finfo(np.float32).eps)

    @property
    def has_pos_correction(self) -> bool:
        return self.mode in (NB, ZINB)


def make_rule(mode: int, n_features: int, dtype, *, offset=None, size=None, zero_inflation=None,
              power: float = 0.0) -> EntryRule:
    """An :class:`EntryRule` with per-feature arrays filled in (zeros or ones where unused)."""

    def per_feature(value, default):
        array = np.full(n_features, default, dtype=np.float64) if value is None else np.broadcast_to(
            np.asarray(value, dtype=np.float64), (n_features,))
        return np.ascontiguousarray(array)

    return EntryRule(
        mode=mode,
        offset=per_feature(offset, 0.0).astype(dtype),
        size=per_feature(size, 1.0),
        zero_inflation=per_feature(zero_inflation, 0.0),
        power=float(power),
    )


# -- compiled pieces ------------------------------------------------------------------------------


@numba.njit(inline="always", **_JIT)
def _model(wi, Hp, j, offset, floor, blocks):  # pragma: no cover - compiled
    """``max(W[i] . H[:, j] + offset[j], floor)``, ``wi`` a one-row array holding ``W[i]``."""
    return max(row_dot(wi, 0, Hp, j, blocks) + offset[j], floor)


@numba.njit(inline="always", **_JIT)
def _neg_coefficient(mode, x, v, power):  # pragma: no cover - compiled
    if mode == BETA:
        return x * v**power
    return x / v


@numba.njit(inline="always", **_JIT)
def _pos_correction(mode, x, v, r, pi):  # pragma: no cover - compiled
    x64 = np.float64(x)
    v64 = np.float64(v)
    if mode == NB:
        return x64 / (v64 + r)
    nb_zero = np.exp(-r * np.log1p(v64 / r))
    keep = 1.0 - pi / max(pi + (1.0 - pi) * nb_zero, 1e-300)
    return (x64 + r) / (v64 + r) - keep * r / (v64 + r)


@numba.njit(parallel=True, **_JIT)
def _tile_pointers(indptr, indices, width, tiles):  # pragma: no cover - compiled
    """``tiles[i, c]``: where row ``i``'s entries of feature tile ``c`` start (sorted indices)."""
    n_tiles = tiles.shape[1] - 1
    for i in numba.prange(indptr.shape[0] - 1):
        idx = indptr[i]
        stop = indptr[i + 1]
        for c in range(n_tiles):
            tiles[i, c] = idx
            limit = (c + 1) * width
            while idx < stop and indices[idx] < limit:
                idx += 1
        tiles[i, n_tiles] = stop


@numba.njit(parallel=True, **_JIT)
def _w_parts(tiles, indices, data, W, Hp, offset, size, pi, mode, power, floor, bounds, blocks, neg, pos):  # pragma: no cover
    k = W.shape[1]
    kp = Hp.shape[1]
    for t in numba.prange(bounds.shape[0] - 1):
        first, last = bounds[t], bounds[t + 1]
        wi = np.zeros((1, kp), Hp.dtype)
        a_rows = np.zeros((last - first, kp), Hp.dtype)
        b_rows = np.zeros((last - first if mode >= NB else 1, kp), np.float64)
        for c in range(tiles.shape[1] - 1):
            for i in range(first, last):
                wi[0, :k] = W[i]
                for idx in range(tiles[i, c], tiles[i, c + 1]):
                    j = indices[idx]
                    v = _model(wi, Hp, j, offset, floor, blocks)
                    row_axpy(a_rows, i - first, _neg_coefficient(mode, data[idx], v, power), Hp, j, blocks)
                    if mode >= NB:
                        row_axpy(b_rows, i - first, _pos_correction(mode, data[idx], v, size[j], pi[j]), Hp, j, blocks)
        for i in range(first, last):
            neg[i] = a_rows[i - first, :k]
            if mode >= NB:
                pos[i] = b_rows[i - first, :k]


@numba.njit(parallel=True, **_JIT)
def _h_parts(tiles, indices, data, W, Hp, offset, size, pi, mode, power, floor, bounds, blocks, neg, pos):  # pragma: no cover
    k = W.shape[1]
    for t in numba.prange(bounds.shape[0] - 1):
        wi = np.zeros((1, Hp.shape[1]), Hp.dtype)
        neg_t = neg[t]
        pos_t = pos[t]
        for c in range(tiles.shape[1] - 1):
            for i in range(bounds[t], bounds[t + 1]):
                wi[0, :k] = W[i]
                for idx in range(tiles[i, c], tiles[i, c + 1]):
                    j = indices[idx]
                    v = _model(wi, Hp, j, offset, floor, blocks)
                    row_axpy(neg_t, j, _neg_coefficient(mode, data[idx], v, power), wi, 0, blocks)
                    if mode >= NB:
                        row_axpy(pos_t, j, _pos_correction(mode, data[idx], v, size[j], pi[j]), wi, 0, blocks)


@numba.njit(parallel=True, **_JIT)
def _kl_sweep(tiles, indices, data, W, Hp, offset, floor, denominator, l2, exponent, bounds, blocks, neg):  # pragma: no cover
    k = W.shape[1]
    kp = Hp.shape[1]
    n_tiles = tiles.shape[1] - 1
    for t in numba.prange(bounds.shape[0] - 1):
        first, last = bounds[t], bounds[t + 1]
        wi = np.zeros((1, kp), Hp.dtype)
        a_rows = np.zeros((last - first, kp), Hp.dtype)
        neg_t = neg[t]
        for c in range(n_tiles):
            for i in range(first, last):
                wi[0, :k] = W[i]
                for idx in range(tiles[i, c], tiles[i, c + 1]):
                    j = indices[idx]
                    row_axpy(a_rows, i - first, data[idx] / _model(wi, Hp, j, offset, floor, blocks), Hp, j, blocks)
        for i in range(first, last):
            for q in range(k):
                ratio = a_rows[i - first, q] / max(denominator[q] + l2 * W[i, q], floor)
                if exponent != 1.0:
                    ratio = ratio**exponent
                W[i, q] *= ratio
        for c in range(n_tiles):
            for i in range(first, last):
                wi[0, :k] = W[i]
                for idx in range(tiles[i, c], tiles[i, c + 1]):
                    j = indices[idx]
                    row_axpy(neg_t, j, data[idx] / _model(wi, Hp, j, offset, floor, blocks), wi, 0, blocks)


@numba.njit(inline="always", **_JIT)
def _value_at_entry(mode, x, v, r, power):  # pragma: no cover - compiled
    """``d(x, v) - d(0, v)`` for a stored entry (KL in the data's precision, which is enough for a
    term of a float64 sum and twice as fast in float32; the others in float64)."""
    if mode == KL:
        return x * np.log(x / v) - x
    x64 = np.float64(x)
    v64 = np.float64(v)
    if mode == NB:
        return x64 * np.log(x64 / v64) - (x64 + r) * np.log((x64 + r) / (v64 + r)) + r * np.log(r / (v64 + r))
    b = np.float64(power) + 2.0
    return (x64**b - b * x64 * v64 ** (b - 1.0)) / (b * (b - 1.0))


@numba.njit(parallel=True, **_JIT)
def _entries_value(tiles, indices, data, W, Hp, offset, size, mode, power, floor, bounds, blocks, totals):  # pragma: no cover
    k = W.shape[1]
    for t in numba.prange(bounds.shape[0] - 1):
        wi = np.zeros((1, Hp.shape[1]), Hp.dtype)
        total = 0.0
        for c in range(tiles.shape[1] - 1):
            for i in range(bounds[t], bounds[t + 1]):
                wi[0, :k] = W[i]
                for idx in range(tiles[i, c], tiles[i, c + 1]):
                    j = indices[idx]
                    v = _model(wi, Hp, j, offset, floor, blocks)
                    total += _value_at_entry(mode, data[idx], v, size[j], power)
        totals[t] = total


# -- Python entry points --------------------------------------------------------------------------


def _thread_buffers(n_blocks: int, Hp: np.ndarray, wanted: bool) -> np.ndarray:
    shape = (n_blocks, *Hp.shape) if wanted else (n_blocks, 1, Hp.shape[1])
    return aligned_zeros(shape, Hp.dtype)


def _reduce(buffers: np.ndarray, k: int) -> np.ndarray:
    """The threads' buffers summed (into the first, which holds no temporary) as a ``(k, p)`` array."""
    total = buffers[0]
    for other in buffers[1:]:
        total += other
    return np.ascontiguousarray(total[:, :k].T)


def _csr_parts(X: sp.csr_matrix, W: np.ndarray, Hp: np.ndarray):
    """``(tiles, indices, data)`` for the kernels: per-row pointers into feature tiles whose rows
    of ``Hp`` (and of the thread buffers) fit in a core's L2 cache together.

    Without tiles the kernels gather rows of ``Hp`` from all features at random; at 50,000
    features that missed the cache on most entries (measured 85 ns per entry against 19.5 ns at
    5,000 features with the same number of entries).
    """
    if not X.has_sorted_indices:
        X = X.sorted_indices()
    data = X.data if X.data.dtype == W.dtype else X.data.astype(W.dtype)
    return _tiles(X, max(LANES, TILE_BYTES // Hp.strides[0])), X.indices, data


#: Tile pointers of the matrices being fitted, by the identity of their index arrays: a fit calls
#: the kernels on the same matrices every iteration, and the pointers cost 1.6 ms per call at
#: 10,000 x 3,000 (10% of a whole 40-iteration bcNMF fit). An entry goes with its arrays.
_TILE_CACHE: dict[tuple[int, int, int], tuple[weakref.ref, weakref.ref, np.ndarray]] = {}


def _tiles(X: sp.csr_matrix, width: int) -> np.ndarray:
    """``tiles[i, c]``: where row ``i``'s entries in feature tile ``c`` (``width`` features) start."""
    key = (id(X.indptr), id(X.indices), width)
    cached = _TILE_CACHE.get(key)
    if cached is not None and cached[0]() is X.indptr and cached[1]() is X.indices:
        return cached[2]
    n_tiles = -(-X.shape[1] // width)
    # int64: with int32 pointers the KL sweep ran 23% slower (11.7 against 14.4 ms per call).
    tiles = np.empty((X.shape[0], n_tiles + 1), dtype=np.int64)
    _tile_pointers(X.indptr.astype(np.int64, copy=False), X.indices, width, tiles)

    def forget(_, key=key):
        _TILE_CACHE.pop(key, None)

    _TILE_CACHE[key] = (weakref.ref(X.indptr, forget), weakref.ref(X.indices, forget), tiles)
    return tiles


def sparse_w_parts(X: sp.csr_matrix, W: np.ndarray, H: np.ndarray, rule: EntryRule):
    """Gradient parts with respect to ``W`` at the stored entries of ``X``.

    Returns
    -------
    neg : ndarray, shape (n, k)
        ``sum_j a_ij H[:, j]`` over the stored entries of each row.
    pos_correction : ndarray of shape (n, k), or None when the rule has none
        ``sum_j b_ij H[:, j]``.
    """
    Hp = padded_transpose(H, W.dtype)
    neg = np.empty(W.shape, dtype=W.dtype)
    pos = np.empty(W.shape if rule.has_pos_correction else (1, W.shape[1]), dtype=W.dtype)
    _w_parts(*_csr_parts(X, W, Hp), np.ascontiguousarray(W), Hp, rule.offset, rule.size, rule.zero_inflation,
             rule.mode, W.dtype.type(rule.power), W.dtype.type(rule.floor), thread_bounds(X), row_blocks(Hp.shape[1]), neg, pos)
    return neg, (pos if rule.has_pos_correction else None)


def sparse_h_parts(X: sp.csr_matrix, W: np.ndarray, H: np.ndarray, rule: EntryRule):
    """Gradient parts with respect to ``H`` at the stored entries of ``X``.

    Returns
    -------
    neg : ndarray, shape (k, p)
        ``sum_i a_ij W[i]`` over the stored entries of each column.
    pos_correction : ndarray of shape (k, p), or None when the rule has none
    """
    Hp = padded_transpose(H, W.dtype)
    bounds = thread_bounds(X)
    neg = _thread_buffers(len(bounds) - 1, Hp, True)
    pos = _thread_buffers(len(bounds) - 1, Hp, rule.has_pos_correction)
    _h_parts(*_csr_parts(X, W, Hp), np.ascontiguousarray(W), Hp, rule.offset, rule.size, rule.zero_inflation,
             rule.mode, W.dtype.type(rule.power), W.dtype.type(rule.floor), bounds, row_blocks(Hp.shape[1]), neg, pos)
    k = W.shape[1]
    return _reduce(neg, k), (_reduce(pos, k) if rule.has_pos_correction else None)


def fused_value_supported(rule: EntryRule) -> bool:
    """Whether :func:`sparse_value` handles ``rule`` (not ZINB, not Itakura-Saito)."""
    return rule.mode in (KL, NB) or (rule.mode == BETA and rule.power not in (-2.0, -1.0))


def sparse_value(X: sp.csr_matrix, W: np.ndarray, H: np.ndarray, rule: EntryRule) -> float:
    """``sum of d(x, v) - d(0, v)`` over the stored entries of ``X`` (float64): the part of a
    divergence that the data's non-zeros add to its value at an all-zero matrix."""
    if not fused_value_supported(rule):
        raise ValueError(f"no fused value for entry rule {rule.mode} with power {rule.power}")
    Hp = padded_transpose(H, W.dtype)
    bounds = thread_bounds(X)
    totals = np.zeros(len(bounds) - 1)
    _entries_value(*_csr_parts(X, W, Hp), np.ascontiguousarray(W), Hp, rule.offset, rule.size, rule.mode,
                   W.dtype.type(rule.power), W.dtype.type(rule.floor), bounds, row_blocks(Hp.shape[1]), totals)
    return float(totals.sum())


def kl_usage_sweep(X: sp.csr_matrix, W: np.ndarray, H: np.ndarray, offset: np.ndarray,
                   denominator: np.ndarray, l2: float = 0.0, exponent: float = 1.0) -> np.ndarray:
    """One KL multiplicative step on ``W`` (in place), fused with the ``H`` numerator at the new ``W``.

    Each row's usages are updated from ``X / (W H)`` at its stored entries, then the same entries
    are visited again with the new row to accumulate ``W^T (X / W H)``: one pass over the data
    does what otherwise takes two, and the result equals the usage step followed by the loadings
    numerator.

    Parameters
    ----------
    X : csr_matrix, shape (n, p)
    W : ndarray, shape (n, k), C-contiguous
        Usages, updated in place.
    H : ndarray, shape (k, p)
    offset : ndarray, shape (p,)
    denominator : ndarray, shape (k,)
        The usage step's positive part without its L2 term (row sums of ``H`` plus any L1).
    l2 : float
        L2 penalty on ``W``: adds ``l2 * W`` to the denominator.
    exponent : float
        Exponent of the step.

    Returns
    -------
    ndarray, shape (k, p)
        ``W^T (X / (W H + offset))`` at the updated ``W``, over the stored entries.
    """
    if not W.flags.c_contiguous:
        raise ValueError("kl_usage_sweep updates W in place and needs it C-contiguous")
    Hp = padded_transpose(H, W.dtype)
    bounds = thread_bounds(X)
    neg = _thread_buffers(len(bounds) - 1, Hp, True)
    _kl_sweep(*_csr_parts(X, W, Hp), W, Hp, offset.astype(W.dtype, copy=False), W.dtype.type(np.finfo(np.float32).eps),
              denominator.astype(W.dtype), W.dtype.type(l2), float(exponent), bounds, row_blocks(Hp.shape[1]), neg)
    return _reduce(neg, W.shape[1])

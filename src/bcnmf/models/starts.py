"""Starting factors: random, NNDSVD and its variants (Boutsidis & Gallopoulos 2008), or given."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
from sklearn.utils.extmath import randomized_svd

from bcnmf.backend import is_sparse, row_chunks
from bcnmf.backend.blocks import ArraySource, RowSource
from bcnmf.backend.sparse import add_transposed_product

INIT_METHODS = ("random", "nndsvd", "nndsvda", "nndsvdar", "custom")
#: Methods that give (nearly) the same factors for any seed; restarts beyond the first perturb them.
DETERMINISTIC_INITS = ("nndsvd", "nndsvda", "contrastive", "custom")


def _data_mean(X) -> float:
    total = float(X.sum(dtype=np.float64)) if is_sparse(X) else float(np.sum(X, dtype=np.float64))
    return total / (X.shape[0] * X.shape[1])


def random_init(X, k: int, rng: np.random.Generator, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Half-normal factors scaled so that ``W @ H`` has the mean of ``X``."""
    scale = np.sqrt(max(_data_mean(X), 1e-12) / k)
    W = scale * np.abs(rng.standard_normal((X.shape[0], k)))
    H = scale * np.abs(rng.standard_normal((k, X.shape[1])))
    return W.astype(dtype), H.astype(dtype)


def _unit(x: np.ndarray) -> np.ndarray:
    """``x`` over its norm; zeros stay zeros (a float32 vector over a float64 floor such as 1e-300
    would divide by a float32 zero and give NaN)."""
    norm = float(np.linalg.norm(x))
    return x / norm if norm > 0 else x


def _dominant_sign_part(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The positive or negative parts of a singular pair, whichever carries more mass."""
    up, vp = np.maximum(u, 0), np.maximum(v, 0)
    un, vn = np.maximum(-u, 0), np.maximum(-v, 0)
    norm_p = np.linalg.norm(up) * np.linalg.norm(vp)
    norm_n = np.linalg.norm(un) * np.linalg.norm(vn)
    if norm_p >= norm_n:
        return _unit(up), _unit(vp), norm_p
    return _unit(un), _unit(vn), norm_n


def nndsvd_init(X, k: int, rng: np.random.Generator, dtype, fill: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative double SVD.

    Parameters
    ----------
    fill : {None, "mean", "random"}
        What replaces the zeros NNDSVD leaves: nothing (``nndsvd``: sparse factors that
        multiplicative updates cannot move away from zero), the data mean (``nndsvda``) or small
        random values (``nndsvdar``).
    """
    seed = int(rng.integers(np.iinfo(np.int32).max))
    U, S, Vt = randomized_svd(X, k, random_state=seed)
    W = np.zeros((X.shape[0], k))
    H = np.zeros((k, X.shape[1]))
    W[:, 0] = np.sqrt(S[0]) * np.abs(U[:, 0])
    H[0] = np.sqrt(S[0]) * np.abs(Vt[0])
    for j in range(1, k):
        u, v, sigma = _dominant_sign_part(U[:, j], Vt[j])
        lam = np.sqrt(S[j] * sigma)
        W[:, j] = lam * u
        H[j] = lam * v
    tiny = 1e-6 * max(W.max(), H.max(), 1e-300)
    W[W < tiny] = 0.0
    H[H < tiny] = 0.0
    mean = _data_mean(X)
    if fill == "mean":
        W[W == 0] = mean
        H[H == 0] = mean
    elif fill == "random":
        scale = mean / 100.0
        W[W == 0] = scale * rng.random(int(np.sum(W == 0)))
        H[H == 0] = scale * rng.random(int(np.sum(H == 0)))
    return W.astype(dtype), H.astype(dtype)


def initialize(X, k: int, method: str, rng: np.random.Generator, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Starting ``(W, H)`` for ``X`` by ``method`` (one of :data:`INIT_METHODS` except "custom")."""
    if method == "random":
        return random_init(X, k, rng, dtype)
    fills = {"nndsvd": None, "nndsvda": "mean", "nndsvdar": "random"}
    if method not in fills:
        raise ValueError(f"init={method!r} is not known; choose one of {INIT_METHODS}.")
    return nndsvd_init(X, k, rng, dtype, fill=fills[method])


def contrastive_loadings(X_target, X_background, k: int, rng: np.random.Generator, dtype, log_transform: bool) -> np.ndarray:
    """Loadings along the directions of largest target-to-background variance ratio.

    Solves the generalized eigenproblem ``C_t v = lambda (C_b + eps I) v`` inside the span of the
    leading right singular vectors of the pooled data, then keeps each eigenvector's dominant sign
    part (as NNDSVD does with singular vectors). Starting bcNMF from the target's own NNDSVD puts
    it among the shared programs, where the contrastive updates stall at a saddle that mixes all
    programs (measured: ARI 0.00 vs 1.00 from this start on the default simulation, 3 seeds).

    It reads at most :data:`START_ROWS` rows of each dataset, drawn with ``rng``, in row blocks
    transformed one block at a time, so the start needs no copy of the data (the ``log1p`` copies
    of two 20,000 x 50,000 matrices at 5% were 400 MB).

    Parameters
    ----------
    X_target, X_background : ndarray or CSR matrix
    k : int
    rng : numpy.random.Generator
    dtype : numpy dtype
    log_transform : bool
        Use ``log1p`` of the data (counts), which keeps high-count features from dominating.

    Returns
    -------
    H : ndarray, shape (k, n_features)
        Rows sum to one; every entry positive so multiplicative updates can reach every feature.
    """
    transform = _log1p if log_transform else None
    X_target, X_background = (_rows_for_start(X, rng) for X in (X_target, X_background))
    sources = [ArraySource(X_target), ArraySource(X_background)]
    rank = min(5 * k + 20, X_target.shape[1], X_target.shape[0] + X_background.shape[0])
    # Thin factors in the data's precision: a float64 factor would make SciPy copy float32 data.
    dtype = np.result_type(X_target.dtype, X_background.dtype, np.float32)
    Vt = pooled_row_space(sources, rank, rng, dtype, transform=transform)
    cov_t, cov_b = (_projected_covariance(source, Vt, transform) for source in sources)
    ridge = 1e-3 * np.trace(cov_b) / rank + 1e-12
    _, vectors = la.eigh(cov_t, cov_b + ridge * np.eye(rank))
    directions = vectors[:, ::-1][:, :k].T.astype(Vt.dtype) @ Vt
    del Vt  # features x (5 k + 30): dropped before H and its copies are made
    H = np.empty((k, X_target.shape[1]))
    for j, v in enumerate(directions):
        H[j] = np.maximum(v, 0) if np.linalg.norm(np.maximum(v, 0)) >= np.linalg.norm(np.minimum(v, 0)) else np.maximum(-v, 0)
    H += 1e-3 * H.max(axis=1, keepdims=True) + 1e-12
    H /= H.sum(axis=1, keepdims=True)
    return H.astype(dtype)


#: Rows of each dataset that the contrastive start reads. Its directions are covariance
#: statistics, settled well before every row of a large dataset is seen, while its cost grows with
#: the rows: from all 2 x 10,000 rows it took 1.4 s, 30 iterations' worth (see the changes page).
START_ROWS = 2000


def _rows_for_start(X, rng: np.random.Generator):
    """``X``, or :data:`START_ROWS` of its rows drawn at random (in order) when it has more."""
    if X.shape[0] <= START_ROWS:
        return X
    return X[np.sort(rng.choice(X.shape[0], size=START_ROWS, replace=False))]


def _log1p(X):
    """``log1p`` of the data; a sparse result shares the input's index arrays (only values copied)."""
    if is_sparse(X):
        X = X.tocsr()
        return sp.csr_matrix((np.log1p(X.data), X.indices, X.indptr), shape=X.shape)
    return np.log1p(X)


#: Stored entries per row block in the start's products: small next to the data, large enough
#: that the per-block overhead does not show.
BLOCK_ENTRIES = 2**18

Transform = Callable[[object], object] | None


def _row_blocks(source: RowSource, dtype, transform: Transform) -> Iterator[tuple[slice, object]]:
    """``(rows, block)`` pairs of ``source``, each ``transform``-ed, about :data:`BLOCK_ENTRIES` each."""
    n_blocks = -(-source.n_rows * source.n_features // BLOCK_ENTRIES)
    if isinstance(source, ArraySource) and is_sparse(source.X):
        n_blocks = -(-source.X.nnz // BLOCK_ENTRIES)
    for rows, block in source.blocks(max(1, n_blocks), dtype):
        yield rows, block if transform is None else transform(block)


def _projected_covariance(source: RowSource, Vt: np.ndarray, transform: Transform) -> np.ndarray:
    """Covariance of the rows of ``transform(X) @ Vt.T`` (float64), accumulated block by block."""
    gram = np.zeros((Vt.shape[0], Vt.shape[0]))
    total = np.zeros(Vt.shape[0])
    basis = np.ascontiguousarray(Vt.T)  # free for pooled_row_space's output; SciPy would copy per block
    for _, block in _row_blocks(source, Vt.dtype, transform):
        A = np.asarray(block @ basis, dtype=np.float64)
        gram += A.T @ A
        total += A.sum(axis=0)
    n = source.n_rows
    return (gram - np.outer(total, total) / max(n, 1)) / max(n - 1, 1)


def pooled_row_space(sources: list[RowSource], rank: int, rng: np.random.Generator, dtype, *, transform: Transform = None,
                     n_power_iterations: int = 4, oversample: int = 10) -> np.ndarray:
    """Leading right singular vectors of the sources' rows stacked (each ``transform``-ed), without
    stacking or copying them.

    A randomized range finder with power iterations (Halko, Martinsson & Tropp 2011) that only
    multiplies row blocks by thin dense matrices, so memory is ``rows x (rank + oversample)`` plus
    one block rather than another copy of the data.

    Parameters
    ----------
    sources : list of RowSource
    rank : int
    rng : numpy.random.Generator
    dtype : numpy dtype
        Precision of the blocks and the thin factors.
    transform : callable, optional
        Applied to each block before it is multiplied (without changing the block given).

    Returns
    -------
    ndarray, shape (rank, n_features)
        Orthonormal rows, in ``dtype``.
    """
    n_features = sources[0].n_features
    n_rows = sum(source.n_rows for source in sources)
    size = min(rank + oversample, n_features, n_rows)
    # Drawn in row panels: one float64 draw cast to float32 was a 52 MB transient at 50,000
    # features. Consecutive panels continue one stream, so every precision starts from the same Q.
    Q = np.empty((n_features, size), dtype=dtype)
    for rows in row_chunks(n_features, size, max_elements=BLOCK_ENTRIES):
        Q[rows] = rng.standard_normal((rows.stop - rows.start, size))

    def stacked_blocks():
        """``(rows, block)`` over all sources, ``rows`` counted in the stacked matrix."""
        start = 0
        for source in sources:
            for rows, block in _row_blocks(source, dtype, transform):
                yield slice(start + rows.start, start + rows.stop), block
            start += source.n_rows

    def stacked_product(Q):
        Y = np.empty((n_rows, size), dtype=dtype)
        for rows, block in stacked_blocks():
            Y[rows] = block @ Q
        return Y

    for _ in range(n_power_iterations):
        Y = orthonormalize_columns(stacked_product(Q))
        # One features x size factor at a time (each is 26 MB at 50,000 features and k = 20): the
        # old Q is dropped before the new one is allocated, and orthonormalize_columns writes in place.
        del Q
        Q = np.zeros((n_features, size), dtype=dtype)
        for rows, block in stacked_blocks():
            add_transposed_product(block, Y[rows], Q)
        del Y
        Q = orthonormalize_columns(Q)
    # The right singular vectors of Y = X Q are the eigenvectors of the small Y^T Y, accumulated
    # block by block in float64: Y is never held, nor the float64 copy and workspace a QR of Y
    # would take (together 76 MB above the fit's steady state at 20,000 x 3,000, k = 20).
    gram = np.zeros((size, size))
    for _, block in stacked_blocks():
        Y = np.asarray(block @ Q, dtype=np.float64)
        gram += Y.T @ Y
    _, vectors = la.eigh(gram)
    leading = vectors[:, ::-1][:, :rank].astype(dtype)
    # Q @ leading is written over Q, panel by panel, packed to rows of the smaller width: a separate
    # product would hold a second features x rank array. Each panel's rows are read before they
    # are written, and later panels start past where this one writes. The result is features x
    # rank in C order, so its transpose, the basis the projections multiply by, needs no copy.
    width = leading.shape[1]
    packed = Q.reshape(-1)
    for rows in row_chunks(n_features, size, max_elements=BLOCK_ENTRIES):
        packed[rows.start * width:rows.stop * width] = (Q[rows] @ leading).ravel()
    return packed[:n_features * width].reshape(n_features, width).T


def orthonormalize_columns(A: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the columns of a tall C-ordered ``A``, written over ``A``.

    The transpose of a C-ordered array is Fortran-ordered, so LAPACK's RQ factorisation of
    ``A.T`` (``A.T = R Q``) runs in place and leaves ``Q``, whose rows span the columns of ``A``.
    ``scipy.linalg.qr`` would copy ``A`` to Fortran order and return a new array: three tall
    arrays instead of one. (SciPy's QR runs about 4x faster, but each of those arrays is 26 MB at
    50,000 features and k = 20.)
    """
    At = A.T
    gerqf, orgrq = la.get_lapack_funcs(("gerqf", "orgrq"), (At,))
    lwork = 64 * At.shape[0]
    rq, tau, _, info = gerqf(At, lwork=lwork, overwrite_a=1)
    if info == 0:
        Q, _, info = orgrq(rq, tau, lwork=lwork, overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK RQ factorisation failed (info={info})")
    return Q.T


def perturb(F: np.ndarray, rng: np.random.Generator, sigma: float = 0.5) -> np.ndarray:
    """Multiplicative log-normal jitter: how restarts of a deterministic init differ."""
    return (F * rng.lognormal(0.0, sigma, size=F.shape)).astype(F.dtype)

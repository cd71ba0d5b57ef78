"""Scores of how well usages recover known groups of samples."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import normalize


def clustering_ari(usages: np.ndarray, labels, n_clusters: int | None = None, random_state: int = 0) -> float:
    """Adjusted Rand index of KMeans clusters of row-normalised usages against ``labels``.

    Rows are scaled to unit length first, so that clusters reflect which programs a sample uses,
    not how many counts it has.

    Parameters
    ----------
    usages : ndarray, shape (n_samples, k)
    labels : array-like, shape (n_samples,)
    n_clusters : int, optional
        Defaults to the number of distinct labels.
    random_state : int
        Seed of KMeans (10 starts).
    """
    labels = np.asarray(labels)
    n_clusters = n_clusters or len(np.unique(labels))
    clusters = KMeans(n_clusters, n_init=10, random_state=random_state).fit_predict(normalize(np.asarray(usages, dtype=np.float64)))
    return float(adjusted_rand_score(labels, clusters))

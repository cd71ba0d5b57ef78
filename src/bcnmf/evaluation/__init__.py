"""Scores of fitted usages against known labels, and the published bcNMF updates as a baseline."""

from bcnmf.evaluation.clustering import clustering_ari
from bcnmf.evaluation.published import fit_published, published_starts

__all__ = ["clustering_ari", "fit_published", "published_starts"]

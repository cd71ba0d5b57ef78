"""Scores of fitted usages against known labels, for benchmarks and comparisons."""

from bcnmf.evaluation.clustering import clustering_ari

__all__ = ["clustering_ari"]

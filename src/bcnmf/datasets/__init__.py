"""Datasets for examples, tests and benchmarks: a contrastive simulation and bundled real data."""

from bcnmf.datasets.mice_protein import mice_protein
from bcnmf.datasets.simulate import simulate_contrastive

__all__ = ["mice_protein", "simulate_contrastive"]

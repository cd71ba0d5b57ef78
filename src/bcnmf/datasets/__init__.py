"""Datasets for examples, tests and benchmarks: simulations and bundled real data."""

from bcnmf.datasets.case_control import simulate_case_control
from bcnmf.datasets.images import digits_on_texture
from bcnmf.datasets.mice_protein import mice_protein
from bcnmf.datasets.simulate import simulate_contrastive

__all__ = ["digits_on_texture", "mice_protein", "simulate_case_control", "simulate_contrastive"]

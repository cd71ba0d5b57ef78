"""Estimators with the scikit-learn contract."""

from bcnmf.models.bcnmf import BCNMF, AlphaTooLargeWarning, UnstableFitError
from bcnmf.models.nmf import NMF

__all__ = ["BCNMF", "NMF", "AlphaTooLargeWarning", "UnstableFitError"]

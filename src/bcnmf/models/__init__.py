"""What is fitted: one configuration of each model (plain NMF, bcNMF published and disentangled)
with its terms, starts, stabilisers and restarts. The estimators above add settings chosen from the
data; the solvers below run the iterations."""

from bcnmf.models.contrastive import (
    AlphaTooLargeWarning,
    ContrastiveModel,
    PoorFitWarning,
    UnstableFitError,
)
from bcnmf.models.nmf import NMFModel

__all__ = ["AlphaTooLargeWarning", "ContrastiveModel", "NMFModel", "PoorFitWarning", "UnstableFitError"]

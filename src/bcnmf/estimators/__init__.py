"""The estimators users call, with the scikit-learn contract: NMF, BCNMF (published and
disentangled) and the contrastive PCA baseline. Settings given as ``"auto"`` are chosen here."""

from bcnmf.estimators.bcnmf import BCNMF
from bcnmf.estimators.contrastive_pca import ContrastivePCA
from bcnmf.estimators.nmf import NMF
from bcnmf.models import AlphaTooLargeWarning, PoorFitWarning, UnstableFitError

__all__ = ["BCNMF", "NMF", "AlphaTooLargeWarning", "ContrastivePCA", "PoorFitWarning", "UnstableFitError"]

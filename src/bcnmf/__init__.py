"""bcnmf: background-contrastive non-negative matrix factorization and an NMF toolkit.

Rows are samples and columns features, as in scikit-learn and AnnData: ``X ~ W @ H`` with usages
``W`` (samples x k) and loadings ``H`` (k x features).
"""

from bcnmf import datasets, enrichment, evaluation, get, pl, selection, tl
from bcnmf._version import __version__
from bcnmf.enrichment import topic_enrichment
from bcnmf.estimators import (
           BCNMF,
           NMF,
           AlphaTooLargeWarning,
           ContrastivePCA,
           PoorFitWarning,
           UnstableFitError,
)
from bcnmf.utils.validation import DataWarning

__all__ = ["BCNMF", "NMF", "AlphaTooLargeWarning", "ContrastivePCA", "DataWarning", "PoorFitWarning",
           "UnstableFitError", "datasets",
           "enrichment", "evaluation", "get", "pl", "selection", "tl", "topic_enrichment", "__version__"]

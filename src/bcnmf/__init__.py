"""bcnmf: background-contrastive non-negative matrix factorization and an NMF toolkit.

Rows are samples and columns features, as in scikit-learn and AnnData: ``X ~ W @ H`` with usages
``W`` (samples x k) and loadings ``H`` (k x features).
"""

from bcnmf import datasets, get, pl, tl
from bcnmf.baselines import ContrastivePCA
from bcnmf.models import BCNMF, NMF, AlphaTooLargeWarning, UnstableFitError
from bcnmf.topic_enrichment import topic_enrichment
from bcnmf.validation import DataWarning

__version__ = "0.1.0"

__all__ = ["BCNMF", "NMF", "AlphaTooLargeWarning", "ContrastivePCA", "DataWarning", "UnstableFitError", "datasets", "get", "pl", "tl", "topic_enrichment", "__version__"]

"""One step of a fit: the usage and loading updates of a list of terms sharing the loadings.

An update rule is a plug-in of this layer; the solvers schedule whichever rule is chosen.
"""

from bcnmf.engine.multiplicative import (
    Parts,
    Term,
    cap_modelled_totals,
    loadings_ratio,
    loadings_step,
    normalize_loadings,
    objective,
    update_loadings,
    usage_step,
)

__all__ = ["Parts", "Term", "cap_modelled_totals", "loadings_ratio", "loadings_step", "normalize_loadings", "objective",
           "update_loadings", "usage_step"]

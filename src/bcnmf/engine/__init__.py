"""One step of a fit: the usage and loading updates of a list of terms sharing the loadings.

An update rule is a plug-in of this layer (:class:`UpdateRule`: multiplicative updates for every
loss, coordinate descent for squared error and KL); the solvers schedule whichever rule is chosen.
"""

from bcnmf.engine.base import UpdateRule
from bcnmf.engine.coordinate import COORDINATE_DESCENT
from bcnmf.engine.multiplicative import (
    MULTIPLICATIVE,
    loadings_ratio,
    loadings_step,
    usage_step,
)
from bcnmf.engine.rules import UPDATE_RULES, UPDATES, update_rule
from bcnmf.engine.terms import (
    Parts,
    Term,
    cap_modelled_totals,
    cap_totals,
    normalize_loadings,
    normalize_rows,
    objective,
)

__all__ = ["COORDINATE_DESCENT", "MULTIPLICATIVE", "UPDATES", "UPDATE_RULES", "Parts", "Term", "UpdateRule",
           "cap_modelled_totals", "cap_totals", "loadings_ratio", "loadings_step", "normalize_loadings",
           "normalize_rows", "objective",
           "update_rule", "usage_step"]

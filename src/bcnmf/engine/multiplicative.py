"""Multiplicative updates: the rule every loss supports.

With the gradient of each loss split as ``pos - neg`` (both non-negative):

* ``W`` of a term moves by ``(neg / pos) ** gamma`` of its own loss (an ordinary NMF step);
* ``H`` moves by ``(sum_+ w neg + sum_- |w| pos) / (sum_+ w pos + sum_- |w| neg)`` to the power
  ``gamma * damping``: a term with a negative weight swaps its parts, which is the contrastive step.

Penalties add to ``pos``: ``l1 + l2 * factor`` (L1 and squared-L2 on the factor).
"""

from __future__ import annotations

import numpy as np

from bcnmf.backend.multiplicative import flush_tiny, multiplicative_step
from bcnmf.backend.namespace import array_namespace
from bcnmf.engine.base import UpdateRule
from bcnmf.engine.terms import Parts, Term
from bcnmf.losses import Loss
from bcnmf.losses.penalty import Penalty


def usage_step(term: Term, H: np.ndarray, *, loadings_parts: bool = False) -> Parts | None:
    """One multiplicative step on ``term.W`` with ``H`` fixed (never increases the term's loss).

    With ``loadings_parts`` it also returns the term's gradient parts with respect to ``H`` at the
    new usages, which some losses compute in the same pass over the data. Entries too small to
    matter are set to zero (:func:`~bcnmf.backend.multiplicative.flush_tiny`).
    """
    parts = term.loss.usage_step(term.X, term.W, H, term.penalty, loadings_parts=loadings_parts)
    flush_tiny(term.W)
    return parts


def loadings_ratio(terms: list[Term], parts: list[Parts]) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator of the loadings step from each term's gradient parts.

    A term with a negative weight swaps its parts (the contrastive step). The result is linear in
    the parts, so sums over row blocks can be taken before or after this call.
    """
    xp = array_namespace(parts[0][0])
    numerator = xp.zeros_like(parts[0][0])
    denominator = xp.zeros_like(parts[0][0])
    for term, (neg, pos) in zip(terms, parts):
        if term.weight >= 0:
            numerator += term.weight * neg
            denominator += term.weight * pos
        else:
            numerator -= term.weight * pos
            denominator -= term.weight * neg
    return numerator, denominator


def loadings_step(terms: list[Term], H: np.ndarray, numerator: np.ndarray, denominator: np.ndarray,
                  penalty: Penalty = Penalty(), damping: float = 1.0) -> None:
    """Apply the (contrastive) multiplicative step on the shared loadings ``H``, in place."""
    exponent = damping * min(term.loss.mu_exponent for term in terms)
    multiplicative_step(H, numerator, penalty.add_to_pos(denominator, H), exponent)
    flush_tiny(H)


class Multiplicative(UpdateRule):
    """``update="mu"``: the multiplicative steps above, for every loss."""

    name = "mu"

    def supports(self, loss: Loss, contrastive: bool = False) -> bool:
        return True

    def usage_step(self, term: Term, H: np.ndarray, *, loadings_parts: bool = False) -> Parts | None:
        return usage_step(term, H, loadings_parts=loadings_parts)

    def loadings_parts(self, term: Term, H: np.ndarray) -> Parts:
        return term.loss.h_parts(term.X, term.W, H)

    def loadings_step(self, terms: list[Term], H: np.ndarray, parts: list[Parts], penalty: Penalty = Penalty(),
                      damping: float = 1.0) -> None:
        loadings_step(terms, H, *loadings_ratio(terms, parts), penalty, damping)


MULTIPLICATIVE = Multiplicative()

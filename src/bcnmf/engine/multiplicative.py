"""The one multiplicative-update engine behind every model.

A model is a list of :class:`Term` objects, each a dataset ``X ~ W @ H`` with its own usages ``W``,
its own loss and a signed weight, all sharing the loadings ``H``. Plain NMF is one term of weight 1;
bcNMF is a target term of weight 1 and a background term of weight ``-alpha``. With the gradient of
each loss split as ``pos - neg`` (both non-negative):

* ``W`` of a term moves by ``(neg / pos) ** gamma`` of its own loss (an ordinary NMF step);
* ``H`` moves by ``(sum_+ w neg + sum_- |w| pos) / (sum_+ w pos + sum_- |w| neg)`` to the power
  ``gamma * damping``: a term with a negative weight swaps its parts, which is the contrastive step.

Penalties add to ``pos``: ``l1 + l2 * factor`` (L1 and squared-L2 on the factor).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bcnmf.backend.multiplicative import multiplicative_step
from bcnmf.losses import Loss
from bcnmf.losses.penalty import Penalty


@dataclass
class Term:
    """One dataset in a model: ``X ~ W @ H`` under ``loss``, weighted by ``weight`` in the objective.

    Attributes
    ----------
    X : ndarray or scipy.sparse.csr_matrix, shape (n, p)
    W : ndarray, shape (n, k)
        Usages, updated in place by :func:`update_usages`.
    loss : Loss
    weight : float
        Signed weight in the objective; negative for contrastive (background) terms.
    penalty : Penalty
        Penalty on ``W``.
    """

    X: object
    W: np.ndarray
    loss: Loss
    weight: float = 1.0
    penalty: Penalty = field(default_factory=Penalty)

    def divergence(self, H: np.ndarray) -> float:
        return self.loss.value(self.X, self.W, H)


#: The gradient parts ``(neg, pos)`` of one term with respect to ``H``, each ``(k, p)``.
Parts = tuple[np.ndarray, np.ndarray]


def usage_step(term: Term, H: np.ndarray, *, loadings_parts: bool = False) -> Parts | None:
    """One multiplicative step on ``term.W`` with ``H`` fixed (never increases the term's loss).

    With ``loadings_parts`` it also returns the term's gradient parts with respect to ``H`` at the
    new usages, which some losses compute in the same pass over the data.
    """
    return term.loss.usage_step(term.X, term.W, H, term.penalty, loadings_parts=loadings_parts)


def loadings_ratio(terms: list[Term], parts: list[Parts]) -> Parts:
    """Numerator and denominator of the loadings step from each term's gradient parts.

    A term with a negative weight swaps its parts (the contrastive step). The result is linear in
    the parts, so sums over row blocks can be taken before or after this call.
    """
    numerator = np.zeros_like(parts[0][0])
    denominator = np.zeros_like(parts[0][0])
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


def update_loadings(terms: list[Term], H: np.ndarray, penalty: Penalty = Penalty(), damping: float = 1.0,
                    parts: list[Parts] | None = None) -> None:
    """One loadings step from the current usages (``parts`` if already computed), in place."""
    if parts is None:
        parts = [term.loss.h_parts(term.X, term.W, H) for term in terms]
    loadings_step(terms, H, *loadings_ratio(terms, parts), penalty, damping)


def objective(terms: list[Term], H: np.ndarray, penalty: Penalty = Penalty()) -> tuple[float, float, list[float]]:
    """``(objective, scale, divergences)``: the weighted sum of divergences plus penalties; the
    same sum with absolute weights, which is the yardstick for relative changes; and each term's
    divergence alone."""
    total = penalty.value(H)
    scale = total
    divergences = []
    for term in terms:
        divergences.append(term.divergence(H))
        d = divergences[-1] + term.penalty.value(term.W)
        total += term.weight * d
        scale += abs(term.weight) * d
    return total, scale, divergences


def normalize_loadings(terms: list[Term], H: np.ndarray) -> np.ndarray:
    """Scale each row of ``H`` to sum to one and move the scale into every term's usages.

    All losses here are invariant to ``W D, D^-1 H``; fixing the scale removes the direction in
    which contrastive updates otherwise drift (loadings to 1e18, usages to 1e-18). Returns the
    row sums divided out.
    """
    sums = H.sum(axis=1)
    sums = np.where(sums > 0, sums, 1.0).astype(H.dtype)
    H /= sums[:, None]
    for term in terms:
        term.W *= sums[None, :]
    return sums


def cap_modelled_totals(term: Term, H: np.ndarray, caps: np.ndarray) -> None:
    """Scale down columns of ``H`` where the modelled total of ``term`` exceeds ``caps``.

    ``(W.sum(0) @ H)[j]`` is what the model predicts for feature ``j`` summed over the term's
    samples. Likelihoods that penalise over-estimation sub-linearly (NB, ZINB, beta < 1) let a
    contrastive fit pile loadings onto features neither dataset expresses; the cap removes that
    escape at the cost of one ``k x p`` product.
    """
    totals = term.W.sum(axis=0) @ H
    excess = totals > caps
    if np.any(excess):
        H[:, excess] *= (caps[excess] / totals[excess]).astype(H.dtype)

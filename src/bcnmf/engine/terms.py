"""What every update rule works on: the terms of a model, sharing one set of loadings.

A model is a list of :class:`Term` objects, each a dataset ``X ~ W @ H`` with its own usages ``W``,
its own loss and a signed weight, all sharing the loadings ``H``. Plain NMF is one term of weight 1;
bcNMF is a target term of weight 1 and a background term of weight ``-alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bcnmf.backend.namespace import array_namespace
from bcnmf.losses import Loss
from bcnmf.losses.penalty import Penalty


@dataclass
class Term:
    """One dataset in a model: ``X ~ W @ H`` under ``loss``, weighted by ``weight`` in the objective.

    Attributes
    ----------
    X : ndarray or scipy.sparse.csr_matrix, shape (n, p)
    W : ndarray, shape (n, k)
        Usages, updated in place by the update rules.
    loss : Loss
    weight : float
        Signed weight in the objective; negative for contrastive (background) terms.
    penalty : Penalty
        Penalty on ``W``.
    topics : boolean ndarray of shape (k,), optional
        Topics the usages may use (the others stay zero); None for all.
    derived : dict
        Forms of ``X`` that an update rule builds once and keeps for the fit (the data by column).
    """

    X: object
    W: np.ndarray
    loss: Loss
    weight: float = 1.0
    penalty: Penalty = field(default_factory=Penalty)
    topics: np.ndarray | None = None
    derived: dict = field(default_factory=dict, repr=False, compare=False)

    def divergence(self, H: np.ndarray) -> float:
        return self.loss.value(self.X, self.W, H)


#: Statistics of one term from which an update rule moves ``H``: arrays that add up over row
#: blocks (multiplicative updates: the gradient parts ``(neg, pos)``, each ``(k, p)``).
Parts = tuple[np.ndarray, ...]


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


def normalize_loadings(terms: list[Term], H) -> np.ndarray:
    """Scale each row of ``H`` to sum to one and move the scale into every term's usages.

    All losses here are invariant to ``W D, D^-1 H``; fixing the scale removes the direction in
    which contrastive updates otherwise drift (loadings to 1e18, usages to 1e-18). Returns the
    row sums divided out.
    """
    sums = normalize_rows(H)
    for term in terms:
        term.W *= sums[None, :]
    return sums


def normalize_rows(H):
    """Scale each row of ``H`` to sum to one, in place; returns the sums divided out (1 for a row
    of zeros), by which the usages are to be multiplied."""
    xp = array_namespace(H)
    sums = xp.sum(H, axis=1)
    sums = xp.astype(xp.where(sums > 0, sums, 1.0), H.dtype)
    H /= sums[:, None]
    return sums


def cap_modelled_totals(term: Term, H, caps) -> None:
    """Scale down columns of ``H`` where the modelled total of ``term`` exceeds ``caps``.

    ``(W.sum(0) @ H)[j]`` is what the model predicts for feature ``j`` summed over the term's
    samples. Likelihoods that penalise over-estimation sub-linearly (NB, ZINB, beta < 1) let a
    contrastive fit pile loadings onto features neither dataset expresses; the cap removes that
    escape at the cost of one ``k x p`` product.
    """
    cap_totals(array_namespace(H).sum(term.W, axis=0), H, caps)


def cap_totals(usage_sums, H, caps) -> None:
    """:func:`cap_modelled_totals` from the term's usages summed over its samples (``(k,)``),
    which a schedule whose usages are spread over machines sums where they are."""
    xp = array_namespace(H)
    totals = usage_sums @ H
    excess = totals > caps
    if bool(xp.any(excess)):
        H[:, excess] *= xp.astype(caps[excess] / totals[excess], H.dtype)

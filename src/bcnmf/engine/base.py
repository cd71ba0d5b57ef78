"""The contract of an update rule: how one step moves the usages and the shared loadings."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from bcnmf.engine.terms import Parts, Term
from bcnmf.losses import Loss
from bcnmf.losses.penalty import Penalty


class UpdateRule(ABC):
    """One way of taking a step; the schedules (full batch, mini-batch) run any of them.

    A step is a usage step per term, with ``H`` fixed, then one loadings step from statistics of
    every term (:data:`~bcnmf.engine.terms.Parts`) that add up over row blocks, which is what lets
    a schedule visit the data in blocks.
    """

    #: The ``update=`` name.
    name: str = ""
    #: Whether the rule's arithmetic is written against the array API and so runs on a PyTorch
    #: device as well as on NumPy (rules with Numba kernels run on the host only).
    runs_on_device: bool = True

    @abstractmethod
    def supports(self, loss: Loss, contrastive: bool = False) -> bool:
        """Whether this rule can fit ``loss``, in a model with a negatively weighted term when
        ``contrastive``."""

    def schedules(self, loss: Loss) -> tuple[str, ...]:
        """The schedules (``solver=`` values) that can run this rule on ``loss``."""
        return ("full", "minibatch", "online")

    @abstractmethod
    def usage_step(self, term: Term, H: np.ndarray, *, loadings_parts: bool = False) -> Parts | None:
        """Move ``term.W`` (in place) with ``H`` fixed, never increasing the term's loss; with
        ``loadings_parts``, return the term's loadings statistics at the new usages."""

    @abstractmethod
    def loadings_parts(self, term: Term, H: np.ndarray) -> Parts:
        """The term's loadings statistics at its current usages."""

    @abstractmethod
    def loadings_step(self, terms: list[Term], H: np.ndarray, parts: list[Parts], penalty: Penalty = Penalty(),
                      damping: float = 1.0) -> None:
        """Move ``H`` (in place) from each term's statistics (summed over its rows); ``damping``
        in ``(0, 1]`` shortens the step."""

    def update_loadings(self, terms: list[Term], H: np.ndarray, penalty: Penalty = Penalty(), damping: float = 1.0,
                        parts: list[Parts] | None = None) -> None:
        """One loadings step from the current usages (``parts`` if already computed), in place."""
        if parts is None:
            parts = [self.loadings_parts(term, H) for term in terms]
        self.loadings_step(terms, H, parts, penalty, damping)

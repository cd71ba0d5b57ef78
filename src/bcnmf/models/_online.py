"""``partial_fit``: the online schedule driven by the caller, one block of rows per call."""

from __future__ import annotations

import numpy as np

from bcnmf.engine import Term, cap_modelled_totals, normalize_loadings, usage_step
from bcnmf.losses.penalty import Penalty
from bcnmf.models._common import flat_usages
from bcnmf.models._streaming import WARM_UP_ITERATIONS
from bcnmf.solvers.blocks import OnlineStatistics


class OnlineState:
    """Loadings and running sums carried from one ``partial_fit`` call to the next.

    Each call fits the block's usages to the current loadings, then moves the loadings as the
    online schedule does, with the statistics of earlier calls weighted down by ``forget_factor``
    per call. (A step that shrinks as the stream grows was tried: with small first blocks it
    froze the loadings near their start, ARI 0.77 on the test simulation against 0.93 here.)

    Parameters
    ----------
    H : ndarray, shape (k, p)
        Starting loadings (kept and updated).
    terms : list of (Loss, weight, Penalty, topics)
        One entry per block passed to each call; ``topics`` is a boolean mask of the topics the
        block's usages may use, or None for all.
    forget_factor : float
    H_penalty : Penalty
    damping : float
    normalize : bool
        Rescale rows of ``H`` to unit sum after every call.
    allowed_means : list of ndarray, optional
        Per-dataset cap on each feature's modelled mean (see
        :func:`~bcnmf.engine.cap_modelled_totals`).
    """

    def __init__(self, H: np.ndarray, terms: list[tuple], *, forget_factor: float, H_penalty: Penalty = Penalty(),
                 damping: float = 1.0, normalize: bool = False, allowed_means: list[np.ndarray] | None = None) -> None:
        self.H = H
        self.terms = terms
        self.forget_factor = forget_factor
        self.H_penalty = H_penalty
        self.normalize = normalize
        self.allowed_means = allowed_means
        exponent = damping * min(loss.mu_exponent for loss, *_ in terms)
        self.statistics = OnlineStatistics(H, exponent, forget_factor, steps_per_pass=1)
        self.n_steps = 0

    def step(self, blocks: list) -> list[np.ndarray]:
        """One online step on one block per term; returns each block's usages."""
        H = self.H
        block_terms = [Term(X, flat_usages(X, H, topics), loss, weight, penalty)
                       for X, (loss, weight, penalty, topics) in zip(blocks, self.terms)]
        parts = []
        for term in block_terms:
            for _ in range(WARM_UP_ITERATIONS):
                usage_step(term, H)
            parts.append(usage_step(term, H, loadings_parts=True))
        self.statistics.step(H, block_terms, parts, self.H_penalty,
                             rho=self.forget_factor)
        H_before_caps = H.copy()
        for term, allowed in zip(block_terms, self.allowed_means or []):
            cap_modelled_totals(term, H, (term.W.shape[0] * allowed).astype(H.dtype))
        self.statistics.follow_caps(H_before_caps, H)
        if self.normalize:
            self.statistics.follow_normalization(normalize_loadings(block_terms, H))
        self.n_steps += 1
        return [term.W for term in block_terms]


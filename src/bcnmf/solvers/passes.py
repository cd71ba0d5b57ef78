"""What every block schedule shares: the block function each pass runs, and the record of the
passes at which the objective is evaluated, with the convergence test."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bcnmf.engine import Term, UpdateRule
from bcnmf.solvers.convergence import ConvergenceTest
from bcnmf.solvers.full_batch import FitResult, NonFiniteError


def visit(rule: UpdateRule, term: Term, rows: slice, block, H, usage_iterations: int, evaluate: bool):
    """Usage steps on one block's rows (in place in ``term.W``), then its loadings parts and, when
    asked, its divergence at the new usages."""
    block_term = Term(block, term.W[rows], term.loss, term.weight, term.penalty, term.topics)
    for _ in range(usage_iterations - 1):
        rule.usage_step(block_term, H)
    parts = rule.usage_step(block_term, H, loadings_parts=True)
    return parts, (block_term.divergence(H) if evaluate else 0.0)


def evaluated(epoch: int, eval_every: int, max_epochs: int) -> bool:
    """Whether pass ``epoch`` takes the divergences: they cost a pass of their own, so only where
    the curve and ``tol`` need them (every ``eval_every`` passes, the first and the last)."""
    return epoch % eval_every == 0 or epoch == max_epochs or epoch == 1


@dataclass
class PassRecord:
    """The objective at the evaluated passes of a block schedule, and whether it has converged."""

    test: ConvergenceTest
    eval_every: int
    description: str
    curve: list[float] = field(default_factory=list)
    iterations: list[int] = field(default_factory=list)
    term_curves: list[list[float]] = field(default_factory=list)

    @classmethod
    def start(cls, terms: list[Term], H, tol: float, eval_every: int, description: str) -> PassRecord:
        test = ConvergenceTest(tol, H, watch_loadings=any(term.weight < 0 for term in terms))
        return cls(test, eval_every, description, term_curves=[[] for _ in terms])

    def add(self, epoch: int, current: float, scale: float, divergences: list[float], H_evaluated) -> bool:
        """Record pass ``epoch``'s objective (each term's divergence too) at loadings
        ``H_evaluated``; True once the fit has converged.

        Raises
        ------
        NonFiniteError
            When the objective is not finite.
        """
        if not np.isfinite(current):
            raise NonFiniteError(f"{self.description}: the objective became non-finite in pass {epoch}")
        self.curve.append(current)
        self.iterations.append(epoch)
        for values, d in zip(self.term_curves, divergences):
            values.append(d)
        if len(self.curve) >= 2 and epoch % self.eval_every == 0 and epoch - self.iterations[-2] == self.eval_every:
            return self.test(self.curve[-2], current, scale, H_evaluated)
        # An evaluation off the eval_every grid (the first pass) starts the next window.
        self.test.loadings_change(H_evaluated)
        return False

    def result(self, H, epoch: int, converged: bool) -> FitResult:
        return FitResult(H=H, n_iter=epoch, converged=converged, objective=self.curve[-1],
                         objective_curve=self.curve, iterations=self.iterations, term_curves=self.term_curves)

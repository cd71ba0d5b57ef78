"""The exact mini-batch schedule on a Dask cluster.

The same schedule as :func:`~bcnmf.solvers.blocks.run_block_updates` with ``"minibatch"``, run
where the data are: every pass, each row block's usage steps and loadings parts run as a task on
the worker that reads (or holds) the block, its usages stay there between passes, and the parts
come back summed by a tree of tasks (``k x features`` per term), with the divergences, the usages'
column sums (for the caps) and their penalty. The client moves the loadings once per pass, exactly
as the single-process schedule does, and broadcasts them for the next pass. Only Dask's scheduler,
client and futures are used.

A worker that dies takes the usages of its blocks with it; Dask cannot recompute them (each pass's
usages come from the previous pass's, which are released), so the fit stops with
:class:`ClusterError` and writes nothing.
"""

from __future__ import annotations

import operator
from concurrent.futures import CancelledError
from dataclasses import dataclass
from functools import partial

import numpy as np

from bcnmf.backend.dask_source import tree_fold
from bcnmf.engine import (
    MULTIPLICATIVE,
    Parts,
    Term,
    UpdateRule,
    cap_totals,
    normalize_rows,
)
from bcnmf.losses import Loss
from bcnmf.losses.penalty import Penalty
from bcnmf.solvers.full_batch import FitResult, NonFiniteError
from bcnmf.solvers.passes import PassRecord, evaluated, visit
from bcnmf.utils.progress import progress_bar


class ClusterError(RuntimeError):
    """The Dask cluster lost work a fit cannot recompute (a worker died holding usages)."""


@dataclass
class BlockSummary:
    """What a visited block sends back: its loadings parts, divergence (when evaluated), the
    column sums and penalty of its new usages, and whether they are finite. Blocks' summaries
    add up."""

    parts: Parts
    divergence: float
    usage_sums: np.ndarray
    penalty: float
    finite: bool

    def combined(self, other: BlockSummary) -> BlockSummary:
        return BlockSummary(tuple(a + b for a, b in zip(self.parts, other.parts)), self.divergence + other.divergence,
                            self.usage_sums + other.usage_sums, self.penalty + other.penalty,
                            self.finite and other.finite)


def visit_block(rule: UpdateRule, loss: Loss, weight: float, penalty: Penalty, topics, block, W: np.ndarray,
                H: np.ndarray, usage_iterations: int, evaluate: bool, scale) -> tuple[np.ndarray, BlockSummary]:
    """A block's usage steps on a worker (its usages first multiplied by ``scale``, the last
    normalisation's row sums of the loadings): the new usages and the block's summary."""
    W = np.ascontiguousarray(W * scale[None, :]) if scale is not None else W.copy()
    parts, divergence = visit(rule, Term(block, W, loss, weight, penalty, topics), slice(None), block, H,
                              usage_iterations, evaluate)
    return W, BlockSummary(tuple(parts), divergence, W.sum(axis=0, dtype=np.float64), penalty.value(W),
                           bool(np.isfinite(W).all()))


def run_distributed(
    terms: list[Term],
    H: np.ndarray,
    *,
    client,
    dtype,
    max_epochs: int,
    tol: float,
    rule: UpdateRule = MULTIPLICATIVE,
    eval_every: int = 1,
    warm_up: int = 0,
    H_penalty: Penalty = Penalty(),
    damping: float = 1.0,
    normalize: bool = False,
    total_caps: list[np.ndarray] | None = None,
    verbose: bool = False,
    description: str = "fit",
) -> FitResult:
    """Run the exact mini-batch schedule on ``client``'s cluster.

    Parameters
    ----------
    terms : list of Term
        Each with a :class:`~bcnmf.backend.dask_source.DaskSource` as ``X`` (its row chunks are the
        blocks) and starting usages ``W`` for all its rows, which receive the fitted usages at the
        end.
    H : ndarray, shape (k, p)
        Loadings, updated in place.
    client : distributed.Client
    dtype, max_epochs, tol, rule, eval_every, warm_up, H_penalty, damping, normalize, total_caps, verbose, description
        As in :func:`~bcnmf.solvers.blocks.run_block_updates`.

    Raises
    ------
    ClusterError
        When the cluster lost usages it cannot recompute (a worker died).
    NonFiniteError
        When a factor or the objective stops being finite.
    """
    from distributed import KilledWorker

    blocks = [term.X.delayed_blocks(dtype) for term in terms]
    usages = [client.scatter([np.ascontiguousarray(term.W[rows]) for rows, _ in term_blocks])
              for term, term_blocks in zip(terms, blocks)]
    scales: list = [None] * len(terms)
    record = PassRecord.start(terms, H, tol, eval_every, description)
    converged, epoch = False, 0
    try:
        with progress_bar(total=max_epochs, desc=description, disable=not verbose) as bar:
            for epoch in range(1, max_epochs + 1):
                usage_iterations = 1 + (warm_up if epoch == 1 else 0)
                evaluate = evaluated(epoch, eval_every, max_epochs)
                shared_H = client.scatter(H, broadcast=True, hash=False)
                summaries = []
                for index, term in enumerate(terms):
                    # A block is visited as soon as it is read, before the next is read (a higher
                    # priority runs first): a worker then holds about one block at a time, not all
                    # of its blocks, which the reads would otherwise all finish first.
                    data = client.compute([block for _, block in blocks[index]], priority=0)
                    visits = [client.submit(visit_block, rule, term.loss, term.weight, term.penalty, term.topics, block,
                                            W, shared_H, usage_iterations, evaluate, scales[index], pure=False,
                                            priority=1)
                              for block, W in zip(data, usages[index])]
                    usages[index] = [client.submit(operator.itemgetter(0), visit, pure=False, priority=2)
                                     for visit in visits]
                    summaries.append(tree_fold(
                        [client.submit(operator.itemgetter(1), visit, pure=False, priority=2) for visit in visits],
                        partial(client.submit, BlockSummary.combined, pure=False, priority=2)))
                    del data, visits
                    scales[index] = None
                totals: list[BlockSummary] = client.gather(summaries)
                H_evaluated = H.copy()
                rule.loadings_step(terms, H, [total.parts for total in totals], H_penalty, damping)
                for total, caps in zip(totals, total_caps or []):
                    cap_totals(total.usage_sums.astype(H.dtype), H, caps)
                if normalize:
                    sums = normalize_rows(H)
                    scales = [sums] * len(terms)
                bar.update(1)
                if not (np.isfinite(H).all() and all(total.finite for total in totals)):
                    raise NonFiniteError(f"{description}: the factors became non-finite in pass {epoch}")
                if not evaluate:
                    continue
                current = scale = H_penalty.value(H_evaluated)
                for term, total in zip(terms, totals):
                    current += term.weight * (total.divergence + total.penalty)
                    scale += abs(term.weight) * (total.divergence + total.penalty)
                bar.set_postfix(objective=f"{current:.6g}", refresh=False)
                if record.add(epoch, current, scale, [total.divergence for total in totals], H_evaluated):
                    converged = True
                    break
        for term, term_blocks, futures, pending in zip(terms, blocks, usages, scales):
            for (rows, _), W in zip(term_blocks, client.gather(futures)):
                term.W[rows] = W if pending is None else W * pending[None, :]
    except (KilledWorker, CancelledError, OSError) as error:
        raise ClusterError(f"{description}: the Dask cluster lost part of the fit ({type(error).__name__}: {error}); "
                           "nothing was written. Fit again once the cluster is whole.") from error
    return record.result(H, epoch, converged)

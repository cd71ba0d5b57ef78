"""Schedules that read each dataset in row blocks: the exact mini-batch schedule and the online one.

Both are schedules of the same two block functions as the full-batch solver (see
docs/concepts/architecture.md): a usage step on a block's rows, and the loadings' gradient parts
summed over blocks.

* ``"minibatch"`` (exact): one pass over every block of every dataset updates each block's usages
  and adds its loadings parts; the loadings move once per pass. This is the full-batch algorithm
  with the data streamed, so it reaches the same objective, with memory bounded by one block.
* ``"online"``: the loadings move after every step (one block of each dataset), from running sums
  of ``H ** (1 / gamma) * numerator`` and of the denominator that forget old steps by a factor
  ``rho = forget_factor ** (1 / steps_per_pass)`` per step (as scikit-learn's ``MiniBatchNMF``). It
  needs fewer passes over data too large to read many times.

The terms given here hold a :class:`~bcnmf.backend.blocks.RowSource` as ``X`` and usages for all
of its rows as ``W``.
"""

from __future__ import annotations

from itertools import zip_longest

import numpy as np

from bcnmf.backend.dask_source import DaskSource, current_client
from bcnmf.backend.multiplicative import EPSILON
from bcnmf.backend.namespace import array_namespace
from bcnmf.engine import (
    MULTIPLICATIVE,
    Parts,
    Term,
    UpdateRule,
    cap_modelled_totals,
    loadings_ratio,
    normalize_loadings,
)
from bcnmf.losses.penalty import Penalty
from bcnmf.solvers.distributed import run_distributed
from bcnmf.solvers.full_batch import FitResult, NonFiniteError, all_finite
from bcnmf.solvers.passes import PassRecord, evaluated, visit
from bcnmf.solvers.placement import runs_on_device
from bcnmf.utils.progress import progress_bar

SCHEDULES = ("minibatch", "online")


class _Pass:
    """One pass over the blocks: sums of the loadings parts and of the objective's pieces."""

    def __init__(self, terms: list[Term]) -> None:
        self.terms = terms
        self.parts: list[Parts | None] = [None] * len(terms)
        self.divergences = [0.0] * len(terms)

    def add(self, index: int, parts: Parts, divergence: float) -> None:
        if self.parts[index] is None:
            self.parts[index] = tuple(array_namespace(part).asarray(part, copy=True) for part in parts)
        else:
            for total, part in zip(self.parts[index], parts):
                total += part
        self.divergences[index] += divergence

    def objective(self, H: np.ndarray, H_penalty: Penalty) -> tuple[float, float]:
        total = scale = H_penalty.value(H)
        for term, divergence in zip(self.terms, self.divergences):
            d = divergence + term.penalty.value(term.W)
            total += term.weight * d
            scale += abs(term.weight) * d
        return total, scale


@runs_on_device
def run_block_updates(
    terms: list[Term],
    H: np.ndarray,
    *,
    schedule: str,
    n_blocks: int,
    dtype,
    max_epochs: int,
    tol: float,
    rule: UpdateRule = MULTIPLICATIVE,
    eval_every: int = 1,
    warm_up: int = 0,
    forget_factor: float = 0.7,
    H_penalty: Penalty = Penalty(),
    damping: float = 1.0,
    normalize: bool = False,
    total_caps: list[np.ndarray] | None = None,
    verbose: bool = False,
    description: str = "fit",
) -> FitResult:
    """Run the ``"minibatch"`` or ``"online"`` schedule for at most ``max_epochs`` passes.

    Parameters
    ----------
    terms : list of Term
        Each with a :class:`~bcnmf.backend.blocks.RowSource` as ``X`` and C-contiguous usages
        ``W`` for all its rows (updated in place).
    H : ndarray, shape (k, p)
        Loadings, updated in place.
    schedule : {"minibatch", "online"}
    n_blocks : int
        Blocks per pass for sources that split on request (each dataset in as many blocks, so
        online steps pair a target block with a background block).
    dtype : numpy dtype
        Working precision of the blocks.
    max_epochs : int
        Most passes over the data.
    tol : float
        Stop when the objective, summed over a pass, changes by less than ``tol`` times its scale
        over ``eval_every`` passes (the full-batch solver's rule, with passes for iterations).
    rule : UpdateRule
        How the usages and (once per pass) the loadings move: one that runs in ``schedule`` (see
        :meth:`~bcnmf.engine.UpdateRule.schedules`; :func:`~bcnmf.engine.update_rule` checks).
    eval_every : int
        Passes between evaluations of the objective (also taken after the first and the last
        pass) and convergence checks.
    warm_up : int
        Usage-only steps given to each block the first time it is read (the starting usages are
        fitted to the starting loadings without a pass of their own).
    forget_factor : float
        Online schedule: weight of the previous pass's statistics.
    H_penalty, damping, normalize, total_caps, verbose, description, device
        As in :func:`~bcnmf.solvers.full_batch.run_full_batch`; normalisation and caps
        are applied at the end of each pass, and on a device each block is copied there as it is
        read.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule={schedule!r}; choose one of {SCHEDULES}.")
    client = cluster_of(terms) if schedule == "minibatch" else None
    if client is not None:
        return run_distributed(terms, H, client=client, dtype=dtype, max_epochs=max_epochs, tol=tol, rule=rule,
                               eval_every=eval_every, warm_up=warm_up, H_penalty=H_penalty, damping=damping,
                               normalize=normalize, total_caps=total_caps, verbose=verbose, description=description)
    xp = array_namespace(H)
    exponent = damping * min(term.loss.mu_exponent for term in terms)
    online = OnlineStatistics(H, exponent, forget_factor, n_blocks) if schedule == "online" else None
    record = PassRecord.start(terms, H, tol, eval_every, description)
    converged, epoch = False, 0
    with progress_bar(total=max_epochs, desc=description, disable=not verbose) as bar:
        for epoch in range(1, max_epochs + 1):
            usage_iterations = 1 + (warm_up if epoch == 1 else 0)
            evaluate = evaluated(epoch, eval_every, max_epochs)
            totals = _Pass(terms)
            streams = [term.X.blocks(n_blocks, dtype) for term in terms]
            for step in zip_longest(*streams):
                active = []
                for index, (term, item) in enumerate(zip(terms, step)):
                    if item is None:
                        continue
                    parts, divergence = visit(rule, term, *item, H, usage_iterations, evaluate)
                    totals.add(index, parts, divergence)
                    active.append((term, parts))
                if online is not None:
                    online.step(H, [t for t, _ in active], [p for _, p in active], H_penalty)
            H_evaluated = xp.asarray(H, copy=True)
            if online is None:
                present = [(t, p) for t, p in zip(terms, totals.parts) if p is not None]
                rule.loadings_step([t for t, _ in present], H, [p for _, p in present], H_penalty, damping)
            H_before_caps = xp.asarray(H, copy=True)
            for term, caps in zip(terms, total_caps or []):
                cap_modelled_totals(term, H, caps)
            if online is not None:
                online.follow_caps(H_before_caps, H)
            if normalize:
                sums = normalize_loadings(terms, H)
                if online is not None:
                    online.follow_normalization(sums)
            bar.update(1)
            if not all_finite(terms, H):
                raise NonFiniteError(f"{description}: the factors became non-finite in pass {epoch}")
            if not evaluate:
                continue
            current, scale = totals.objective(H_evaluated, H_penalty)
            bar.set_postfix(objective=f"{current:.6g}", refresh=False)
            if record.add(epoch, current, scale, totals.divergences, H_evaluated):
                converged = True
                break
    return record.result(H, epoch, converged)


def cluster_of(terms: list[Term]):
    """The Dask client to run on when every term's data are a Dask array and a
    ``dask.distributed`` client is in use; None otherwise (blocks are then read here)."""
    if not all(isinstance(term.X, DaskSource) for term in terms):
        return None
    return current_client()


class OnlineStatistics:
    """Running sums for the online loadings step (scikit-learn's ``A`` and ``B``)."""

    def __init__(self, H: np.ndarray, exponent: float, forget_factor: float, steps_per_pass: int) -> None:
        self.exponent = exponent
        self.rho = forget_factor ** (1.0 / max(steps_per_pass, 1))
        self.steps_per_pass = max(steps_per_pass, 1)
        self.A = array_namespace(H).zeros_like(H)
        self.B = array_namespace(H).zeros_like(H)

    def step(self, H: np.ndarray, terms: list[Term], parts: list[Parts], penalty: Penalty,
             rho: float | None = None) -> None:
        """Fold one step's parts into the running sums (older ones weighted by ``rho``, default the
        per-step factor) and set ``H`` from them, in place."""
        if not terms:
            return
        rho = self.rho if rho is None else rho
        numerator, denominator = loadings_ratio(terms, parts)
        # A penalty that the exact schedule adds once per pass is spread over the pass's steps.
        share = Penalty(penalty.l1 / self.steps_per_pass, penalty.l2 / self.steps_per_pass)
        denominator = share.add_to_pos(denominator, H)
        base = H if self.exponent == 1.0 else H ** (1.0 / self.exponent)
        self.A *= rho
        self.B *= rho
        self.A += base * numerator
        self.B += denominator
        H[...] = self.A / array_namespace(H).maximum(self.B, EPSILON)
        if self.exponent != 1.0:
            H[...] = H**self.exponent

    def follow_caps(self, H_before: np.ndarray, H_after: np.ndarray) -> None:
        """Keep ``A / B`` equal to the loadings after caps scaled some of their columns.

        The usages did not change, so future numerators scale with ``H``: ``A`` takes the factor.
        """
        xp = array_namespace(H_after)
        factor = xp.where(H_before > 0, H_after / xp.where(H_before > 0, H_before, 1.0), 1.0)
        self.A *= factor if self.exponent == 1.0 else factor ** (1.0 / self.exponent)

    def follow_normalization(self, row_sums: np.ndarray) -> None:
        """Keep ``A / B`` equal to the loadings after their rows were divided by ``row_sums``.

        The usages took the scale, so future denominators grow by it: ``B`` takes the factor.
        Scaling ``A`` instead would mix statistics of two scales and let one topic take over.
        """
        factor = array_namespace(row_sums).astype(row_sums[:, None], self.B.dtype)
        self.B *= factor if self.exponent == 1.0 else factor ** (1.0 / self.exponent)

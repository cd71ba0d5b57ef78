"""The full-batch schedule: every iteration updates each term's usages, then the shared loadings,
with whichever update rule is given."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bcnmf.backend.device import like, to_host
from bcnmf.backend.namespace import array_namespace
from bcnmf.backend.threads import fit_threads
from bcnmf.engine import (
    MULTIPLICATIVE,
    Term,
    UpdateRule,
    cap_modelled_totals,
    normalize_loadings,
    objective,
)
from bcnmf.losses.penalty import Penalty
from bcnmf.solvers.checkpoint import Checkpoint, loss_state, restore_loss
from bcnmf.solvers.convergence import ConvergenceTest
from bcnmf.solvers.placement import runs_on_device
from bcnmf.utils.progress import progress_bar


class NonFiniteError(FloatingPointError):
    """A fit produced NaN or inf; raised so callers can back off instead of returning garbage."""


@dataclass
class FitResult:
    """What a run of a schedule ends with."""

    H: np.ndarray
    n_iter: int
    converged: bool
    objective: float
    objective_curve: list[float] = field(default_factory=list)
    iterations: list[int] = field(default_factory=list)
    #: Divergence of each term at the same iterations, one list per term.
    term_curves: list[list[float]] = field(default_factory=list)


def all_finite(terms: list[Term], H) -> bool:
    xp = array_namespace(H)
    return bool(xp.all(xp.isfinite(H))) and all(bool(xp.all(xp.isfinite(t.W))) for t in terms)


@runs_on_device
def run_full_batch(
    terms: list[Term],
    H: np.ndarray,
    *,
    max_iter: int,
    tol: float,
    rule: UpdateRule = MULTIPLICATIVE,
    eval_every: int = 10,
    update_H: bool = True,
    H_penalty: Penalty = Penalty(),
    damping: float = 1.0,
    normalize: bool = False,
    total_caps: list[np.ndarray] | None = None,
    verbose: bool = False,
    description: str = "fit",
    checkpoint: Checkpoint | None = None,
) -> FitResult:
    """Iterate ``rule``'s steps until the objective's relative change is below ``tol``.

    Parameters
    ----------
    terms : list of Term
        Datasets with their usages (updated in place), losses and weights.
    H : ndarray, shape (k, p)
        Initial loadings (updated in place when ``update_H``).
    max_iter : int
        Most iterations.
    tol : float
        Stop when ``|f_prev - f| / scale < tol``, ``f`` the objective evaluated every
        ``eval_every`` iterations and ``scale`` the sum of the divergences (absolute weights), and,
        with a contrastive (negatively weighted) term, the loadings moved less than ``10 * tol``
        (relative) over the same iterations (see
        :class:`~bcnmf.solvers.convergence.ConvergenceTest`). ``tol=0`` runs exactly ``max_iter``
        iterations.
    rule : UpdateRule
        How each step moves the factors (multiplicative updates by default).
    eval_every : int
        Iterations between objective evaluations (each costs about one update).
    update_H : bool
        False keeps ``H`` fixed (as in ``transform``).
    H_penalty : Penalty
        Penalty on ``H``.
    damping : float
        Extra exponent in ``(0, 1]`` on the loadings step.
    normalize : bool
        Rescale rows of ``H`` to unit sum after every loadings step (see
        :func:`~bcnmf.engine.normalize_loadings`).
    total_caps : list of ndarray of shape (p,), optional
        Upper bounds on each term's modelled feature totals, enforced after every loadings step
        (see :func:`~bcnmf.engine.cap_modelled_totals`).
    verbose : bool
        Show a progress bar.
    description : str
        Label of the progress bar; also names the run in a checkpoint.
    checkpoint : Checkpoint, optional
        Save the state at the first objective evaluation ``checkpoint.every`` iterations after the
        last save, and start from the saved state of this run when the file holds one.
    device : str, optional
        A PyTorch device to run on (``"cuda"``, ``"cpu"``); None runs with NumPy on the host (see
        :mod:`bcnmf.solvers.placement`).

    Raises
    ------
    NonFiniteError
        When a factor or the objective stops being finite.
    """
    saved = None if checkpoint is None else checkpoint.load(description)
    if saved is None:
        for term in terms:
            term.loss.fit_nuisance(term.X, term.W, H)
        current, scale, divergences = objective(terms, H, H_penalty)
        curve, iterations = [current], [0]
        term_curves = [[d] for d in divergences]
        first = 1
    else:
        H[...] = like(saved["H"], H)
        for term, W, state in zip(terms, saved["W"], saved["losses"]):
            term.W[...] = like(W, term.W)
            restore_loss(term.loss, {name: like(value, H) for name, value in state.items()})
        curve, iterations, term_curves, scale = saved["curve"], saved["iterations"], saved["term_curves"], saved["scale"]
        current = curve[-1]
        first = iterations[-1] + 1
    last_saved = first - 1
    test = ConvergenceTest(tol, H, watch_loadings=any(term.weight < 0 for term in terms))
    converged = False
    n_iter = first - 1
    with fit_threads(term.X for term in terms), \
            progress_bar(total=max_iter, desc=description, disable=not verbose) as bar:
        bar.update(n_iter)
        for n_iter in range(first, max_iter + 1):
            parts = [rule.usage_step(term, H, loadings_parts=update_H) for term in terms]
            if update_H:
                rule.update_loadings(terms, H, H_penalty, damping, parts)
                for term, caps in zip(terms, total_caps or []):
                    cap_modelled_totals(term, H, caps)
                if normalize:
                    normalize_loadings(terms, H)
            # Dropped now, not when the next iteration's parts replace them: two k x p arrays
            # per term less at the peak.
            del parts
            bar.update(1)
            if n_iter % eval_every and n_iter != max_iter:
                continue
            for term in terms:
                term.loss.fit_nuisance(term.X, term.W, H)
            previous = current
            current, scale, divergences = objective(terms, H, H_penalty)
            curve.append(current)
            iterations.append(n_iter)
            for values, d in zip(term_curves, divergences):
                values.append(d)
            if not (np.isfinite(current) and all_finite(terms, H)):
                raise NonFiniteError(f"{description}: the objective became non-finite at iteration {n_iter}")
            bar.set_postfix(objective=f"{current:.6g}", refresh=False)
            if test(previous, current, scale, H):
                converged = True
                break
            if checkpoint is not None and n_iter - last_saved >= checkpoint.every:
                checkpoint.save(description, {"H": to_host(H), "W": [to_host(term.W) for term in terms], "scale": scale,
                                              "losses": [loss_state(term.loss, to_host) for term in terms], "curve": curve,
                                              "iterations": iterations, "term_curves": term_curves})
                last_saved = n_iter
    return FitResult(H=H, n_iter=n_iter, converged=converged, objective=current,
                     objective_curve=curve, iterations=iterations, term_curves=term_curves)

"""Running a schedule on a PyTorch device: its inputs moved there for the run, its factors back.

The schedules take ``device=``: None runs on the host with NumPy/SciPy, as always; a device
string copies the terms' data (a row block at a time for data read in blocks), usages, loadings,
caps and loss parameters to it, runs the same schedule code there, and writes the factors and the
fitted noise parameters back into the host arrays and losses the caller gave, also when the run
raises. Nothing above this layer sees a tensor.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bcnmf.backend.device import move_arrays, to_device, to_host
from bcnmf.engine import Term


@contextmanager
def placed(terms: list[Term], H, total_caps, device: str) -> Iterator[tuple[list[Term], object, list | None]]:
    """Copies of ``terms``, ``H`` and ``total_caps`` on ``device``; on leaving, the factors are
    copied back into ``H`` and each term's ``W``, and the losses' parameters back to NumPy."""
    losses = list({id(term.loss): term.loss for term in terms}.values())

    def convert(x):
        return to_device(x, device)

    for loss in losses:
        move_arrays(loss, convert)
    device_terms = [Term(convert(term.X), convert(term.W), term.loss, term.weight, term.penalty,
                         None if term.topics is None else convert(term.topics)) for term in terms]
    device_H = convert(H)
    try:
        yield device_terms, device_H, None if total_caps is None else [convert(caps) for caps in total_caps]
    finally:
        H[...] = to_host(device_H)
        for term, device_term in zip(terms, device_terms):
            term.W[...] = to_host(device_term.W)
        for loss in losses:
            move_arrays(loss, to_host)


def runs_on_device(schedule: Callable) -> Callable:
    """Give ``schedule(terms, H, ..., total_caps=...)`` a ``device=`` keyword (see the module)."""

    @functools.wraps(schedule)
    def run(terms: list[Term], H, *args, device: str | None = None, total_caps=None, **options):
        if device is None:
            return schedule(terms, H, *args, total_caps=total_caps, **options)
        with placed(terms, H, total_caps, device) as (device_terms, device_H, device_caps):
            result = schedule(device_terms, device_H, *args, total_caps=device_caps, **options)
        result.H = H
        return result

    signature = inspect.signature(schedule)
    device = inspect.Parameter("device", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="str | None")
    run.__signature__ = signature.replace(parameters=[*signature.parameters.values(), device])
    return run

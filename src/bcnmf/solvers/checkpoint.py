"""Saving a running fit every so many iterations, so that a killed run can go on where it stopped.

A checkpoint file holds one run's state at an objective evaluation: the loadings, every term's
usages and noise parameters, the objective curves and the iteration. It also holds a fingerprint
of the data and the estimator's parameters; a file written by another fit is refused rather than
silently mixed in. Files are replaced atomically, so a kill during a save leaves the previous
checkpoint whole. Resuming gives the result of an uninterrupted run: the updates are
deterministic given that state.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bcnmf.backend.arrays import is_sparse
from bcnmf.backend.namespace import is_torch
from bcnmf.utils.files import write_atomic

#: Version of the file layout; files of another version are refused.
FORMAT = 1


@dataclass
class Checkpoint:
    """Where and how often a fit saves its state, and which fit it belongs to."""

    path: Path
    every: int
    fingerprint: str

    def load(self, run: str) -> dict | None:
        """The saved state of ``run``, or None when there is no file or it holds another run of
        the same fit (another start or contrast strength, which then begins afresh).

        Raises
        ------
        ValueError
            When the file belongs to a different fit or cannot be read.
        """
        if not self.path.exists():
            return None
        try:
            with open(self.path, "rb") as handle:
                state = pickle.load(handle)
        except (OSError, pickle.UnpicklingError, EOFError) as err:
            raise ValueError(f"checkpoint {str(self.path)!r} cannot be read ({err}); remove it to start afresh.") from None
        if not isinstance(state, dict) or state.get("format") != FORMAT or state.get("fingerprint") != self.fingerprint:
            raise ValueError(f"checkpoint {str(self.path)!r} was written by a different fit (other data, parameters or "
                             "bcnmf version); remove it or give another checkpoint path.")
        return state if state["run"] == run else None

    def save(self, run: str, state: dict) -> None:
        """Replace the file with ``state`` of ``run``."""
        payload = {**state, "format": FORMAT, "fingerprint": self.fingerprint, "run": run}
        write_atomic(self.path, lambda temporary: Path(temporary).write_bytes(pickle.dumps(payload, protocol=4)))


def fingerprint(datasets, params: dict) -> str:
    """A digest of the data (shape, stored values) and the parameters that shape a fit."""
    digest = hashlib.sha256(repr(sorted(params.items())).encode())
    for X in datasets:
        digest.update(repr(X.shape).encode())
        values = X.data if is_sparse(X) else np.ascontiguousarray(X)
        if is_sparse(X):
            digest.update(np.ascontiguousarray(X.indices).tobytes())
        digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


def loss_state(loss, convert=lambda value: value) -> dict:
    """The fitted noise parameters of a loss (arrays and numbers it holds, each through
    ``convert``), and of the loss it wraps."""
    state = {name: convert(value) for name, value in vars(loss).items()
             if isinstance(value, (np.ndarray, float, int, np.generic)) or value is None or is_torch(value)}
    if hasattr(loss, "base"):
        state["base"] = loss_state(loss.base, convert)
    return state


def restore_loss(loss, state: dict) -> None:
    """Put back what :func:`loss_state` saved."""
    for name, value in state.items():
        if name == "base":
            restore_loss(loss.base, value)
        else:
            setattr(loss, name, value)

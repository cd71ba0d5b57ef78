"""Checkpoints: a killed fit goes on from its last save and ends as an uninterrupted one."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import anndata as ad
import numpy as np
import pytest

from bcnmf import BCNMF
from bcnmf.solvers.checkpoint import Checkpoint
from bcnmf.cli import main
from bcnmf.datasets import simulate_contrastive
from helpers import write_cells

FIT = {"max_iter": 120, "tol": 0.0, "random_state": 0}


@pytest.fixture(scope="module")
def data():
    return simulate_contrastive(n_features=300, n_target=120, n_background=120, beta=2.0, seed=0)


class Interrupted(Exception):
    pass


def interrupt_after(monkeypatch, n_saves: int) -> None:
    """Make the ``n_saves``-th checkpoint save end the fit, as a kill right after it would."""
    save, count = Checkpoint.save, {"n": 0}

    def saving(self, run, state):
        save(self, run, state)
        count["n"] += 1
        if count["n"] == n_saves:
            raise Interrupted

    monkeypatch.setattr(Checkpoint, "save", saving)


def record_loads(monkeypatch) -> list:
    """The iteration of every state a checkpoint load returns, to see that a fit went on from a save."""
    load, loaded = Checkpoint.load, []

    def loading(self, run):
        state = load(self, run)
        loaded.append(None if state is None else state["iterations"][-1])  # the fit then appends to this list
        return state

    monkeypatch.setattr(Checkpoint, "load", loading)
    return loaded


@pytest.mark.parametrize("loss", ["kl", "zinb"])
def test_an_interrupted_fit_resumes_to_the_uninterrupted_result(data, tmp_path, monkeypatch, loss):
    reference = BCNMF(3, loss=loss, **FIT).fit(data.target, data.background)
    path = tmp_path / "fit.ckpt"
    with monkeypatch.context() as patch:
        interrupt_after(patch, 2)
        with pytest.raises(Interrupted):
            BCNMF(3, loss=loss, checkpoint=path, checkpoint_every=30, **FIT).fit(data.target, data.background)
    assert path.exists()
    loaded = record_loads(monkeypatch)
    resumed = BCNMF(3, loss=loss, checkpoint=path, checkpoint_every=30, **FIT).fit(data.target, data.background)
    assert loaded == [60]  # went on from the second save, not from the start
    np.testing.assert_allclose(resumed.components_, reference.components_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(resumed.target_usage_, reference.target_usage_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(resumed.objective_curve_, reference.objective_curve_, rtol=1e-9)
    assert resumed.n_iter_ == reference.n_iter_


def test_a_checkpoint_of_another_fit_is_refused(data, tmp_path):
    path = tmp_path / "fit.ckpt"
    BCNMF(3, checkpoint=path, checkpoint_every=20, **FIT).fit(data.target, data.background)
    with pytest.raises(ValueError, match="written by a different fit"):
        BCNMF(3, alpha=2.0, checkpoint=path, checkpoint_every=20, **FIT).fit(data.target, data.background)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot be read"):
        BCNMF(3, checkpoint=path, **FIT).fit(data.target, data.background)
    with pytest.raises(ValueError, match="checkpoint_every=0 must be a positive integer"):
        BCNMF(3, checkpoint=path, checkpoint_every=0).fit(data.target, data.background)


def test_a_fit_killed_with_sigkill_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    data = simulate_contrastive(n_features=600, n_target=300, n_background=300, beta=2.0, seed=1)
    cells = tmp_path / "cells.h5ad"
    write_cells(cells, *(ad.AnnData(x).to_df() for x in (data.target, data.background)))
    checkpoint = tmp_path / "fit.ckpt"
    arguments = ["fit", str(cells), "--condition-key", "condition", "--target", "MDD", "--background", "Control",
                 "-k", "4", "--max-iter", "300", "--tol", "0", "--quiet"]
    killed_out = tmp_path / "killed.h5ad"
    process = subprocess.Popen([sys.executable, "-m", "bcnmf.cli", *arguments, "--out", str(killed_out),
                                "--checkpoint", str(checkpoint), "--checkpoint-every", "20"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read()
    assert checkpoint.exists() and not killed_out.exists()

    assert main([*arguments, "--out", str(killed_out), "--checkpoint", str(checkpoint), "--checkpoint-every", "20"]) == 2
    loaded = record_loads(monkeypatch)
    assert main([*arguments, "--out", str(killed_out), "--checkpoint", str(checkpoint), "--checkpoint-every", "20",
                 "--resume"]) == 0
    assert len(loaded) == 1 and 20 <= loaded[0] < 300
    assert not checkpoint.exists()  # removed once the result is written
    reference_out = tmp_path / "reference.h5ad"
    assert main([*arguments, "--out", str(reference_out)]) == 0
    resumed, reference = ad.read_h5ad(killed_out), ad.read_h5ad(reference_out)
    # The killed run's first iterations ran in another process, where float32 BLAS may round
    # differently (seen: 3e-6 relative on 1% of the loadings after 300 iterations).
    np.testing.assert_allclose(resumed.varm["bcnmf_loadings"], reference.varm["bcnmf_loadings"], rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(resumed.obsm["X_bcnmf"], reference.obsm["X_bcnmf"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(resumed.uns["bcnmf"]["objective"], reference.uns["bcnmf"]["objective"], rtol=1e-6)

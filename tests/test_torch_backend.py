"""The PyTorch backend: every loss, NMF and both bcNMF models, full batch and mini-batch, give the
NumPy results from the same start (to float32 rounding) on a PyTorch device; devices are checked
before any work. The suite runs it on the CPU; where a CUDA GPU is present the same tests run there."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from bcnmf import BCNMF, NMF
from bcnmf.datasets import simulate_contrastive
from helpers import quiet

torch = pytest.importorskip("torch", reason="the torch backend needs PyTorch (pip install 'bcnmf[gpu]')")

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
LOSSES = [("frobenius", {}), ("kl", {}), ("beta", {"beta": 0.5}), ("nb", {}), ("zinb", {})]
#: Largest relative difference allowed between the NumPy and the torch fit: float32 rounding
#: accumulated over the iterations (measured: at most 3e-6 for the factors, 3e-5 for NB's curve).
RTOL = 1e-4


@pytest.fixture(scope="module")
def data():
    sim = simulate_contrastive(n_features=150, n_target=200, n_background=160, seed=1)
    return sp.csr_matrix(sim.target, dtype=np.float32), sp.csr_matrix(sim.background, dtype=np.float32)


def relative_difference(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / np.abs(a).max())


def assert_same_fit(numpy_model, torch_model, attributes) -> None:
    for name in attributes:
        ours, theirs = getattr(numpy_model, name), getattr(torch_model, name)
        assert isinstance(theirs, np.ndarray), f"{name} is not returned as a NumPy array"
        assert theirs.shape == ours.shape
        assert relative_difference(ours, theirs) < RTOL, name


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("storage", ["sparse", "dense"])
@pytest.mark.parametrize("loss,options", LOSSES)
def test_nmf_on_a_torch_device_gives_the_numpy_fit(data, loss, options, storage, device):
    X = data[0] if storage == "sparse" else data[0].toarray()
    common = dict(n_components=4, loss=loss, max_iter=30, tol=0, update="mu", random_state=0, **options)
    on_numpy = quiet(NMF(**common).fit, X)
    on_torch = quiet(NMF(device=device, **common).fit, X)
    assert_same_fit(on_numpy, on_torch, ["components_", "objective_curve_"])
    assert on_torch.n_iter_ == on_numpy.n_iter_ == 30
    assert on_torch.components_.dtype == np.float32
    if loss in ("nb", "zinb"):
        assert_same_fit(on_numpy, on_torch, ["dispersion_"])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("solver", ["full", "minibatch"])
@pytest.mark.parametrize("model", ["published", "disentangled"])
@pytest.mark.parametrize("loss,options", LOSSES)
def test_bcnmf_on_a_torch_device_gives_the_numpy_fit(data, loss, options, model, solver, device):
    Xt, Xb = data
    common = dict(n_components=4, loss=loss, alpha=1.0, max_iter=15, tol=0, update="mu", random_state=0,
                  solver=solver, batch_size=64, n_enriched=2 if model == "disentangled" else None, **options)
    on_numpy = quiet(BCNMF(**common).fit, Xt, Xb)
    on_torch = quiet(BCNMF(device=device, **common).fit, Xt, Xb)
    assert_same_fit(on_numpy, on_torch, ["components_", "target_usage_", "background_usage_", "objective_curve_"])
    assert list(on_torch.enrichment_["label"]) == list(on_numpy.enrichment_["label"])


@pytest.mark.parametrize("device", DEVICES)
def test_a_list_of_row_blocks_is_moved_to_the_device_block_by_block(data, device):
    X = data[0]
    blocks = [X[start:start + 50] for start in range(0, X.shape[0], 50)]
    common = dict(n_components=3, loss="kl", max_iter=10, tol=0, random_state=0)
    on_numpy = quiet(NMF(**common).fit, blocks)
    on_torch = quiet(NMF(device=device, **common).fit, blocks)
    assert_same_fit(on_numpy, on_torch, ["components_", "objective_curve_"])


def test_update_auto_takes_multiplicative_updates_on_a_device(data):
    X = data[0].toarray()
    common = dict(n_components=3, max_iter=20, tol=0, random_state=0)
    on_torch = quiet(NMF(device="cpu", **common).fit, X)
    assert_same_fit(quiet(NMF(update="mu", **common).fit, X), on_torch, ["components_"])


def test_a_checkpoint_written_on_a_device_holds_numpy_arrays(data, tmp_path):
    Xt, Xb = data
    path = tmp_path / "fit.ckpt"
    model = quiet(BCNMF(3, loss="nb", max_iter=20, tol=0, checkpoint=str(path), checkpoint_every=10,
                        device="cpu", random_state=0).fit, Xt, Xb)
    state = pickle.loads(path.read_bytes())
    assert isinstance(state["H"], np.ndarray) and all(isinstance(W, np.ndarray) for W in state["W"])
    assert all(isinstance(value, np.ndarray) for value in state["losses"][0].values() if hasattr(value, "shape"))
    # Resuming from it (the run is complete, so nothing is left to do) gives the same loadings.
    resumed = quiet(BCNMF(3, loss="nb", max_iter=20, tol=0, checkpoint=str(path), checkpoint_every=10,
                          device="cpu", random_state=0).fit, Xt, Xb)
    assert relative_difference(model.components_, resumed.components_) < RTOL


@pytest.mark.parametrize("device,message", [
    ("tpu", "is not a PyTorch device"),
    (3.5, "must be None"),
    *([] if torch.cuda.is_available() else [("cuda", "no CUDA GPU")]),
])
def test_a_device_this_machine_lacks_is_refused_before_any_work(data, device, message):
    with pytest.raises(ValueError, match=message):
        NMF(2, device=device).fit(data[0])
    with pytest.raises(ValueError, match=message):
        BCNMF(2, device=device).fit(*data)


def test_rules_and_options_that_run_on_the_host_only_are_refused_on_a_device(data):
    with pytest.raises(ValueError, match="update='cd' runs on the host only"):
        NMF(2, update="cd", device="cpu").fit(data[0])
    missing = sp.csr_matrix(([True], ([0], [0])), shape=data[0].shape)
    with pytest.raises(ValueError, match="missing= is fitted on the host only"):
        NMF(2, loss="kl", device="cpu").fit(data[0], missing=missing)

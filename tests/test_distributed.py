"""Fits on a Dask cluster: a LocalCluster of two worker processes runs the exact mini-batch
schedule where the data are and gives the single-process mini-batch fit (factors to 1e-5, the same
objective curve) for every loss and both bcNMF models, on dense, sparse and AnnData-backed Dask
arrays; a worker killed mid-fit is survived or reported, with nothing written."""

from __future__ import annotations

import os
import signal
import threading
import time

import anndata
import h5py
import numpy as np
import pytest
import scipy.sparse as sp

from bcnmf import BCNMF, NMF
from bcnmf.datasets import simulate_contrastive
from bcnmf.solvers.distributed import ClusterError
from helpers import quiet

da = pytest.importorskip("dask.array", reason="the Dask schedule needs Dask (pip install 'bcnmf[dask]')")
distributed = pytest.importorskip("distributed")

LOSSES = [("frobenius", {}), ("kl", {}), ("beta", {"beta": 0.5}), ("nb", {}), ("zinb", {})]
#: Rows per block: the Dask chunks, and the single-process schedule's batch size (coordinate
#: descent's sweeps stop on a test over the whole block, so both must cut the rows alike).
TARGET_ROWS, BACKGROUND_ROWS = 60, 45
RTOL = 1e-5


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       env={"NUMBA_NUM_THREADS": "1"})
    with distributed.Client(cluster) as connected:
        yield connected
    cluster.close()


@pytest.fixture(scope="module")
def data():
    sim = simulate_contrastive(n_features=120, n_target=240, n_background=180, seed=2)
    return sp.csr_matrix(sim.target, dtype=np.float32), sp.csr_matrix(sim.background, dtype=np.float32)


def on_dask(X, rows: int, storage: str = "sparse"):
    return da.from_array(X if storage == "sparse" else X.toarray(), chunks=(rows, -1), asarray=False)


def assert_same_fit(single, spread, attributes) -> None:
    for name in attributes:
        expected, got = np.asarray(getattr(single, name), dtype=np.float64), np.asarray(getattr(spread, name))
        assert got.shape == expected.shape, name
        assert np.abs(got - expected).max() <= RTOL * np.abs(expected).max(), name


# Dense data take the same path (the chunks' storage reaches the losses unchanged): two losses there.
@pytest.mark.parametrize("loss,options,storage", [(*loss, "sparse") for loss in LOSSES] + [
    ("kl", {}, "dense"), ("frobenius", {}, "dense")])
def test_nmf_on_a_cluster_gives_the_single_process_fit(client, data, loss, options, storage):
    X = data[0] if storage == "sparse" else data[0].toarray()
    common = dict(n_components=3, loss=loss, max_iter=8, tol=0, random_state=0, **options)
    single, spread = NMF(solver="minibatch", batch_size=TARGET_ROWS, **common), NMF(**common)
    single_usages = quiet(single.fit_transform, X)
    usages = quiet(spread.fit_transform, on_dask(data[0], TARGET_ROWS, storage))
    assert_same_fit(single, spread, ["components_", "objective_curve_"])
    assert isinstance(usages, da.Array) and usages.chunks[0] == (TARGET_ROWS,) * 4
    assert np.abs(usages.compute() - single_usages).max() <= RTOL * np.abs(single_usages).max()


@pytest.mark.parametrize("model", ["published", "disentangled"])
@pytest.mark.parametrize("loss,options", LOSSES)
def test_bcnmf_on_a_cluster_gives_the_single_process_fit(client, data, loss, options, model):
    Xt, Xb = data
    common = dict(n_components=4, loss=loss, alpha=1.0, max_iter=8, tol=0, random_state=0,
                  n_enriched=2 if model == "disentangled" else None, **options)
    single = quiet(BCNMF(solver="minibatch", batch_size=TARGET_ROWS, **common).fit, Xt, Xb)
    spread = quiet(BCNMF(**common).fit, on_dask(Xt, TARGET_ROWS), on_dask(Xb, BACKGROUND_ROWS))
    assert_same_fit(single, spread, ["components_", "target_usage_", "background_usage_", "objective_curve_"])
    assert list(spread.enrichment_["label"]) == list(single.enrichment_["label"])


def test_anndata_read_lazily_from_h5ad_files_is_fitted_on_the_cluster(client, data, tmp_path):
    paths = []
    for name, X in zip(("target", "background"), data):
        paths.append(tmp_path / f"{name}.h5ad")
        anndata.AnnData(X).write_h5ad(paths[-1])
    common = dict(n_components=3, loss="kl", alpha=1.0, max_iter=8, tol=0, random_state=0)
    single = quiet(BCNMF(solver="minibatch", batch_size=TARGET_ROWS, **common).fit, *data)
    with h5py.File(paths[0], "r") as target, h5py.File(paths[1], "r") as background:
        lazy = [anndata.experimental.read_elem_lazy(target["X"], chunks=(TARGET_ROWS, data[0].shape[1])),
                anndata.experimental.read_elem_lazy(background["X"], chunks=(BACKGROUND_ROWS, data[1].shape[1]))]
        spread = quiet(BCNMF(**common).fit, *lazy)
    assert_same_fit(single, spread, ["components_", "objective_curve_"])


def test_invalid_values_in_a_dask_array_are_refused_before_any_fitting(client, data):
    X = data[0].toarray()
    X[200, 3] = -1.0
    with pytest.raises(ValueError, match=r"X \(rows 180-239\).*negative"):
        NMF(2).fit(da.from_array(X, chunks=(TARGET_ROWS, -1)))


def test_a_worker_killed_mid_fit_is_survived_or_reported_with_nothing_written(data):
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       env={"NUMBA_NUM_THREADS": "1"})
    common = dict(n_components=3, loss="kl", max_iter=400, tol=0, random_state=0)
    with distributed.Client(cluster) as connected:
        model, outcome = NMF(**common), {}

        def fit():
            try:
                quiet(model.fit, on_dask(data[0], TARGET_ROWS))
                outcome["fitted"] = True
            except ClusterError as error:
                outcome["error"] = error

        worker = threading.Thread(target=fit)
        worker.start()
        while not connected.has_what() or sum(len(keys) for keys in connected.has_what().values()) < 8:
            time.sleep(0.05)
        time.sleep(1.0)
        victim = next(iter(connected.run(os.getpid).values()))
        assert worker.is_alive(), "the fit ended before a worker could be killed"
        os.kill(victim, signal.SIGKILL)
        worker.join(timeout=300)
        assert not worker.is_alive(), "the fit hangs after a worker died"
    cluster.close()
    if "error" in outcome:
        assert "nothing was written" in str(outcome["error"])
        assert not hasattr(model, "components_")
    else:
        single = quiet(NMF(solver="minibatch", batch_size=TARGET_ROWS, **common).fit, data[0])
        assert_same_fit(single, model, ["components_"])

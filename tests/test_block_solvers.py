"""Mini-batch, online and out-of-core fits: the exact mini-batch schedule reaches the full-batch
objective, files and block lists give the in-memory result, partial_fit learns from a stream, and
bad blocks are refused before any work."""

from __future__ import annotations

import anndata
import numpy as np
import pytest
import scipy.sparse as sp

from bcnmf import BCNMF, NMF
from bcnmf.evaluation import clustering_ari
from helpers import quiet


@pytest.fixture(scope="module")
def sparse_sim(request):
    sim = request.getfixturevalue("small_sim")
    return sp.csr_matrix(sim.target), sp.csr_matrix(sim.background), sim.target_labels


# KL's default full-batch rule (coordinate descent) does not run in blocks: both fits take the
# multiplicative updates, so that the schedules are compared and not the local minima of two rules.
@pytest.mark.parametrize("loss,kwargs", [("kl", {"update": "mu"}), ("frobenius", {}), ("nb", {"dispersion": 0.2})])
def test_nmf_minibatch_reaches_the_full_batch_objective(loss, kwargs, sparse_sim):
    X = sparse_sim[0]
    common = dict(n_components=4, loss=loss, random_state=0, max_iter=300, **kwargs)
    full = quiet(NMF(solver="full", **common).fit, X)
    mini = quiet(NMF(solver="minibatch", batch_size=64, **common).fit, X)
    assert mini.objective_curve_[-1] == pytest.approx(full.objective_curve_[-1], rel=0.02)
    assert np.all(np.diff(mini.objective_curve_) <= 1e-6 * abs(mini.objective_curve_[0]))


@pytest.mark.parametrize("loss", ["kl", "nb"])
def test_bcnmf_minibatch_reaches_the_full_batch_objective(loss, sparse_sim):
    Xt, Xb, labels = sparse_sim
    common = dict(n_components=2, loss=loss, random_state=0, max_iter=300)
    full = quiet(BCNMF(solver="full", **common).fit, Xt, Xb)
    mini = quiet(BCNMF(solver="minibatch", batch_size=64, **common).fit, Xt, Xb)
    assert mini.objective_curve_[-1] == pytest.approx(full.objective_curve_[-1], rel=0.02)
    assert clustering_ari(mini.target_usage_, labels) == pytest.approx(1.0)
    assert mini.background_usage_.shape == (Xb.shape[0], 2)


def test_bcnmf_online_recovers_the_planted_groups(sparse_sim):
    Xt, Xb, labels = sparse_sim
    model = quiet(BCNMF(2, solver="online", batch_size=50, random_state=0, max_iter=60).fit, Xt, Xb)
    assert clustering_ari(model.target_usage_, labels) > 0.95
    assert np.isfinite(model.components_).all()


def test_h5ad_paths_and_block_lists_give_the_in_memory_result(sparse_sim, tmp_path):
    Xt, Xb, _ = sparse_sim
    paths = []
    for name, X in (("target", Xt), ("background", Xb)):
        path = tmp_path / f"{name}.h5ad"
        anndata.AnnData(X=X).write_h5ad(path)
        paths.append(str(path))
    common = dict(n_components=2, random_state=0, max_iter=40, tol=0, batch_size=100)
    memory = BCNMF(solver="minibatch", **common).fit(Xt, Xb)
    from_files = BCNMF(**common).fit(*paths)  # "auto" picks the mini-batch schedule
    backed = BCNMF(**common).fit(anndata.read_h5ad(paths[0], backed="r"), anndata.read_h5ad(paths[1], backed="r"))
    blocks = BCNMF(**common).fit([Xt[i:i + 100] for i in range(0, 300, 100)], [Xb[i:i + 100] for i in range(0, 300, 100)])
    for other in (from_files, backed, blocks):
        np.testing.assert_allclose(other.components_, memory.components_, rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(other.target_usage_, memory.target_usage_, rtol=1e-3, atol=1e-4)
    assert list(from_files.feature_names_in_) == [str(i) for i in range(Xt.shape[1])]


def test_partial_fit_learns_from_a_stream(sparse_sim):
    Xt, Xb, labels = sparse_sim
    model = BCNMF(2, random_state=0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        order_t, order_b = rng.permutation(Xt.shape[0]), rng.permutation(Xb.shape[0])
        for start in range(0, Xt.shape[0], 150):
            model.partial_fit(Xt[order_t[start:start + 150]], Xb[order_b[start:start + 150]])
    assert model.n_steps_ == 10
    assert clustering_ari(model.transform(Xt), labels) > 0.95

    nmf = NMF(4, loss="kl", random_state=0)
    for start in range(0, Xt.shape[0], 100):
        nmf.partial_fit(Xt[start:start + 100])
    assert nmf.components_.shape == (4, Xt.shape[1]) and np.isfinite(nmf.components_).all()
    with pytest.raises(ValueError, match="features"):
        nmf.partial_fit(Xt[:10, :-1])


def test_block_inputs_are_checked_before_any_work(sparse_sim, tmp_path):
    Xt, Xb, _ = sparse_sim
    bad = Xb.copy()
    bad.data[bad.indptr[250]] = -1.0
    with pytest.raises(ValueError, match=r"X_background \(rows 200-299\) has 1 negative"):
        BCNMF(2).fit([Xt], [Xb[:200], bad[200:]])
    with pytest.raises(TypeError, match="partial_fit"):
        NMF(2).fit(Xt[i:i + 100] for i in range(0, 300, 100))
    with pytest.raises(ValueError, match="solver='minibatch'"):
        NMF(2, solver="full").fit([Xt])
    with pytest.raises(FileNotFoundError, match="no file"):
        NMF(2).fit(str(tmp_path / "missing.h5ad"))
    with pytest.raises(ValueError, match="batch_size"):
        NMF(2, batch_size=0).fit(Xt)
    with pytest.raises(ValueError, match="solver="):
        BCNMF(2, solver="sgd").fit(Xt, Xb)

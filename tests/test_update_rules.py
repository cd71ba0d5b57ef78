"""Update rules: coordinate descent for squared error beside the multiplicative updates, chosen by
``update=`` for every model and schedule."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.decomposition import NMF as SklearnNMF

from bcnmf import BCNMF, NMF
from bcnmf.backend.coordinate import quadratic_sweeps
from bcnmf.datasets import digits_on_texture, simulate_contrastive
from bcnmf.engine import COORDINATE_DESCENT, MULTIPLICATIVE, update_rule
from bcnmf.evaluation import clustering_ari
from bcnmf.losses import make_loss
from helpers import quiet


@pytest.fixture(scope="module")
def low_rank():
    """Dense data of rank 8 with noise: multiplicative updates are slow on it, coordinate descent is not."""
    rng = np.random.default_rng(0)
    X = rng.gamma(1.0, 1.0, (300, 8)) @ rng.gamma(0.3, 1.0, (8, 120)) + rng.uniform(0, 0.1, (300, 120))
    return X


def test_sweeps_solve_a_non_negative_quadratic_problem():
    """Many sweeps reach the known minimiser of min 0.5 f G f - a.f over f >= 0, row by row."""
    G = np.array([[2.0, 0.5], [0.5, 1.0]])
    A = np.array([[1.0, 1.0], [-1.0, 2.0], [3.0, -5.0]])
    F = np.ones((3, 2))
    quadratic_sweeps(F, A, G, np.diag(G).copy(), max_sweeps=200)
    unconstrained = np.linalg.solve(G, A[0])
    np.testing.assert_allclose(F[0], unconstrained, atol=1e-8)
    np.testing.assert_allclose(F[1], [0.0, 2.0], atol=1e-8)  # first coordinate clipped at zero
    np.testing.assert_allclose(F[2], [1.5, 0.0], atol=1e-8)
    restricted = np.ones((1, 2))
    quadratic_sweeps(restricted, A[:1], G, np.diag(G).copy(), allowed=np.array([False, True]), max_sweeps=50)
    assert restricted[0, 0] == 1.0  # not allowed to move
    np.testing.assert_allclose(restricted[0, 1], (1.0 - 0.5) / 1.0)


@pytest.mark.parametrize("sparse", [False, True])
def test_coordinate_descent_never_increases_the_objective_and_beats_multiplicative_updates(low_rank, sparse):
    X = sp.csr_matrix(low_rank) if sparse else low_rank
    cd = quiet(NMF(8, update="cd", max_iter=30, tol=0, eval_every=1, dtype="float64").fit, X)
    mu = quiet(NMF(8, update="mu", max_iter=300, tol=0, dtype="float64").fit, X)
    curve = cd.objective_curve_
    assert np.all(np.diff(curve) <= 1e-9 * curve[0])
    assert curve[-1] < mu.objective_curve_[-1]  # 30 sweeps of CD below 300 multiplicative steps


def test_default_update_for_squared_error_is_coordinate_descent(low_rank):
    default = quiet(NMF(8, max_iter=30, tol=0).fit, low_rank)
    cd = quiet(NMF(8, update="cd", max_iter=30, tol=0).fit, low_rank)
    np.testing.assert_array_equal(default.components_, cd.components_)
    assert update_rule("auto", make_loss("frobenius")) is COORDINATE_DESCENT
    assert update_rule("auto", make_loss("frobenius"), "minibatch", contrastive=True) is COORDINATE_DESCENT
    assert update_rule("auto", make_loss("kl")) is COORDINATE_DESCENT
    # KL coordinate descent needs the whole data per loadings step, and keeps out of contrastive fits.
    assert update_rule("auto", make_loss("kl"), "minibatch") is MULTIPLICATIVE
    assert update_rule("auto", make_loss("kl"), contrastive=True) is MULTIPLICATIVE
    assert update_rule("auto", make_loss("nb")) is MULTIPLICATIVE


def test_coordinate_descent_reaches_scikit_learn_coordinate_descent(low_rank):
    theirs = quiet(SklearnNMF(8, solver="cd", init="nndsvda", max_iter=1000, tol=1e-8, random_state=0).fit, low_rank)
    ours = quiet(NMF(8, update="cd", init="nndsvda", max_iter=1000, tol=1e-8, dtype="float64").fit, low_rank)
    assert ours.reconstruction_err_ <= 1.001 * theirs.reconstruction_err_


def test_coordinate_descent_keeps_penalties_and_mini_batches(low_rank):
    plain = quiet(NMF(8, update="cd", max_iter=100).fit, low_rank)
    sparse_fit = quiet(NMF(8, update="cd", max_iter=100, alpha_W=0.05, alpha_H=0.05, l1_ratio=1.0).fit, low_rank)
    assert (sparse_fit.components_ == 0).mean() > (plain.components_ == 0).mean() + 0.05
    mini = quiet(NMF(8, update="cd", solver="minibatch", batch_size=50, max_iter=100).fit, low_rank)
    assert mini.reconstruction_err_ == pytest.approx(plain.reconstruction_err_, rel=0.02)


def test_disentangled_topics_stay_restricted_under_coordinate_descent(small_sim):
    Xt, Xb = np.log1p(small_sim.target), np.log1p(small_sim.background)
    model = quiet(BCNMF(7, n_enriched=2, loss="frobenius", update="cd", random_state=0).fit, Xt, Xb)
    assert np.all(model.background_usage_[:, -2:] == 0)
    assert model.enrichment_["label"].tolist()[-2:] == ["target-enriched"] * 2
    assert clustering_ari(model.target_usage_[:, -2:], small_sim.target_labels) >= 0.95


def test_published_model_reproduces_the_digits_demo_with_coordinate_descent():
    """The paper's image demo at alpha = 1: ARI >= 0.9 over 3 seeds (measured 0.945, 0.934, 0.945;
    multiplicative updates stop at 0.81 after 500 iterations)."""
    scores = []
    for seed in range(3):
        data = digits_on_texture(seed=seed)
        usages = quiet(BCNMF(2, loss="frobenius", random_state=seed).fit_transform, data.target, data.background)
        scores.append(clustering_ari(usages, data.target_labels))
    assert np.mean(scores) >= 0.9, scores


def test_contrastive_coordinate_descent_settles():
    """Exact coordinate steps on the contrastive loadings alternated between two states forever;
    the proximal step converges, and to a lower objective than the multiplicative updates."""
    data = simulate_contrastive(n_features=1000, n_target=500, n_background=500, seed=0)
    Xt, Xb = np.log1p(data.target), np.log1p(data.background)
    cd = quiet(BCNMF(2, loss="frobenius", update="cd", random_state=0).fit, Xt, Xb)
    mu = quiet(BCNMF(2, loss="frobenius", update="mu", random_state=0).fit, Xt, Xb)
    assert cd.n_iter_ < cd.max_iter
    assert cd.objective_curve_[-1] < mu.objective_curve_[-1]
    assert clustering_ari(cd.target_usage_, data.target_labels) >= 0.95


def test_contrastive_coordinate_descent_descends_on_unrelated_data():
    """Two unrelated random matrices: ten sweeps per loadings step threw the target's loss from
    1.7e6 to 1.6e9 at 10,000 x 2,000 (here, 3,000 x 600: up to 1.43x its start within 20
    iterations); one proximal sweep keeps it within 1% of its start."""
    def log_counts(seed):
        rng = np.random.default_rng(seed)
        X = sp.random(3000, 600, density=0.1, random_state=rng, format="csr", dtype=np.float32)
        X.data = np.log1p(rng.poisson(3.0, X.nnz).astype(np.float32) + 1)
        return X

    model = quiet(BCNMF(20, alpha=1.0, loss="frobenius", update="cd", max_iter=20, tol=0, eval_every=1,
                         random_state=0).fit, log_counts(1), log_counts(2))
    assert model.alpha_ == 1.0
    assert np.all(model.target_loss_curve_ < 1.1 * model.target_loss_curve_[0])
    assert model.objective_curve_[-1] < 2 * model.objective_curve_[0]  # negative: more than doubled


@pytest.mark.parametrize("model, match", [
    (NMF(2, loss="beta", beta=1.5, update="cd"), "update='cd' fits squared error and KL only"),
    (BCNMF(2, loss="kl", update="cd"), "update='mu' for alpha > 0"),
    (NMF(2, update="newton"), "update='newton' is not known"),
    (BCNMF(2, loss="nb", update="cd"), "use update='mu' for loss='nb'"),
])
def test_update_errors_name_the_argument_before_any_work(small_sim, model, match):
    data = (small_sim.target,) if isinstance(model, NMF) else (small_sim.target, small_sim.background)
    with pytest.raises(ValueError, match=match):
        model.fit(*data)
    assert not hasattr(model, "components_")


def test_coordinate_descent_refuses_missing_entries_and_the_online_schedule(small_sim):
    X = np.log1p(small_sim.target)
    missing = np.zeros(X.shape, dtype=bool)
    missing[0, 0] = True
    with pytest.raises(ValueError, match="every entry observed"):
        NMF(2, update="cd").fit(X, missing=missing)
    with pytest.raises(ValueError, match="online"):
        NMF(2, update="cd", solver="online").fit(X)
    with pytest.raises(ValueError, match="online"):
        NMF(2, update="cd").partial_fit(X)
    with pytest.raises(ValueError, match="online"):
        BCNMF(2, loss="frobenius", update="cd").partial_fit(X, np.log1p(small_sim.background))
    fitted = quiet(NMF(2, max_iter=20).fit, X, missing=missing)  # "auto" falls back to mu
    assert np.isfinite(fitted.components_).all()


def test_old_solver_name_warns_and_fits_the_full_batch(small_sim):
    with pytest.warns(FutureWarning, match="solver='full'"):
        old = _quiet_except_future(NMF(2, solver="mu", max_iter=20).fit, small_sim.target)
    new = quiet(NMF(2, solver="full", max_iter=20).fit, small_sim.target)
    np.testing.assert_array_equal(old.components_, new.components_)


def _quiet_except_future(fit, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("always", FutureWarning)
        return fit(*args)


def test_multiplicative_updates_leave_no_subnormal_factors():
    """Unused entries shrink geometrically; in float32 they became subnormal (1,729 entries here
    after 150 iterations), which slows arithmetic on many CPUs. They are flushed to zero."""
    rng = np.random.default_rng(0)
    X = sp.random(2000, 500, density=0.1, format="csr", dtype=np.float32, random_state=0)
    X.data[:] = rng.poisson(2.0, X.nnz) + 1
    model = NMF(20, loss="kl", update="mu", max_iter=150, tol=0)
    W = quiet(model.fit_transform, X)
    H = model.components_
    tiny = np.finfo(np.float32).tiny
    for factor in (W, H):
        assert not np.any((factor != 0) & (np.abs(factor) < tiny))
    assert model.objective_curve_[-1] < model.objective_curve_[0]

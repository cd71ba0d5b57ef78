"""Coordinate descent for KL: the Newton sweeps, the NMF fits they drive, and where they are refused."""

from __future__ import annotations


import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize

from bcnmf import BCNMF, NMF
from bcnmf.backend.poisson_coordinate import kl_sweeps
from bcnmf.evaluation import clustering_ari
from bcnmf.models.starts import initialize
from helpers import quiet


@pytest.fixture(scope="module")
def poisson_counts():
    """Poisson counts of a rank-6 model, 400 x 150, about 40% zeros."""
    rng = np.random.default_rng(0)
    rate = rng.gamma(0.5, 1.0, (400, 6)) @ rng.gamma(0.3, 1.0, (6, 150))
    return rng.poisson(rate).astype(np.float64)


def _kl(X, W, H):
    V = W @ H
    return float(np.sum(np.where(X > 0, X * np.log(np.where(X > 0, X, 1) / V), 0) - X + V))


def test_sweeps_solve_each_rows_kl_problem(poisson_counts):
    """Many sweeps come close to the minimum of each row's KL problem (against L-BFGS-B; zeros are
    approached multiplicatively, hence 1e-4), and coordinates that may not move stay put."""
    rng = np.random.default_rng(1)
    H = rng.gamma(1.0, 1.0, (6, 150))
    X = sp.csr_matrix(poisson_counts)
    W = np.ones((400, 6))
    kl_sweeps(X, W, H.T, H.sum(axis=1), max_sweeps=300)
    gaps = []
    for row in range(0, 400, 40):
        x = poisson_counts[row]

        def value(w):
            v = np.maximum(w @ H, 1e-300)
            return float(np.sum(v - x * np.log(v)))

        reference = minimize(value, np.ones(6), jac=lambda w: H @ (1.0 - x / np.maximum(w @ H, 1e-300)),
                             bounds=[(0, None)] * 6, method="L-BFGS-B", options={"ftol": 1e-14, "gtol": 1e-10})
        gaps.append(value(W[row]) / reference.fun - 1)
    assert max(gaps) < 1e-4, gaps
    restricted = np.ones((400, 6))
    allowed = np.array([True] * 4 + [False] * 2)
    kl_sweeps(X, restricted, H.T, H.sum(axis=1), allowed=allowed, max_sweeps=5)
    assert np.all(restricted[:, 4:] == 1.0)


@pytest.mark.parametrize("sparse", [False, True])
def test_kl_coordinate_descent_beats_multiplicative_updates_from_the_same_start(poisson_counts, sparse):
    X = sp.csr_matrix(poisson_counts) if sparse else poisson_counts
    W0, H0 = initialize(poisson_counts, 6, "nndsvda", np.random.default_rng(0), np.float64)

    def fit(update, n_iter):
        model = NMF(6, loss="kl", update=update, init="custom", max_iter=n_iter, tol=0, eval_every=1, dtype="float64")
        W = quiet(model.fit_transform, X, W=W0.copy(), H=H0.copy())
        return model, _kl(poisson_counts, W, model.components_)

    cd, cd_value = fit("cd", 30)
    _, mu_value = fit("mu", 300)
    assert cd_value < mu_value * (1 + 1e-4)  # 30 coordinate iterations as low as 300 multiplicative ones
    curve = np.asarray(cd.objective_curve_)
    assert curve[-1] < 0.9 * curve[0]
    assert np.all(np.diff(curve[5:]) <= 1e-6 * abs(curve[0]))  # settled descent past the first steps


def test_kl_default_is_coordinate_descent_and_keeps_penalties(poisson_counts):
    default = quiet(NMF(6, loss="kl", max_iter=40, tol=0).fit, poisson_counts)
    cd = quiet(NMF(6, loss="kl", update="cd", max_iter=40, tol=0).fit, poisson_counts)
    np.testing.assert_array_equal(default.components_, cd.components_)
    sparse_fit = quiet(NMF(6, loss="kl", update="cd", max_iter=40, alpha_H=0.5, l1_ratio=1.0).fit, poisson_counts)
    # L1 on the loadings shrinks them (the usages take the scale).
    assert sparse_fit.components_.sum() < 0.9 * cd.components_.sum()


@pytest.mark.parametrize("setting,message", [
    (dict(solver="minibatch"), "solver='full'"),
    (dict(solver="online"), "solver='full'"),
])
def test_kl_coordinate_descent_outside_the_full_batch_schedule_is_refused(poisson_counts, setting, message):
    with pytest.raises(ValueError, match=message):
        NMF(6, loss="kl", update="cd", **setting).fit(poisson_counts)


def test_kl_coordinate_descent_with_a_contrastive_term_is_refused_before_work(poisson_counts):
    with pytest.raises(ValueError, match="update='mu' for alpha > 0"):
        BCNMF(3, loss="kl", update="cd", alpha=1.0).fit(poisson_counts, poisson_counts)
    with pytest.raises(ValueError, match="update='mu' for alpha > 0"):
        BCNMF(4, n_enriched=1, loss="kl", update="cd", alpha=0.5).fit(poisson_counts, poisson_counts)


def test_disentangled_kl_fit_finds_the_same_programs_with_coordinate_descent(small_sim):
    """Shared and enriched topics at alpha = 0 (the default model): coordinate descent labels the
    same topics as the multiplicative updates, in far fewer iterations."""
    fits = {update: quiet(BCNMF(7, n_enriched=2, loss="kl", update=update, random_state=0).fit,
                           small_sim.target, small_sim.background)
            for update in ("mu", "cd")}
    cd, mu = fits["cd"], fits["mu"]
    assert cd.enrichment_["label"].tolist() == mu.enrichment_["label"].tolist()
    assert cd.enrichment_["label"].tolist()[-2:] == ["target-enriched"] * 2
    assert np.all(cd.background_usage_[:, -2:] == 0)
    assert clustering_ari(cd.target_usage_[:, -2:], small_sim.target_labels) >= 0.95
    assert cd.n_iter_ < mu.n_iter_

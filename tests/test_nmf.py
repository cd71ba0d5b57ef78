"""NMF: the scikit-learn contract, agreement with scikit-learn's MU solver, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.decomposition import NMF as SklearnNMF
from sklearn.exceptions import ConvergenceWarning

from bcnmf import NMF


@pytest.fixture(scope="module")
def digits_like():
    rng = np.random.default_rng(0)
    W = rng.gamma(0.5, 1.0, size=(200, 6))
    H = rng.gamma(0.5, 1.0, size=(6, 64))
    return rng.poisson(4 * W @ H).astype(np.float64)


@pytest.mark.parametrize("loss,beta_loss", [("frobenius", "frobenius"), ("kl", "kullback-leibler")])
@pytest.mark.parametrize("sparse", [False, True])
def test_objective_within_one_percent_of_scikit_learn_mu(digits_like, loss, beta_loss, sparse):
    X = sp.csr_matrix(digits_like) if sparse else digits_like
    rng = np.random.default_rng(1)
    W0 = rng.uniform(0.1, 1.0, size=(X.shape[0], 6))
    H0 = rng.uniform(0.1, 1.0, size=(6, X.shape[1]))
    theirs = SklearnNMF(6, solver="mu", beta_loss=beta_loss, init="custom", max_iter=150, tol=0)
    theirs.fit_transform(X, W=W0.copy(), H=H0.copy())
    ours = NMF(6, loss=loss, update="mu", init="custom", max_iter=150, tol=0, dtype="float64")
    ours.fit(X, W=W0, H=H0)
    assert ours.n_iter_ == 150
    assert ours.reconstruction_err_ == pytest.approx(theirs.reconstruction_err_, rel=0.01)


def test_default_init_matches_scikit_learn_quality(digits_like):
    theirs = SklearnNMF(6, solver="mu", init="nndsvda", max_iter=300, random_state=0).fit(digits_like)
    ours = NMF(6, max_iter=300, random_state=0).fit(digits_like)
    assert ours.reconstruction_err_ <= 1.01 * theirs.reconstruction_err_


def test_same_seed_same_result_and_restarts_keep_the_best(digits_like):
    a = NMF(4, loss="kl", init="random", n_init=3, random_state=7, max_iter=60).fit(digits_like)
    b = NMF(4, loss="kl", init="random", n_init=3, random_state=7, max_iter=60).fit(digits_like)
    np.testing.assert_array_equal(a.components_, b.components_)
    assert a.objective_curve_[-1] == pytest.approx(np.nanmin(a.restart_objectives_))
    assert len(set(np.round(a.restart_objectives_, 3))) == 3


def test_objective_curve_decreases_and_transform_reproduces_usages(digits_like):
    model = NMF(6, loss="kl", max_iter=200, random_state=0)
    W = model.fit_transform(digits_like)
    assert np.all(np.diff(model.objective_curve_) <= 1e-6 * model.objective_curve_[0])
    W_new = model.transform(digits_like)
    assert np.corrcoef(W.ravel(), W_new.ravel())[0, 1] > 0.99
    assert model.inverse_transform(W).shape == digits_like.shape


@pytest.mark.parametrize("loss,kwargs", [("nb", {}), ("zinb", {}), ("beta", {"beta": 0.5})])
def test_count_losses_fit_and_report_noise_parameters(digits_like, loss, kwargs):
    model = NMF(6, loss=loss, max_iter=100, random_state=0, **kwargs).fit(digits_like)
    if loss == "beta":  # fixed likelihood: every step is non-increasing
        assert np.all(np.diff(model.objective_curve_) <= 1e-6 * model.objective_curve_[0])
    else:  # dispersion is re-estimated along the way, so only the end point is compared
        assert model.objective_curve_[-1] < model.objective_curve_[0]
    assert np.isfinite(model.components_).all()
    if loss in ("nb", "zinb"):
        assert model.dispersion_.shape == (digits_like.shape[1],)
    if loss == "zinb":
        assert np.all((model.zero_inflation_ >= 0) & (model.zero_inflation_ < 1))


def test_l1_penalty_makes_factors_sparser(digits_like):
    plain = NMF(6, max_iter=200, random_state=0).fit(digits_like)
    sparse = NMF(6, max_iter=200, random_state=0, alpha_W=0.05, l1_ratio=1.0).fit(digits_like)
    assert np.mean(sparse.components_ < 1e-6) > np.mean(plain.components_ < 1e-6)


def test_estimator_contract(digits_like):
    model = NMF(3, loss="kl")
    assert model.get_params()["loss"] == "kl"
    model.set_params(n_components=2, max_iter=20, tol=0)
    clone(model).fit(digits_like)
    frame = pd.DataFrame(digits_like, columns=[f"g{i}" for i in range(64)])
    fitted = model.fit(frame)
    assert list(fitted.feature_names_in_[:2]) == ["g0", "g1"]
    assert fitted.components_.shape == (2, 64) and fitted.components_.dtype == np.float32
    with pytest.raises(ValueError, match="different feature names"):
        fitted.transform(frame.rename(columns={"g0": "other"}))


def test_max_iter_warns(digits_like):
    with pytest.warns(ConvergenceWarning, match="max_iter=5"):
        NMF(4, max_iter=5, tol=1e-12).fit(digits_like)

"""BCNMF: recovery of planted target programs, stability on every loss and alpha, the contract."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from bcnmf import BCNMF, NMF, AlphaTooLargeWarning
from bcnmf.datasets import simulate_contrastive
from bcnmf.evaluation import clustering_ari
from bcnmf.models import ContrastiveModel, NMFModel
from bcnmf.models import contrastive as bcnmf_module
from bcnmf.solvers import NonFiniteError


def log_normalize(X):
    return np.log1p(X / X.sum(axis=1, keepdims=True) * 1e4)


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["kl", "nb", "frobenius"])
def test_default_settings_recover_target_subgroups(loss):
    """The issue's bar: ARI >= 0.95 on simulate_contrastive(beta=8) over 3 seeds, NMF near 0."""
    for seed in range(3):
        data = simulate_contrastive(seed=seed)
        Xt, Xb = data.target, data.background
        if loss == "frobenius":
            Xt, Xb = log_normalize(Xt), log_normalize(Xb)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            usages = BCNMF(2, loss=loss, random_state=seed).fit_transform(Xt, Xb)
            plain = NMF(2, loss="frobenius" if loss == "frobenius" else "kl", random_state=seed).fit_transform(Xt)
        assert clustering_ari(usages, data.target_labels) >= 0.95, (loss, seed)
        assert abs(clustering_ari(plain, data.target_labels)) < 0.1, (loss, seed)


def test_recovers_planted_programs_on_small_data(small_sim):
    model = BCNMF(2, random_state=0)
    usages = model.fit_transform(small_sim.target, small_sim.background)
    assert clustering_ari(usages, small_sim.target_labels) >= 0.95
    H = model.components_ / np.linalg.norm(model.components_, axis=1, keepdims=True)
    truth = small_sim.enriched_programs / np.linalg.norm(small_sim.enriched_programs, axis=1, keepdims=True)
    assert np.sort((H @ truth.T).max(axis=0)).min() > 0.9
    assert np.allclose(model.components_.sum(axis=1), 1.0, atol=1e-4)


@pytest.mark.parametrize("loss", ["kl", "nb", "zinb", "frobenius", "beta"])
@pytest.mark.parametrize("sparse", [False, True])
def test_finite_bounded_factors_for_every_alpha(small_sim, loss, sparse):
    data = simulate_contrastive(n_features=300, n_target=120, n_background=120, seed=1)
    Xt, Xb = data.target, data.background
    if sparse:
        Xt, Xb = sp.csr_matrix(Xt), sp.csr_matrix(Xb)
    largest_total = max(data.target.sum(axis=1).max(), data.background.sum(axis=1).max())
    for alpha in (0, 0.5, 1, 2, 5, 20):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = BCNMF(3, loss=loss, beta=0.5, alpha=alpha, max_iter=60, random_state=0).fit(Xt, Xb)
        for factor in (model.components_, model.target_usage_, model.background_usage_):
            assert np.isfinite(factor).all(), (loss, alpha)
            assert factor.min() >= 0
        assert np.allclose(model.components_.sum(axis=1), 1.0, atol=1e-3)
        # Rows of H sum to one, so a usage row sums to the modelled total of that sample.
        assert model.target_usage_.sum(axis=1).max() < 10 * largest_total, (loss, alpha)
        assert model.background_usage_.sum(axis=1).max() < 10 * largest_total, (loss, alpha)
        assert np.isfinite(model.objective_curve_).all()


def test_same_seed_same_result_sparse_equals_dense(small_sim):
    a = BCNMF(2, max_iter=50, random_state=3).fit(small_sim.target, small_sim.background)
    b = BCNMF(2, max_iter=50, random_state=3).fit(small_sim.target, small_sim.background)
    np.testing.assert_array_equal(a.components_, b.components_)
    np.testing.assert_array_equal(a.background_usage_, b.background_usage_)
    c = BCNMF(2, max_iter=50, random_state=3, dtype="float64").fit(
        sp.csr_matrix(small_sim.target), sp.csr_matrix(small_sim.background))
    np.testing.assert_allclose(c.components_, a.components_, atol=1e-4)


def test_objective_curve_is_the_contrastive_objective(small_sim):
    model = BCNMF(2, alpha=2.0, max_iter=40, tol=0, random_state=0).fit(small_sim.target, small_sim.background)
    target = bcnmf_module.make_loss("kl", offset=model.offset_)
    background = bcnmf_module.make_loss("kl", offset=model.offset_)
    expected = target.value(small_sim.target.astype(np.float32), model.target_usage_, model.components_) - 2.0 * background.value(
        small_sim.background.astype(np.float32), model.background_usage_, model.components_)
    assert model.objective_curve_[-1] == pytest.approx(expected, rel=1e-4)
    assert model.target_loss_curve_[-1] < model.target_loss_curve_[0] or model.objective_curve_[-1] < model.objective_curve_[0]
    assert model.n_iter_ == 40 and len(model.objective_curve_) == len(model.objective_curve_iterations_)


def test_transform_and_inverse_transform(small_sim):
    model = BCNMF(2, random_state=0).fit(small_sim.target, small_sim.background)
    usages = model.transform(small_sim.target)
    assert clustering_ari(usages, small_sim.target_labels) >= 0.95
    assert model.inverse_transform(usages).shape == small_sim.target.shape


def test_n_init_keeps_the_lowest_objective(small_sim):
    model = BCNMF(2, n_init=3, max_iter=40, random_state=0).fit(small_sim.target, small_sim.background)
    assert model.restart_objectives_.shape == (3,)
    assert model.objective_curve_[-1] == pytest.approx(np.nanmin(model.restart_objectives_))


def test_alpha_is_halved_with_a_warning_when_fits_diverge(small_sim, monkeypatch):
    original = BCNMF._run_start

    def diverges_above_one(self, data, H0, alpha, start, **bounds):
        if alpha > 1:
            raise NonFiniteError("the objective became non-finite")
        return original(self, data, H0, alpha, start, **bounds)

    monkeypatch.setattr(BCNMF, "_run_start", diverges_above_one)
    with pytest.warns(AlphaTooLargeWarning, match="largest alpha that worked was 1"):
        model = BCNMF(2, alpha=8.0, max_iter=30, random_state=0).fit(small_sim.target, small_sim.background)
    assert model.alpha_ == 1.0


def test_dataframes_keep_feature_names(small_sim):
    names = [f"gene{i}" for i in range(small_sim.target.shape[1])]
    model = BCNMF(2, max_iter=20, random_state=0).fit(
        pd.DataFrame(small_sim.target, columns=names), pd.DataFrame(small_sim.background, columns=names))
    assert list(model.feature_names_in_) == names


def test_estimator_params_roundtrip():
    model = BCNMF(3, alpha=2.0, loss="nb", damping=0.5)
    params = model.get_params()
    assert params["alpha"] == 2.0 and params["damping"] == 0.5
    assert BCNMF(**params).get_params() == params


@pytest.mark.parametrize("params", [{"n_components": "auto"}, {"n_components": 2, "alpha": "auto"}])
def test_one_configuration_refuses_settings_chosen_from_data(small_sim, params):
    with pytest.raises(ValueError, match="fits one configuration; 'auto' settings are chosen by bcnmf.BCNMF"):
        ContrastiveModel(**params).fit(small_sim.target, small_sim.background)
    with pytest.raises(ValueError, match="n_components='auto' is chosen by bcnmf.NMF"):
        NMFModel("auto").fit(small_sim.target)

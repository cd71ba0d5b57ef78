"""Each loss against a direct computation, its gradient parts against finite differences, sparse
against dense, and the multiplicative steps that theory says cannot increase it."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats
from scipy.special import xlogy

from bcnmf.backend.dense import squared_distance
from bcnmf.engine import MULTIPLICATIVE, Term, usage_step
from bcnmf.losses import make_loss

LOSS_CASES = [
    ("frobenius", {}),
    ("kl", {}),
    ("beta", {"beta": 0.5}),
    ("beta", {"beta": 1.5}),
    ("beta", {"beta": 3.0}),
    ("nb", {"dispersion": 0.3}),
    ("zinb", {"dispersion": 0.3, "zero_inflation": 0.2}),
]


def _factors(X, k=3, seed=1):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.2, 1.5, size=(X.shape[0], k)), rng.uniform(0.2, 1.5, size=(k, X.shape[1]))


def _direct_value(name, params, X, V):
    if name == "frobenius":
        return 0.5 * np.sum((X - V) ** 2)
    if name == "kl":
        return np.sum(xlogy(X, X / V) - X + V)
    if name == "beta":
        b = params["beta"]
        return np.sum((X**b + (b - 1) * V**b - b * X * V ** (b - 1)) / (b * (b - 1)))
    r = 1.0 / params["dispersion"]
    p_model, p_sat = r / (r + V), r / (r + X)
    nb_model = stats.nbinom.logpmf(X, r, p_model)
    nb_sat = stats.nbinom.logpmf(X, r, p_sat)
    if name == "nb":
        return -np.sum(nb_model - nb_sat)
    pi = params["zero_inflation"]
    zinb = np.where(X > 0, np.log1p(-pi) + nb_model, np.log(pi + (1 - pi) * np.exp(nb_model)))
    return -np.sum(zinb - nb_sat)


@pytest.mark.parametrize("name,params", LOSS_CASES)
def test_value_matches_direct_computation(name, params, counts):
    W, H = _factors(counts)
    loss = make_loss(name, **params)
    expected = _direct_value(name, params, counts, W @ H)
    assert loss.value(counts, W, H) == pytest.approx(expected, rel=1e-9)


def test_squared_error_of_float32_data_is_summed_in_float64():
    rng = np.random.default_rng(3)
    X = rng.random((300, 200), dtype=np.float32) * 1e3
    W, H = rng.random((300, 4), dtype=np.float32), rng.random((4, 200), dtype=np.float32)
    expected = 0.5 * np.sum((X.astype(np.float64) - (W @ H).astype(np.float64)) ** 2)
    assert make_loss("frobenius").value(X, W, H) == pytest.approx(expected, rel=1e-12)


def test_squared_distance_refuses_blocks_of_different_shapes():
    with pytest.raises(ValueError, match="one shape"):
        squared_distance(np.zeros((2, 3)), np.zeros((3, 2)))


@pytest.mark.parametrize("name,params", LOSS_CASES)
def test_sparse_input_gives_the_dense_results(name, params, counts):
    W, H = _factors(counts)
    loss = make_loss(name, **params)
    X_sparse = sp.csr_matrix(counts)
    assert loss.value(X_sparse, W, H) == pytest.approx(loss.value(counts, W, H), rel=1e-9)
    for parts in ("h_parts", "w_parts"):
        for dense_part, sparse_part in zip(getattr(loss, parts)(counts, W, H), getattr(loss, parts)(X_sparse, W, H)):
            np.testing.assert_allclose(sparse_part, dense_part, rtol=1e-9)


@pytest.mark.parametrize("name,params", LOSS_CASES)
def test_gradient_parts_match_finite_differences(name, params, counts):
    W, H = _factors(counts)
    loss = make_loss(name, **params)
    neg, pos = loss.h_parts(counts, W, H)
    rng = np.random.default_rng(2)
    direction = rng.standard_normal(H.shape)
    step = 1e-6
    numeric = (loss.value(counts, W, H + step * direction) - loss.value(counts, W, H - step * direction)) / (2 * step)
    assert np.sum((pos - neg) * direction) == pytest.approx(numeric, rel=1e-5)
    neg, pos = loss.w_parts(counts, W, H)
    direction = rng.standard_normal(W.shape)
    numeric = (loss.value(counts, W + step * direction, H) - loss.value(counts, W - step * direction, H)) / (2 * step)
    assert np.sum((pos - neg) * direction) == pytest.approx(numeric, rel=1e-5)
    assert np.all(neg >= 0) and np.all(pos >= 0)


@pytest.mark.parametrize("name,params", LOSS_CASES)
def test_multiplicative_steps_do_not_increase_the_loss(name, params, counts):
    """Majorization-minimization (Fevotte & Idier 2011; NB by Jensen plus a tangent): every
    usage and loading step of plain NMF is non-increasing."""
    W, H = _factors(counts)
    term = Term(counts, W, make_loss(name, **params))
    values = [term.divergence(H)]
    for _ in range(30):
        usage_step(term, H)
        values.append(term.divergence(H))
        MULTIPLICATIVE.update_loadings([term], H)
        values.append(term.divergence(H))
    assert np.all(np.diff(values) <= 1e-9 * abs(values[0]))
    assert values[-1] < 0.9 * values[0]


def test_zinb_em_update_of_dropout_does_not_increase_the_loss(counts):
    X = counts.copy()
    X[:, :5] = 0  # excess zeros in five features
    W, H = _factors(X)
    loss = make_loss("zinb", dispersion=0.3)
    loss.fit_nuisance(X, W, H)
    before = loss.value(X, W, H)
    pi_before = loss.zero_inflation_.copy()
    loss.fit_nuisance(X, W, H)
    assert loss.value(X, W, H) <= before + 1e-9
    assert np.all(loss.zero_inflation_[:5] > pi_before[5:].max())


def test_nb_dispersion_is_estimated_per_feature():
    rng = np.random.default_rng(3)
    mu = np.full((4000, 2), 20.0)
    dispersion = np.array([0.05, 0.5])
    X = rng.negative_binomial(1 / dispersion, 1 / (1 + mu * dispersion)).astype(float)
    loss = make_loss("nb")
    loss.fit_nuisance(X, np.full((4000, 1), 20.0), np.ones((1, 2)))
    np.testing.assert_allclose(loss.dispersion_, dispersion, rtol=0.15)


def test_beta_one_and_two_are_the_special_forms():
    assert make_loss("beta", beta=1).name == "kl"
    assert make_loss("beta", beta=2).name == "frobenius"


def test_unknown_loss_and_missing_beta_are_errors():
    with pytest.raises(ValueError, match="loss='poisson' is not known"):
        make_loss("poisson")
    with pytest.raises(ValueError, match="needs beta="):
        make_loss("beta")

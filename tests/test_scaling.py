"""Data of any magnitude is fitted as its unit-scale version would be (see bcnmf.models._scaling)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from bcnmf import BCNMF, NMF
from bcnmf.datasets import simulate_contrastive
from bcnmf.models._scaling import UNIT_RANGE, DataScale


@pytest.fixture(scope="module")
def unit_data():
    """Non-negative data whose typical non-zero entry rounds to 2**0, so that 2**s times it is
    fitted at exactly the same scaled values."""
    rng = np.random.default_rng(0)
    X = rng.gamma(2.0, 0.5, size=(40, 12)) * (rng.random((40, 12)) < 0.7)
    typical = X.sum() / np.count_nonzero(X)
    assert round(np.log2(typical)) == 0
    return X


@pytest.mark.parametrize("loss, beta, power", [("frobenius", None, 2.0), ("kl", None, 1.0), ("beta", 1.5, 1.5),
                                               ("beta", 0.5, 0.5)])
@pytest.mark.parametrize("shift", [-30, 40])
def test_nmf_of_scaled_data_is_the_scaled_fit(unit_data, loss, beta, power, shift):
    c = 2.0**shift
    kwargs = {"n_components": 3, "loss": loss, "beta": beta, "random_state": 0, "max_iter": 50, "dtype": "float64"}
    unit = NMF(**kwargs)
    W = unit.fit_transform(unit_data)
    scaled = NMF(**kwargs)
    W_scaled = scaled.fit_transform(unit_data * c)
    assert scaled.data_scale_ == c and unit.data_scale_ == 1.0
    np.testing.assert_allclose(scaled.components_, unit.components_, rtol=1e-10)
    np.testing.assert_allclose(W_scaled, W * c, rtol=1e-10)
    np.testing.assert_allclose(scaled.objective_curve_, unit.objective_curve_ * c**power, rtol=1e-10)
    np.testing.assert_allclose(scaled.reconstruction_err_**2, unit.reconstruction_err_**2 * c**power, rtol=1e-8)
    np.testing.assert_allclose(scaled.transform(unit_data[:5] * c), unit.transform(unit_data[:5]) * c, rtol=1e-10)


def test_tiny_and_huge_data_fit_in_float32():
    # Entries of 1e-5 fitted as all-zero loadings, and entries of 1e30 overflowed float32, before the
    # data were fitted at unit scale.
    model = NMF(1).fit([[1e-5]])
    np.testing.assert_allclose(model.transform([[1e-5]]) @ model.components_, [[1e-5]], rtol=1e-3)
    rng = np.random.default_rng(1)
    X = rng.random((30, 20))
    for factor in (1e-8, 1e30):
        fitted = NMF(3, random_state=0)
        W = fitted.fit_transform(X * factor)
        assert fitted.components_.max() > 0 and np.isfinite(fitted.reconstruction_err_)
        relative_error = np.linalg.norm(X * factor - W @ fitted.components_) / np.linalg.norm(X * factor)
        assert relative_error < 0.5


def test_penalties_keep_their_meaning_in_the_data_units(unit_data):
    # With squared error, X -> c X and W -> c W multiply the divergence by c**2 and an L1 penalty on
    # W by c: alpha_W * c on the scaled data is the same problem, and must give the same loadings.
    c = 2.0**-20
    kwargs = {"n_components": 3, "l1_ratio": 1.0, "alpha_H": 0.0, "random_state": 0, "max_iter": 50, "dtype": "float64"}
    unit = NMF(alpha_W=0.01, **kwargs).fit(unit_data)
    scaled = NMF(alpha_W=0.01 * c, **kwargs).fit(unit_data * c)
    np.testing.assert_allclose(scaled.components_, unit.components_, rtol=1e-8)
    assert not np.allclose(unit.components_, NMF(**kwargs).fit(unit_data).components_)


def test_online_nmf_keeps_the_first_blocks_scale(unit_data):
    c = 2.0**-25
    unit, scaled = NMF(2, solver="online", random_state=0), NMF(2, solver="online", random_state=0)
    for block in (unit_data[:20], unit_data[20:]):
        unit.partial_fit(block)
        scaled.partial_fit(block * c)
    assert scaled.data_scale_ == c
    np.testing.assert_allclose(scaled.components_, unit.components_, rtol=1e-5)


@pytest.mark.parametrize("loss", ["kl", "frobenius"])
def test_bcnmf_of_scaled_data_is_the_scaled_fit(loss):
    data = simulate_contrastive(n_features=60, n_target=80, n_background=80, seed=0)
    Xt, Xb = np.asarray(data.target, dtype=float), np.asarray(data.background, dtype=float)
    typical = Xt.sum() / np.count_nonzero(Xt)  # the target's scale is the one fitted at
    # A typical entry that rounds to 2**0, so that 2**-24 times the data is fitted at the same values.
    Xt, Xb = Xt / 2.0 ** round(np.log2(typical)), Xb / 2.0 ** round(np.log2(typical))
    c = 2.0**-24
    kwargs = {"n_components": 3, "loss": loss, "random_state": 0, "max_iter": 60, "dtype": "float64"}
    unit = BCNMF(**kwargs).fit(Xt, Xb)
    scaled = BCNMF(**kwargs).fit(Xt * c, sp.csr_matrix(Xb * c))
    np.testing.assert_allclose(scaled.components_, unit.components_, rtol=1e-8)
    np.testing.assert_allclose(scaled.target_usage_, unit.target_usage_ * c, rtol=1e-8)
    np.testing.assert_allclose(scaled.transform(Xt[:5] * c), unit.transform(Xt[:5]) * c, rtol=1e-8)
    assert scaled.enrichment_["label"].tolist() == unit.enrichment_["label"].tolist()
    np.testing.assert_allclose(scaled.fit_statistics_["explained_share"], unit.fit_statistics_["explained_share"])
    if loss == "kl":
        np.testing.assert_allclose(scaled.offset_, unit.offset_ * c, rtol=1e-8)
        np.testing.assert_allclose(scaled.divergence(Xt * c), unit.divergence(Xt) * c, rtol=1e-8)


def test_ordinary_data_and_count_models_are_fitted_as_given():
    counts = sp.random(50, 30, density=0.2, format="csr", random_state=0) * 10
    assert DataScale.choose("kl", None, [counts]).factor == 1.0
    assert DataScale.choose("nb", None, [counts * 1e-9]).factor == 1.0
    scale = DataScale.choose("frobenius", None, [counts * 1e-9])
    assert scale.active and UNIT_RANGE[0] <= (counts * 1e-9 / scale.factor).data.mean() <= UNIT_RANGE[1]
    # The caller's matrix is never divided in place.
    original = counts.copy()
    scale.data(counts)
    assert (counts != original).nnz == 0

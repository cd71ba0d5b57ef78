"""Fits that leave entries out: their values are ignored, and the model predicts them."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from bcnmf import BCNMF, NMF
from bcnmf.evaluation import clustering_ari


@pytest.fixture(scope="module")
def low_rank_counts():
    rng = np.random.default_rng(0)
    X = rng.poisson(rng.gamma(1.0, 1.0, (150, 4)) @ rng.gamma(1.0, 1.0, (4, 50)) * 3).astype(np.float64)
    missing = rng.random(X.shape) < 0.2
    return X, missing


def fit(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(*args, **kwargs)


@pytest.mark.parametrize(("loss", "kwargs"), [("kl", {}), ("frobenius", {}), ("nb", {}), ("zinb", {}),
                                              ("beta", {"beta": 1.5})])
def test_left_out_values_are_ignored_and_predicted(low_rank_counts, loss, kwargs):
    X, missing = low_rank_counts
    params = dict(loss=loss, random_state=0, max_iter=200, **kwargs)
    model = NMF(4, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predicted = model.fit_transform(X, missing=missing) @ model.components_
    again = fit(NMF(4, **params), np.where(missing, 1e4, X), missing=missing)
    np.testing.assert_allclose(again.components_, model.components_, rtol=1e-4, atol=1e-7)
    error = np.abs(predicted - X)[missing].mean()
    assert error < 0.5 * X[missing].mean()
    if loss != "zinb":  # zero inflation explains extra zeros as dropouts, so zeros barely bias it
        # The observed entries predict the left-out ones far better than a fit that takes them as zeros.
        zeros_model = fit(NMF(4, **params), np.where(missing, 0.0, X))
        zeros_predicted = zeros_model.transform(np.where(missing, 0.0, X)) @ zeros_model.components_
        assert error < 0.75 * np.abs(zeros_predicted - X)[missing].mean()


def test_sparse_data_and_mask_give_the_dense_fit(low_rank_counts):
    X, missing = low_rank_counts
    dense = fit(NMF(4, loss="kl", random_state=0, max_iter=200, dtype="float64"), X, missing=missing)
    sparse = fit(NMF(4, loss="kl", random_state=0, max_iter=200, dtype="float64"), sp.csr_matrix(X),
                 missing=sp.csr_matrix(missing))
    np.testing.assert_allclose(sparse.components_, dense.components_, rtol=1e-6, atol=1e-9)


def test_bcnmf_ignores_left_out_entries_of_either_dataset(small_sim):
    rng = np.random.default_rng(1)
    missing_t = rng.random(small_sim.target.shape) < 0.1
    missing_b = rng.random(small_sim.background.shape) < 0.1
    model = fit(BCNMF(2, random_state=0), small_sim.target, small_sim.background,
                missing_target=missing_t, missing_background=missing_b)
    assert clustering_ari(model.target_usage_, small_sim.target_labels) >= 0.95
    corrupted = np.where(missing_b, 1e4, small_sim.background)
    again = fit(BCNMF(2, random_state=0), small_sim.target, corrupted, missing_target=missing_t,
                missing_background=missing_b)
    np.testing.assert_allclose(again.components_, model.components_, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        (np.zeros((150, 49), dtype=bool), "shape"),
        (np.zeros((150, 50)), "boolean"),
        (np.vstack([np.ones((1, 50), bool), np.zeros((149, 50), bool)]), "every entry of row"),
    ],
)
def test_bad_masks_are_refused(low_rank_counts, missing, message):
    X, _ = low_rank_counts
    with pytest.raises(ValueError, match=message):
        NMF(4).fit(X, missing=missing)


def test_masks_are_refused_where_they_cannot_apply(low_rank_counts):
    X, missing = low_rank_counts
    with pytest.raises(ValueError, match="in memory"):
        NMF(4).fit([X[:75], X[75:]], missing=missing)
    with pytest.raises(ValueError, match="auto"):
        NMF("auto").fit(X, missing=missing)
    with pytest.raises(ValueError, match="beta <= 0"):
        NMF(4, loss="beta", beta=0.0).fit(X + 1, missing=missing)
    with pytest.raises(ValueError, match="in memory"):
        BCNMF(2).fit([X[:75], X[75:]], [X[:75], X[75:]], missing_target=missing)

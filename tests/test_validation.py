"""Bad input fails before any work, with a message that names the argument and the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import bcnmf
from bcnmf import BCNMF, NMF, DataWarning


@pytest.fixture
def good():
    rng = np.random.default_rng(0)
    return rng.poisson(2.0, size=(30, 12)).astype(float) + 1, rng.poisson(2.0, size=(25, 12)).astype(float) + 1


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda X: X - 5, "X_target has .* negative entries"),
        (lambda X: np.where(X > 3, np.nan, X), "X_target contains .* NaN or infinite"),
        (lambda X: np.where(X > 3, np.inf, X), "X_target contains .* NaN or infinite"),
        (lambda X: X[:, :5], "X_target has 5 features but X_background has 12"),
        (lambda X: X[0], "X_target must be 2-D"),
        (lambda X: X[:0], "X_target is empty"),
        (lambda X: X.astype(str), "not numeric"),
        (lambda X: sp.csr_matrix(-X), "X_target has .* negative entries"),
    ],
)
def test_bad_target_is_rejected(good, mutate, message):
    Xt, Xb = good
    with pytest.raises(ValueError, match=message):
        BCNMF(2).fit(mutate(Xt), Xb)


def test_bad_background_is_named(good):
    Xt, Xb = good
    Xb[0, 0] = -1
    with pytest.raises(ValueError, match="X_background has 1 negative"):
        BCNMF(2).fit(Xt, Xb)


@pytest.mark.parametrize(
    "params,message",
    [
        ({"alpha": -1}, "alpha=-1 must be >= 0"),
        ({"alpha": float("nan")}, "alpha=nan must be a finite number"),
        ({"loss": "poisson"}, "loss='poisson' is not known"),
        ({"loss": "beta"}, "needs beta="),
        ({"n_components": 13}, "n_components=13 is larger than X_target allows"),
        ({"n_components": 0}, "n_components=0 must be a positive integer"),
        ({"n_components": 2.5}, "must be a positive integer"),
        ({"damping": 0}, "damping=0 must be > 0"),
        ({"damping": 2}, "damping=2 must be at most 1"),
        ({"dtype": "int32"}, "dtype='int32' is not supported"),
        ({"init": "svd"}, "init='svd' is not known"),
        ({"max_iter": 0}, "max_iter=0 must be a positive integer"),
        ({"loss": "nb", "dispersion": float("nan")}, "dispersion must be positive and finite"),
        ({"loss": "nb", "dispersion": -1}, "dispersion must be positive and finite"),
        ({"loss": "nb", "dispersion": 0}, "dispersion must be positive and finite"),
        ({"loss": "nb", "dispersion": [0.1, 0.2]}, r"dispersion has shape \(2,\); give one number, one per feature"),
        ({"loss": "nb", "dispersion": "high"}, "dispersion='high' is not a number"),
    ],
)
def test_bad_parameters_are_rejected(good, params, message):
    with pytest.raises(ValueError, match=message):
        BCNMF(**{"n_components": 2, **params}).fit(*good)


def test_feature_names_must_match(good):
    Xt, Xb = good
    names = [f"g{i}" for i in range(12)]
    target = pd.DataFrame(Xt, columns=names)
    with pytest.raises(ValueError, match="different order"):
        BCNMF(2).fit(target, pd.DataFrame(Xb, columns=names[::-1]))
    with pytest.raises(ValueError, match="different feature names"):
        BCNMF(2).fit(target, pd.DataFrame(Xb, columns=[f"x{i}" for i in range(12)]))
    with pytest.raises(ValueError, match="non-numeric columns"):
        BCNMF(2).fit(target.assign(g0="a"), pd.DataFrame(Xb, columns=names))


def test_empty_rows_and_columns_warn_with_counts(good):
    Xt, Xb = good
    Xt[:3] = 0
    Xt[:, 0] = 0
    Xb[:, 0] = 0
    with pytest.warns(DataWarning, match="3 all-zero rows") as record:
        BCNMF(2, max_iter=5, tol=0).fit(Xt, Xb)
    assert any("1 all-zero columns" in str(w.message) for w in record)


def test_itakura_saito_rejects_zeros_and_nmf_checks_input(good):
    Xt, _ = good
    Xt[0, 0] = 0
    with pytest.raises(ValueError, match="Itakura-Saito"):
        NMF(2, loss="beta", beta=0).fit(Xt)
    with pytest.raises(ValueError, match="X has 1 negative"):
        NMF(2).fit(np.where(Xt == Xt.max(), -1, Xt))
    with pytest.raises(ValueError, match="n_components=31 is larger than X allows"):
        NMF(31).fit(Xt)


def test_input_is_never_modified(good):
    Xt, Xb = good
    before = Xt.copy(), Xb.copy()
    BCNMF(2, max_iter=5).fit(Xt, Xb)
    np.testing.assert_array_equal(Xt, before[0])
    np.testing.assert_array_equal(Xb, before[1])


@pytest.mark.parametrize("loss", ["kl", "nb", "frobenius"])
def test_stored_zeros_in_sparse_input_are_fitted_like_absent_ones(loss):
    # Real .h5ad files often store zeros explicitly; they used to be NaN entries (0 * log 0).
    rng = np.random.default_rng(0)
    X = sp.random(80, 40, density=0.3, format="csr", random_state=rng) * 10
    Y = sp.random(70, 40, density=0.3, format="csr", random_state=rng) * 10
    X.data, Y.data = np.round(X.data), np.round(Y.data)
    assert (X.data == 0).any() and (Y.data == 0).any()
    stored = X.data.copy()
    clean_X, clean_Y = X.copy(), Y.copy()
    clean_X.eliminate_zeros()
    clean_Y.eliminate_zeros()
    model = BCNMF(3, loss=loss, max_iter=60, random_state=0).fit(X, Y)
    reference = BCNMF(3, loss=loss, max_iter=60, random_state=0).fit(clean_X, clean_Y)
    np.testing.assert_allclose(model.components_, reference.components_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(model.transform(X), reference.transform(clean_X), rtol=1e-4, atol=1e-6)
    blocks = NMF(3, loss=loss, max_iter=30, random_state=0, solver="minibatch").fit([X[:40], X[40:]])
    assert np.isfinite(blocks.components_).all()
    np.testing.assert_array_equal(X.data, stored)  # the caller's matrix keeps its stored zeros


@pytest.mark.parametrize("target, background, k, message", [
    (np.zeros((10, 5)), np.ones((10, 5)), 2, "X_target has no non-zero entries"),
    (np.eye(10, 5) * np.eye(10, 5)[:, :1], np.ones((10, 5)), 2, "non-zero entries in only 1 samples and 1 features"),
    ([[0.637]], [[637.0]], 1, "X_target has 1 sample; bcNMF needs at least two"),
    (np.ones((4, 3)), [[1.0, 2.0, 3.0]], 1, "X_background has 1 sample"),
])
def test_degenerate_data_is_refused_before_any_work(target, background, k, message):
    with pytest.raises(ValueError, match=message):
        BCNMF(k, alpha=0).fit(target, background)


def test_a_target_the_floor_alone_explains_is_refused():
    # The count models' floor is a fraction of the pooled mean: a target a thousand times
    # shallower than its background left the topics nothing to model.
    with pytest.raises(ValueError, match="1e\\+03 times larger. Bring both to the same depth"):
        BCNMF(1, alpha=0).fit([[0.637], [0.5]], [[637.0], [500.0]])


def test_a_collapsed_contrastive_start_falls_back_to_the_targets_own_start():
    # One non-zero target entry, on a feature the contrastive start weighs least: the updates
    # starved the topic to zero from there.
    target = np.array([[0, 0, 0.0773], [0, 0, 0]])
    background = np.array([[0, 0, 0], [0.907, 0, 2.003]])
    with pytest.warns(DataWarning, match="the contrastive start gave no stable fit") as record:
        model = BCNMF(1, alpha=0, max_iter=30, random_state=0).fit(target, background)
    assert not any("alpha" in str(w.message) for w in record)
    np.testing.assert_allclose(model.components_, [[0, 0, 1]], atol=1e-6)
    with pytest.warns(bcnmf.AlphaTooLargeWarning, match="the largest alpha that worked was 0"):
        assert BCNMF(1, alpha=1, max_iter=30, random_state=0).fit(target, background).alpha_ == 0


def test_itakura_saito_fits_sparse_input_with_every_entry_stored():
    dense = np.array([[1.0, 2.0], [3.0, 4.0]])
    from_sparse = NMF(1, loss="beta", beta=0, random_state=0).fit(sp.csr_matrix(dense))
    from_dense = NMF(1, loss="beta", beta=0, random_state=0).fit(dense)
    np.testing.assert_allclose(from_sparse.components_, from_dense.components_, rtol=1e-5)


@pytest.mark.parametrize("loss, beta, X", [("beta", 0.5, [[0, 0], [1, 0]]), ("beta", 1.5, [[0, 0], [1, 0]]),
                                           ("zinb", None, [[0, 0, 0], [0, 0, 0.9128]])])
def test_float32_fits_of_tiny_matrices_with_an_empty_row_are_finite(loss, beta, X):
    # NNDSVD divided a float32 zero vector by a float64 floor that is zero in float32.
    with pytest.warns(DataWarning):
        model = NMF(2, loss=loss, beta=beta, dtype="float32", random_state=0).fit(np.asarray(X, dtype=float))
    assert np.isfinite(model.components_).all() and model.components_.max() > 0

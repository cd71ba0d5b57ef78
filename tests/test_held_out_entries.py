"""A loss over observed entries only: value and gradient parts against a direct masked computation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from bcnmf.losses import make_loss
from bcnmf.losses.held_out import HeldOutEntries

LOSSES = [
    ("kl", {}),
    ("frobenius", {}),
    ("beta", {"beta": 1.5}),
    ("nb", {"dispersion": 0.3}),
    ("zinb", {"dispersion": 0.3, "zero_inflation": 0.2}),
]


def entry_terms(loss, X, V):
    """Per-entry divergence, negative and positive gradient coefficients, computed densely."""
    if loss.name == "frobenius":
        return 0.5 * (X - V) ** 2, X, V
    cols = slice(None)
    pos = np.ones_like(V) if loss.name == "kl" else loss._pos(X, V, cols)
    return loss._div(X, V, cols), loss._neg(X, V, cols), pos


@pytest.mark.parametrize(("name", "kwargs"), LOSSES)
@pytest.mark.parametrize("sparse", [False, True])
def test_value_and_parts_are_those_of_the_observed_entries(name, kwargs, sparse):
    rng = np.random.default_rng(0)
    W, H = rng.gamma(1.0, 1.0, (30, 3)), rng.gamma(1.0, 1.0, (3, 20))
    X = rng.poisson(W @ H).astype(np.float64)
    left_out = rng.random(X.shape) < 0.2
    observed = np.where(left_out, 0.0, X)
    offset = np.full(20, 0.05)
    base = make_loss(name, offset=offset, **kwargs)
    loss = HeldOutEntries(base, sp.csr_matrix(left_out))
    V = W @ H + (0.0 if base.offset is None else offset)  # squared error has no offset
    div, neg, pos = (np.where(left_out, 0.0, term) for term in entry_terms(base, X, V))
    data = sp.csr_matrix(observed) if sparse else observed
    assert loss.value(data, W, H) == pytest.approx(div.sum(), rel=1e-9)
    neg_w, pos_w = loss.w_parts(data, W, H)
    np.testing.assert_allclose(neg_w, neg @ H.T, rtol=1e-9)
    np.testing.assert_allclose(pos_w, pos @ H.T, rtol=1e-9)
    neg_h, pos_h = loss.h_parts(data, W, H)
    np.testing.assert_allclose(neg_h, W.T @ neg, rtol=1e-9)
    np.testing.assert_allclose(pos_h, W.T @ pos, rtol=1e-9)

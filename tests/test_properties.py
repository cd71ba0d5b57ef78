"""Property-based checks on small random matrices: every fit either refuses its input with a
ValueError that says why, or returns finite, non-negative factors with an objective that did not
grow.

The default profile (300 examples a property, the same ones on every run) keeps the suite fast;
``HYPOTHESIS_PROFILE=thorough pytest tests/test_properties.py`` runs 500 new ones a property.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import scipy.sparse as sp
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bcnmf import BCNMF, NMF

settings.register_profile("default", max_examples=300, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

#: (loss, beta) pairs: every likelihood, and the beta-divergences of the issue's grid.
LOSSES = [("frobenius", None), ("kl", None), ("nb", None), ("zinb", None)] + [
    ("beta", b) for b in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)]
#: Slack on "did not grow", relative to the starting objective (which may be negative for the
#: NB likelihoods): float32 rounding of an objective summed over entries.
OBJECTIVE_SLACK = 1e-3


@st.composite
def matrices(draw, max_rows: int = 40, max_columns: int = 40, columns: int | None = None):
    """A non-negative matrix: dense or CSR (possibly storing zeros), of any density and scale."""
    n = draw(st.integers(1, max_rows))
    p = columns if columns is not None else draw(st.integers(1, max_columns))
    density = draw(st.floats(0.0, 1.0))
    scale = 10.0 ** draw(st.floats(-8, 8))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    X = rng.gamma(1.0, 1.0, size=(n, p)) * (rng.random((n, p)) < density) * scale
    if draw(st.booleans()):
        return X
    Y = sp.csr_matrix(X)
    if draw(st.booleans()) and Y.nnz:
        # Store some zeros explicitly, as .h5ad files often do.
        Y.data[rng.random(Y.nnz) < 0.3] = 0.0
    return Y


def _rounding(matrices, loss: tuple) -> float:
    """What float32 rounding can add to a divergence summed over these data: a relative 1e-6 of
    the sum of ``x ** beta`` (of the entry count for Itakura-Saito), which a perfect start whose
    objective is exactly zero needs."""
    power = {"frobenius": 2.0, "beta": loss[1]}.get(loss[0], 1.0)
    total = 0.0
    for X in matrices:
        values = X.data if sp.issparse(X) else np.asarray(X).ravel()
        total += float(np.sum(values[values > 0] ** power)) if power > 0 else float(values.size)
    return 1e-6 * total


def _objective_did_not_grow(curve: np.ndarray, rounding: float) -> bool:
    return bool(np.all(np.isfinite(curve)) and curve[-1] <= curve[0] + OBJECTIVE_SLACK * abs(curve[0]) + rounding)


def _fixed_function(loss: tuple, dispersion) -> bool:
    """Whether the objective is one function over the whole fit. An estimated NB dispersion is
    re-estimated by moments at every evaluation, and the NB deviance at a new dispersion is
    another function: its curve may rise (measured on 2 x 3 matrices) with every step sound."""
    return loss[0] not in ("nb", "zinb") or dispersion is not None


def _check_refusal(err: ValueError) -> None:
    """A refusal must say what is wrong, in a sentence."""
    assert len(str(err)) > 20, f"unhelpful ValueError: {err!r}"


@given(X=matrices(), loss=st.sampled_from(LOSSES), k=st.integers(1, 5), dtype=st.sampled_from(["float32", "float64"]),
       dispersion=st.sampled_from([None, 0.5]))
def test_nmf_fits_or_refuses_cleanly(X, loss, k, dtype, dispersion):
    model = NMF(k, loss=loss[0], beta=loss[1], dtype=dtype, max_iter=30, random_state=0, dispersion=dispersion)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            W = model.fit_transform(X)
        except ValueError as err:
            _check_refusal(err)
            event("refused")
            return
        event("fitted")
        usages = model.transform(X)
    for array in (W, model.components_, usages):
        assert np.isfinite(array).all() and (array >= 0).all()
    assert np.isfinite(model.objective_curve_).all()
    if _fixed_function(loss, dispersion):
        assert _objective_did_not_grow(model.objective_curve_, _rounding([X], loss))


def _contrastive_case(draw):
    target = draw(matrices())
    background = draw(matrices(columns=target.shape[1]))
    return target, background


@given(data=st.data(), loss=st.sampled_from(LOSSES), k=st.integers(1, 5),
       alpha=st.sampled_from([0.0, 0.5, 1.0, 5.0, 50.0]), dtype=st.sampled_from(["float32", "float64"]),
       disentangled=st.booleans(), dispersion=st.sampled_from([None, 0.5]))
def test_bcnmf_fits_or_refuses_cleanly(data, loss, k, alpha, dtype, disentangled, dispersion):
    target, background = _contrastive_case(data.draw)
    n_enriched = data.draw(st.integers(1, k)) if disentangled and k > 1 else None
    model = BCNMF(k, loss=loss[0], beta=loss[1], alpha=alpha, n_enriched=n_enriched, dtype=dtype, max_iter=30,
                  random_state=0, dispersion=dispersion)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            W = model.fit_transform(target, background)
        except ValueError as err:
            _check_refusal(err)
            event("refused")
            return
        event("fitted")
        usages = model.transform(background, background=True)
    for array in (W, model.components_, usages):
        assert np.isfinite(array).all() and (array >= 0).all()
    assert np.isfinite(model.objective_curve_).all()
    # With a contrast the fit is two players, not one descent: the background's usages minimise
    # its divergence while the loadings minimise target minus alpha times background, so the
    # contrastive objective need not fall at every step (measured: KL, alpha = 5, a 2 x 2 target:
    # -308 at the start, -200 at the end). Without one it is a sum of divergences and must fall.
    if model.alpha_ == 0 and _fixed_function(loss, dispersion):
        assert _objective_did_not_grow(model.objective_curve_, _rounding([target, background], loss))

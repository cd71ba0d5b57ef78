"""Shared fixtures: small planted datasets that keep the default test run fast."""

from __future__ import annotations

import numpy as np
import pytest

from bcnmf.datasets import simulate_contrastive


@pytest.fixture(scope="session")
def small_sim():
    """A 300 + 300 cell, 600-feature version of the default simulation."""
    return simulate_contrastive(n_features=600, n_target=300, n_background=300, seed=0)


@pytest.fixture
def counts():
    """A small dense Poisson matrix with a rank-3 mean, no all-zero rows."""
    rng = np.random.default_rng(0)
    W = rng.gamma(1.0, 1.0, size=(40, 3))
    H = rng.gamma(1.0, 2.0, size=(3, 25))
    return (rng.poisson(W @ H) + (np.arange(40)[:, None] == 0)).astype(np.float64)



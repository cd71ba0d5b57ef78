"""The bundled and simulated datasets."""

from __future__ import annotations

import numpy as np
import pytest

from bcnmf.datasets import mice_protein, simulate_contrastive


def test_simulation_shapes_labels_and_programs():
    data = simulate_contrastive(n_features=400, n_target=100, n_background=80, n_shared=3, n_enriched=2, seed=1)
    assert data.target.shape == (100, 400) and data.background.shape == (80, 400)
    assert set(np.unique(data.target_labels)) == {0, 1}
    np.testing.assert_allclose(data.enriched_programs.sum(axis=1), 1.0)
    # Enriched programs live on features the shared programs do not touch.
    assert np.all(data.enriched_programs @ data.shared_programs.T == 0)
    # Target cells of subgroup g have more counts on program g's features than background cells.
    block = data.enriched_programs[0] > 0
    group = data.target_labels == 0
    assert data.target[group][:, block].mean() > 3 * data.background[:, block].mean()


def test_simulation_is_reproducible_and_beta_hides_the_signal():
    a, b = simulate_contrastive(seed=4, n_features=200, n_target=50, n_background=50), simulate_contrastive(
        seed=4, n_features=200, n_target=50, n_background=50)
    np.testing.assert_array_equal(a.target, b.target)
    with pytest.raises(ValueError, match="beta=-1 must be >= 0"):
        simulate_contrastive(beta=-1)


def test_mice_protein_contrastive_split():
    data = mice_protein()
    assert data.target.shape == (270, 77) and data.background.shape == (135, 77)
    assert sorted(set(data.target_labels)) == ["Control", "Ts65Dn"]
    assert not data.target.isna().any().any() and (data.target.to_numpy() >= 0).all()
    assert list(data.target.columns) == data.feature_names

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


def test_digits_on_texture_lays_faint_digits_over_grass():
    from bcnmf.datasets import digits_on_texture

    data = digits_on_texture(seed=3)
    n = len(data.target_labels)
    assert data.target.shape == (n, 576) and data.background.shape == (n, 576)
    assert set(np.unique(data.target_labels)) == {0, 1} and 150 < (data.target_labels == 0).sum() < n - 150
    assert data.target.min() >= 0 and data.target.max() <= 1 and data.background.max() <= 1
    # The texture dominates: the digits add a little brightness, mostly where the strokes are.
    assert 0 < data.target.mean() - data.background.mean() < 0.15
    # The mean image of the ones differs from that of the zeros; grass alone has no such pattern.
    ones, zeros = data.target[data.target_labels == 1].mean(0), data.target[data.target_labels == 0].mean(0)
    halves = data.background[: n // 2].mean(0) - data.background[n // 2:].mean(0)
    assert np.abs(ones - zeros).max() > 5 * np.abs(halves).max()
    np.testing.assert_array_equal(digits_on_texture(seed=3).background, data.background)


@pytest.mark.parametrize("structure", ["cell_types", "programs"])
def test_case_control_simulation_plants_what_it_says(structure):
    from bcnmf.datasets import simulate_case_control

    data = simulate_case_control(n_genes=500, n_target=600, n_background=500, structure=structure, seed=1)
    target, background = data.target.toarray(), data.background.toarray()
    assert target.shape == (600, 500) and background.shape == (500, 500)
    np.testing.assert_allclose(data.response_programs.sum(axis=1), 1.0)
    # The lost cell type is in the background only.
    assert data.lost_cell_type not in data.target_cell_types and data.lost_cell_type in data.background_cell_types
    # Responders of program r raise its genes; the genes down fall in every target cell.
    depth_t, depth_b = target.sum(1, keepdims=True), background.sum(1, keepdims=True)
    for r, program in enumerate(data.response_programs):
        genes = program > 0
        share = (target[:, genes] / depth_t).sum(1)
        assert share[data.target_responses == r].mean() > 2 * share[data.target_responses == -1].mean()
    # The down program: cells of the two types that express it carry less of it in the target.
    np.testing.assert_allclose(data.down_program.sum(), 1.0)
    expressing_t, expressing_b = np.isin(data.target_cell_types, [0, 1]), np.isin(data.background_cell_types, [0, 1])
    down_t = (target[expressing_t][:, data.genes_down] / depth_t[expressing_t]).sum(1).mean()
    down_b = (background[expressing_b][:, data.genes_down] / depth_b[expressing_b]).sum(1).mean()
    assert down_t < 0.5 * down_b
    # Deeper target sequencing; overdispersed counts.
    assert 1.2 < depth_t.mean() / depth_b.mean() < 1.9
    means, variances = background.mean(0), background.var(0)
    assert np.median(variances[means > 1] / means[means > 1]) > 1.5


def test_multiplicative_genes_down_fall_in_every_target_cell():
    from bcnmf.datasets import simulate_case_control

    data = simulate_case_control(n_genes=500, n_target=600, n_background=500, genes_down="multiplicative", seed=1)
    target, background = data.target.toarray(), data.background.toarray()
    share_t = (target[:, data.genes_down].sum(1) / target.sum(1)).mean()
    share_b = (background[:, data.genes_down].sum(1) / background.sum(1)).mean()
    assert share_t < 0.35 * share_b
    with pytest.raises(ValueError, match="genes_down='some' is not known"):
        simulate_case_control(genes_down="some")


def test_batch_scale_alone_changes_only_the_depth():
    from bcnmf.datasets import simulate_case_control

    plain = simulate_case_control(n_genes=300, n_target=400, n_background=400, n_responses=0, lost_cell_type=False,
                                  n_genes_down=0, depth_ratio=1.0, seed=2)
    scaled = simulate_case_control(n_genes=300, n_target=400, n_background=400, n_responses=0, lost_cell_type=False,
                                   n_genes_down=0, depth_ratio=1.0, batch_scale=2.0, seed=2)
    assert (scaled.target_responses == -1).all()
    ratio = scaled.target.sum() / plain.target.sum()
    assert 1.9 < ratio < 2.1
    np.testing.assert_array_equal(scaled.background.toarray(), plain.background.toarray())


def test_case_control_simulation_refuses_unknown_structure():
    from bcnmf.datasets import simulate_case_control

    with pytest.raises(ValueError, match="structure='tree' is not known"):
        simulate_case_control(structure="tree")

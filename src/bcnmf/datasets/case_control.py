"""Realistic case/control count simulations, for choosing and checking the default model.

Two generators with different structure, so that settings chosen on one can be checked on the
other:

* ``"cell_types"``: discrete cell types whose expression profiles share most genes (heavy-tailed
  gene means, each type raising its own overlapping set of markers), as in a tissue;
* ``"programs"``: every cell a Dirichlet mixture of overlapping gene programs, as in a
  continuum of states.

Both add what real case/control data have: negative-binomial noise, log-normal sequencing depth
that differs between conditions, response programs in a subset of the target's cell types (or
states) with a strength that depends on the type, genes down in the target, a cell type (or
program) lost from the target, and an optional batch-wide scale of the target's counts.

Genes down in the target come in two forms (``genes_down=``). ``"program"``: the genes form a
program that cells of two types express, at a fifth of the strength in the target, as a
repressed pathway would. ``"multiplicative"``: every target cell's expression of the genes is
divided by five, whatever its type; additive topics cannot express that except by splitting
cell types into a target and a background version, which a benchmark should show, not hide.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils import Bunch

STRUCTURES = ("cell_types", "programs")
DOWN_FORMS = ("program", "multiplicative")
#: Share of an expressing cell's counts that the down program carries in the background.
DOWN_PROGRAM_SHARE = 0.1


def _gene_means(rng: np.random.Generator, n_genes: int) -> np.ndarray:
    """Heavy-tailed baseline expression: log-normal, a few genes far above the rest."""
    means = rng.lognormal(mean=0.0, sigma=1.5, size=n_genes)
    return means / means.sum()


def _profiles(rng: np.random.Generator, n_profiles: int, n_genes: int, n_markers: int, structure: str) -> np.ndarray:
    """One expression profile per cell type (or program), rows summing to one.

    Cell types share the baseline and raise their markers 4- to 30-fold; a gene is a marker of
    each type with the same chance, so marker sets overlap. Programs are sparser: each is its
    markers alone (gamma-distributed weights) over a tenth of the baseline.
    """
    baseline = _gene_means(rng, n_genes)
    profiles = np.empty((n_profiles, n_genes))
    for row in profiles:
        markers = rng.choice(n_genes, size=n_markers, replace=False)
        if structure == "cell_types":
            row[:] = baseline
            row[markers] *= rng.uniform(4.0, 30.0, size=n_markers)
        else:
            row[:] = 0.1 * baseline
            row[markers] += rng.gamma(1.0, 1.0, size=n_markers) / n_markers
        row /= row.sum()
    return profiles


def _response(rng: np.random.Generator, n_genes: int, n_genes_up: int) -> np.ndarray:
    """A response program: ``n_genes_up`` genes with gamma weights, summing to one."""
    program = np.zeros(n_genes)
    genes = rng.choice(n_genes, size=n_genes_up, replace=False)
    program[genes] = rng.gamma(2.0, 1.0, size=n_genes_up)
    return program / program.sum()


def _negative_binomial(rng: np.random.Generator, mean: np.ndarray, dispersion: np.ndarray) -> np.ndarray:
    """Counts with ``Var = mean + dispersion * mean**2`` (gamma-Poisson), per gene dispersion."""
    shape = 1.0 / dispersion
    return rng.poisson(rng.gamma(shape, mean / shape)).astype(np.float32)


def simulate_case_control(
    n_genes: int = 2000,
    n_target: int = 1500,
    n_background: int = 1500,
    *,
    structure: str = "cell_types",
    n_cell_types: int = 6,
    n_responses: int = 2,
    response_strength: float = 0.25,
    responder_fraction: float = 0.6,
    lost_cell_type: bool = True,
    n_genes_down: int = 30,
    genes_down: str = "program",
    depth_ratio: float = 1.5,
    batch_scale: float = 1.0,
    mean_depth: float = 3000.0,
    seed: int = 0,
) -> Bunch:
    """Simulate a target (case) and a background (control) single-cell count matrix.

    Parameters
    ----------
    n_genes, n_target, n_background : int
        Sizes.
    structure : {"cell_types", "programs"}
        Discrete cell types with overlapping markers, or cells as Dirichlet mixtures of
        overlapping programs (see the module's description).
    n_cell_types : int
        Cell types (or programs) of the background; with ``lost_cell_type`` the last one is
        absent from the target.
    n_responses : int
        Response programs of the target (0 for none). Response ``r`` is active in cell types
        ``r`` and ``r + 1`` (mod the types present in the target), at full strength in the first
        and half strength in the second, in ``responder_fraction`` of those cells.
    response_strength : float
        Fraction of a responding cell's expected counts that its response program adds at full
        strength (0.25: a quarter of the cell).
    responder_fraction : float
        Fraction of the cells of a responding type that respond.
    lost_cell_type : bool
        Leave the last cell type (or program) out of the target.
    n_genes_down : int
        Genes down in the target, to a fifth.
    genes_down : {"program", "multiplicative"}
        How they fall (see the module's description): a program of two cell types (its genes
        carry a tenth of those cells' counts in the background) weakened in the target, or every
        target cell's expression of the genes scaled down.
    depth_ratio : float
        Mean sequencing depth of the target over that of the background.
    batch_scale : float
        Factor on every expected count of the target: a batch-wide shift that is no biology.
    mean_depth : float
        Mean total count of a background cell.
    seed : int
        Seed of the random generator.

    Returns
    -------
    Bunch with
        ``target``, ``background``: CSR float32 counts (cells x genes);
        ``target_cell_types``, ``background_cell_types``: the type (or dominant program) of each
        cell; ``target_responses``: the response program of each target cell, -1 for none;
        ``response_programs`` (n_responses x n_genes) and ``cell_type_profiles``
        (n_cell_types x n_genes): true profiles, rows summing to one; ``lost_cell_type``: the
        type absent from the target (None without one); ``genes_down``: indices of the genes
        down in the target; ``down_program``: their program (rows summing to one; zeros without
        genes down); ``gene_names``.
    """
    if structure not in STRUCTURES:
        raise ValueError(f"structure={structure!r} is not known; choose one of {STRUCTURES}.")
    present = n_cell_types - int(lost_cell_type)
    if present < 1 or n_responses < 0 or n_responses > present:
        raise ValueError(f"n_cell_types={n_cell_types} leaves {present} types in the target; n_responses must "
                         "be between 0 and that number.")
    rng = np.random.default_rng(seed)
    profiles = _profiles(rng, n_cell_types, n_genes, max(10, n_genes // 20), structure)
    responses = np.stack([_response(rng, n_genes, max(10, n_genes // 50)) for _ in range(n_responses)]) \
        if n_responses else np.zeros((0, n_genes))
    dispersion = rng.lognormal(np.log(0.1), 0.5, size=n_genes)
    if genes_down not in DOWN_FORMS:
        raise ValueError(f"genes_down={genes_down!r} is not known; choose one of {DOWN_FORMS}.")
    down_program = _response(rng, n_genes, n_genes_down) if n_genes_down else np.zeros(n_genes)
    down_genes = np.flatnonzero(down_program)

    def composition(n_cells: int, n_types: int) -> tuple[np.ndarray, np.ndarray]:
        """Each cell's weights over the types and its type (the dominant one)."""
        if structure == "cell_types":
            types = rng.integers(0, n_types, size=n_cells)
            return np.eye(n_cell_types)[types], types
        weights = np.zeros((n_cells, n_cell_types))
        weights[:, :n_types] = rng.dirichlet(np.full(n_types, 0.3), size=n_cells)
        return weights, weights.argmax(axis=1)

    weights_b, types_b = composition(n_background, n_cell_types)
    weights_t, types_t = composition(n_target, present)
    expression_b = weights_b @ profiles
    expression_t = weights_t @ profiles
    if genes_down == "multiplicative":
        expression_t[:, down_genes] *= 0.2
    elif n_genes_down:
        # The two expressing types sit in the target too; the program there is at a fifth.
        for expression, weights, strength in ((expression_b, weights_b, 1.0), (expression_t, weights_t, 0.2)):
            expression += strength * DOWN_PROGRAM_SHARE / (1 - DOWN_PROGRAM_SHARE) * \
                weights[:, [0, 1]].sum(axis=1, keepdims=True) * down_program
    responding = np.full(n_target, -1)
    for r in range(n_responses):
        for type_, strength in ((r % present, 1.0), ((r + 1) % present, 0.5)):
            cells = np.flatnonzero((types_t == type_) & (responding < 0) & (rng.random(n_target) < responder_fraction))
            responding[cells] = r
            expression_t[cells] += strength * response_strength / (1 - response_strength) * responses[r]
    # Profiles sum to one, so a cell's expected total is its depth plus what its response adds.
    # The background is drawn first: the target's settings then leave it as it is.
    depth_b = mean_depth * rng.lognormal(-0.125, 0.5, size=n_background)
    background = _negative_binomial(rng, depth_b[:, None] * expression_b, dispersion)
    depth_t = depth_ratio * batch_scale * mean_depth * rng.lognormal(-0.125, 0.5, size=n_target)
    target = _negative_binomial(rng, depth_t[:, None] * expression_t, dispersion)
    return Bunch(
        target=sp.csr_matrix(target),
        background=sp.csr_matrix(background),
        target_cell_types=types_t,
        background_cell_types=types_b,
        target_responses=responding,
        response_programs=responses,
        cell_type_profiles=profiles,
        lost_cell_type=n_cell_types - 1 if lost_cell_type else None,
        genes_down=down_genes,
        down_program=down_program,
        gene_names=np.array([f"gene{j}" for j in range(n_genes)]),
    )

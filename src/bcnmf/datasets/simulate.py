"""A planted contrastive dataset: strong shared programs everywhere, weak target-only programs."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch


def _program_blocks(n_features: int, n_programs: int) -> list[np.ndarray]:
    """Disjoint feature blocks of equal size, one per program; leftover features carry only noise."""
    size = n_features // (n_programs + 1)
    if size < 1:
        raise ValueError(
            f"n_features={n_features} is too small for {n_programs} programs on disjoint blocks; "
            f"use at least {n_programs + 1} features."
        )
    return [np.arange(i * size, (i + 1) * size) for i in range(n_programs)]


def simulate_contrastive(
    n_features: int = 3000,
    n_target: int = 1000,
    n_background: int = 1000,
    n_shared: int = 5,
    n_enriched: int = 2,
    beta: float = 8.0,
    seed: int = 0,
    mean_library_size: float = 2000.0,
    noise_floor: float = 0.1,
) -> Bunch:
    """Simulate Poisson counts for a target and a background dataset on the same features.

    Every cell (target and background) mixes ``n_shared`` programs, each on its own block of
    features, with Dirichlet(0.3) proportions (cells look like a few dominant cell types). Target
    cells fall into ``n_enriched`` equal subgroups; subgroup ``g`` also expresses enriched program
    ``g`` (its own feature block) at relative weight 1, against ``beta`` for the shared mixture. A
    uniform noise floor touches every feature. Counts are Poisson with log-normal library sizes.

    Parameters
    ----------
    n_features, n_target, n_background : int
        Sizes.
    n_shared, n_enriched : int
        Numbers of shared and target-enriched programs.
    beta : float
        Weight of the shared programs relative to the enriched ones. Large ``beta`` buries the target
        signal under shared variation, so plain NMF and PCA miss it; 0 removes shared programs.
    seed : int
        Seed of the random generator.
    mean_library_size : float
        Mean total count per cell.
    noise_floor : float
        Relative weight of the uniform background expression.

    Returns
    -------
    Bunch with
        ``target`` (n_target, n_features) and ``background`` (n_background, n_features): float32
        counts; ``target_labels``: subgroup (0 .. n_enriched - 1) of each target cell;
        ``shared_programs`` (n_shared, n_features) and ``enriched_programs`` (n_enriched,
        n_features): true loadings, rows summing to one.
    """
    if beta < 0:
        raise ValueError(f"beta={beta!r} must be >= 0.")
    if n_enriched < 1 or n_shared < 0:
        raise ValueError("n_enriched must be >= 1 and n_shared >= 0.")
    rng = np.random.default_rng(seed)
    blocks = _program_blocks(n_features, n_shared + n_enriched)
    programs = np.zeros((n_shared + n_enriched, n_features))
    for row, block in zip(programs, blocks):
        row[block] = rng.gamma(2.0, 1.0, size=block.size)
        row /= row.sum()
    shared, enriched = programs[:n_shared], programs[n_shared:]
    floor = np.full(n_features, 1.0 / n_features)

    def counts(n_cells: int, enriched_part: np.ndarray) -> np.ndarray:
        mix = rng.dirichlet(np.full(n_shared, 0.3), size=n_cells) if n_shared else np.zeros((n_cells, 0))
        profile = beta * mix @ shared + enriched_part + noise_floor * floor
        profile /= beta + 1.0 + noise_floor
        library = mean_library_size * rng.lognormal(-0.045, 0.3, size=n_cells)
        return rng.poisson(library[:, None] * profile).astype(np.float32)

    labels = np.arange(n_target) % n_enriched
    rng.shuffle(labels)
    strength = rng.uniform(0.7, 1.3, size=n_target)
    target = counts(n_target, strength[:, None] * enriched[labels])
    background = counts(n_background, np.zeros((n_background, n_features)))
    return Bunch(
        target=target,
        background=background,
        target_labels=labels,
        shared_programs=shared,
        enriched_programs=enriched,
    )

"""Choosing the numbers of shared and target-enriched topics of the disentangled model without labels.

The disentangled model (``BCNMF(n_enriched=...)``, docs/concepts/model.md) has ``n_shared`` topics that both
datasets use and ``n_enriched`` topics that only the target uses. The two numbers are chosen in
turn:

* **shared topics**: the programs the background has, so the number of topics of plain NMF of the
  background that restarts agree on (:func:`bcnmf.selection.select_n_components`); one
  when they agree on no number of two or more (the background then has no programs beyond its
  mean profile).
* **enriched topics**: with the shared topics fixed in number, the disentangled model is fitted
  several times for each candidate ``n_enriched``, each fit from the model's own start jittered
  and leaving out a random tenth of the entries. The enriched topics model what the target has
  beyond the background; when there are more of them than the target has such programs,
  restarts split a program in different ways and the enriched topics no longer come back alike.
  A candidate is stable when its enriched topics come back in every kept restart (smallest
  silhouette of the enriched topics matched across restarts at least
  :data:`~bcnmf.selection.rank.MIN_SILHOUETTE`). A consistent but useless extra topic (one that
  takes up the same small residual each time) is stable too, so stability alone does not
  choose: the recommendation is the fewest stable enriched topics that predict the left-out
  target entries as well as the best stable candidate, within :data:`HELDOUT_TOLERANCE`.

Restarts that end in a poor local optimum would hide a stable solution: as NMFk does (Alexandrov
et al. 2013), restarts whose held-out loss on the target is more than :data:`POOR_FIT_RATIO` times
the median of their series are left out of the stability measure (the table counts them).

Measured on the planted simulation (1,000 features, 500 + 500 cells, 5 shared and 2 enriched
programs, beta = 16): the background's rank selection recommends 5 (the target's own recommends
5 too, its weak programs unstable under plain NMF, which is why the background sets the shared
count), then 2 enriched topics, labelled ``target-enriched`` and at cosine 1.0 to the planted
programs. With no shared programs (beta = 0) no background rank is stable: 1 shared topic, then
2 enriched. Limits: a background whose own programs are too weak to be stable under restarts gets
too few shared topics, and the enriched topics then also take up shared programs; the enrichment
labels of the fitted model (``enrichment_``) show which topics the background uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bcnmf.selection.rank import (
    MIN_SILHOUETTE,
    check_restart_settings,
    prepare_refits,
    restart_fits,
    topic_silhouettes,
)
from bcnmf.utils.progress import progress_bar
from bcnmf.utils.validation import check_n_components

#: A restart whose held-out target loss exceeds this multiple of its series' median is a poor fit.
POOR_FIT_RATIO = 1.05
#: Relative margin of held-out target loss within which fewer enriched topics are preferred.
HELDOUT_TOLERANCE = 0.01


@dataclass
class EnrichedSelection:
    """What :func:`select_n_enriched` measured.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by ``n_enriched``: ``kept_restarts`` (restarts not left out as poor fits),
        ``min_silhouette`` and ``mean_silhouette`` of the enriched topics matched across the kept
        restarts, ``heldout_target`` and ``heldout_background`` (median divergence per left-out
        entry), ``stable``.
    recommended : int
        The smallest stable candidate whose held-out target loss is within
        :data:`HELDOUT_TOLERANCE` of the lowest among stable candidates; the smallest candidate
        when none is stable.
    """

    table: pd.DataFrame
    recommended: int


def select_n_enriched(X_target, X_background, candidates: Iterable[int] = range(1, 5), *, n_shared: int,
                      n_restarts: int = 4, heldout_fraction: float = 0.1, random_state=0, verbose: bool = False,
                      **params) -> EnrichedSelection:
    """Fit the disentangled model for each candidate number of enriched topics and recommend one.

    Parameters
    ----------
    X_target, X_background : array-like or sparse matrix, shape (n_samples, n_features)
        The two datasets, in memory.
    candidates : iterable of int
        Numbers of enriched topics to try (each >= 1).
    n_shared : int
        Number of shared topics (for example the background's recommended rank).
    n_restarts : int
        Fits per candidate (>= 2).
    heldout_fraction : float
        Fraction of the entries of each dataset that each fit leaves out, in (0, 0.5): the
        held-out loss tells poor restarts apart.
    random_state : int, Generator or None
        Seed of the held-out entries and the restarts' jitter. The default (0) gives the same
        recommendation on every run; None draws a new one each time.
    verbose : bool
        Show a progress bar over the fits.
    **params
        Passed to :class:`~bcnmf.BCNMF` (``loss``, ``alpha``, ``max_iter``, ...).

    Returns
    -------
    EnrichedSelection
    """
    candidates = sorted({int(e) for e in candidates})
    if not candidates or candidates[0] < 1:
        raise ValueError(f"candidates must be integers >= 1; got {candidates}.")
    if not 0 < heldout_fraction < 0.5:
        raise ValueError(f"heldout_fraction={heldout_fraction!r} must be in (0, 0.5): poor restarts are told "
                         "apart by their held-out loss.")
    check_restart_settings(n_restarts, heldout_fraction, params, "select_n_enriched", ("n_components", "n_enriched"))
    X, background, generator, _ = prepare_refits(X_target, X_background, random_state, params)
    check_n_components(n_shared + candidates[-1], X.shape[0], X.shape[1], name="X_target")
    rows = []
    with progress_bar(len(candidates) * n_restarts, "choosing enriched topics", disable=not verbose) as bar:
        for n_enriched in candidates:
            fits = restart_fits(X, background, n_shared + n_enriched, n_restarts, heldout_fraction, generator,
                                {**params, "n_enriched": n_enriched}, bar)
            heldout = np.array([fit.heldout_target for fit in fits])
            kept = [fit for fit, loss in zip(fits, heldout) if loss <= POOR_FIT_RATIO * np.median(heldout)]
            silhouettes = topic_silhouettes([fit.model.components_[n_shared:].astype(np.float64) for fit in kept])
            rows.append({"n_enriched": n_enriched, "kept_restarts": len(kept),
                         "min_silhouette": float(silhouettes.min()), "mean_silhouette": float(silhouettes.mean()),
                         "heldout_target": float(np.median(heldout)),
                         "heldout_background": float(np.median([fit.heldout_background for fit in fits]))})
    table = pd.DataFrame(rows).set_index("n_enriched")
    table["stable"] = (table["kept_restarts"] >= 2) & (table["min_silhouette"] >= MIN_SILHOUETTE)
    return EnrichedSelection(table=table, recommended=fewest_that_predict_as_well(table, candidates[0]))


def fewest_that_predict_as_well(table: pd.DataFrame, fallback: int) -> int:
    """The smallest stable ``n_enriched`` of ``table`` whose ``heldout_target`` is within
    :data:`HELDOUT_TOLERANCE` of the lowest stable one; ``fallback`` when none is stable."""
    stable = table.loc[table["stable"], "heldout_target"]
    if stable.empty:
        return fallback
    return int(stable.index[stable <= (1 + HELDOUT_TOLERANCE) * stable.min()].min())

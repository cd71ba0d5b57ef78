"""Choosing bcNMF's contrast strength alpha without labels.

alpha trades the fit to the target against the contrast with the background: at 0 bcNMF is NMF of
the target, and as alpha grows the topics turn away from whatever also explains the background,
until the fit becomes unstable (usages blow up, restarts disagree). For each alpha of a grid the
model is fitted several times, each fit leaving out a random tenth of the entries of both
datasets, and the table reports:

* **enrichment**: how many topics the fit labels ``target-enriched`` (median over restarts; see
  :func:`bcnmf.topic_enrichment`) and the largest log2 fold change;
* **stability**: agreement of the restarts, as in rank selection (cophenetic correlation of the
  target samples' consensus, smallest silhouette of topics matched across restarts), and whether
  any restart had to back alpha off;
* **held-out reconstruction**: the divergence per left-out entry of the target and of the
  background.

The recommended alpha is the smallest one at which the number of target-enriched topics reaches
its largest value among the stable fits: large enough that the contrast shows, no larger, since
every increase costs fit to the target and stability. When no stable fit has an enriched topic,
it is the stable alpha with the largest fold change (the contrast is then weak at any alpha; read
the table). Limits: the labels rest on the enrichment test, whose p-values are optimistic
because the loadings were fitted to the same cells (its fold-change threshold keeps the labels
calibrated under a random split, measured in the tests); the grid bounds the answer; and a
target with no specific programs still gets a recommendation, which the enrichment column then
shows to be empty.

Each alpha starts from the contrastive start rather than from the previous alpha's loadings:
warm starts up a path from 0 kept NMF's shared topics (on the simulation at beta = 4, ARI 0.002
up to alpha = 1 against 1.000 from the contrastive start at alpha = 0.25).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bcnmf.selection.rank import (
    MIN_COPHENETIC,
    MIN_SILHOUETTE,
    agreement,
    check_restart_settings,
    mean_present,
    prepare_refits,
    restart_fits,
)
from bcnmf.utils.progress import progress_bar
from bcnmf.utils.validation import check_n_components, check_positive

#: The alpha grid of ``alpha="auto"`` and :func:`select_alpha`.
DEFAULT_ALPHAS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass
class AlphaSelection:
    """What :func:`select_alpha` measured.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by ``alpha``: ``alpha_used`` (smallest alpha a restart ended with; below ``alpha``
        after a back-off), ``cophenetic``, ``dispersion``, ``min_silhouette``, ``mean_silhouette``,
        ``n_enriched`` (median number of target-enriched topics), ``top_log2_fold_change`` (median
        of the largest), ``heldout_target`` and ``heldout_background`` (mean divergence per
        left-out entry), ``stable``.
    recommended : float
        See the module description.
    """

    table: pd.DataFrame
    recommended: float


def select_alpha(X_target, X_background, alphas: Iterable[float] = DEFAULT_ALPHAS, *, n_components: int,
                 n_restarts: int = 3, heldout_fraction: float = 0.1, random_state=0, verbose: bool = False,
                 **params) -> AlphaSelection:
    """Fit bcNMF along a grid of contrast strengths and recommend one.

    Parameters
    ----------
    X_target, X_background : array-like or sparse matrix, shape (n_samples, n_features)
        The two datasets, in memory.
    alphas : iterable of float
        Contrast strengths to try (> 0).
    n_components : int
        Number of topics (choose it first, for example with
        :func:`bcnmf.selection.select_n_components`).
    n_restarts : int
        Fits per alpha (>= 2), each from the contrastive start jittered.
    heldout_fraction : float
        Fraction of the entries of each dataset that each fit leaves out, in [0, 0.5).
    random_state : int, Generator or None
        Seed of the held-out entries and the restarts' jitter. The default (0) gives the same
        recommendation on every run; None draws a new one each time.
    verbose : bool
        Show a progress bar over the fits.
    **params
        Passed to :class:`~bcnmf.BCNMF` (``loss``, ``max_iter``, ``n_enriched``, ...).

    Returns
    -------
    AlphaSelection
    """
    alphas = sorted({check_positive(a, "alphas") for a in alphas})
    if not alphas:
        raise ValueError("alphas is empty; give at least one contrast strength > 0.")
    check_restart_settings(n_restarts, heldout_fraction, params, "select_alpha", ("alpha",))
    X, background, generator, keep = prepare_refits(X_target, X_background, random_state, params)
    k = check_n_components(n_components, X.shape[0], X.shape[1], name="X_target")
    rows = []
    with progress_bar(len(alphas) * n_restarts, "choosing alpha", disable=not verbose) as bar:
        for alpha in alphas:
            fits = restart_fits(X, background, k, n_restarts, heldout_fraction, generator, {**params, "alpha": alpha},
                                bar)
            rows.append({"alpha": alpha, **_alpha_measures(fits, keep)})
    table = pd.DataFrame(rows).set_index("alpha")
    table["stable"] = ((table["alpha_used"] == table.index) & (table["cophenetic"] >= MIN_COPHENETIC)
                       & (table["min_silhouette"] >= MIN_SILHOUETTE))
    return AlphaSelection(table=table, recommended=_recommend(table))


def _alpha_measures(fits, keep) -> dict:
    """The table's measures of one alpha's restarts."""
    enrichments = [fit.model.enrichment_ for fit in fits]
    return {
        "alpha_used": min(float(fit.model.alpha_) for fit in fits),
        **agreement(fits, keep),
        "n_enriched": int(np.floor(np.median([(e["label"] == "target-enriched").sum() for e in enrichments]))),
        "top_log2_fold_change": float(np.median([e["log2_fold_change"].max() for e in enrichments])),
        "heldout_target": mean_present([fit.heldout_target for fit in fits]),
        "heldout_background": mean_present([fit.heldout_background for fit in fits]),
    }


def _recommend(table: pd.DataFrame) -> float:
    """The smallest stable alpha with the most target-enriched topics (see the module description).

    Only an alpha that its fits kept is recommended: one that backed off to a smaller alpha was
    never fitted as asked. When every alpha backed off, the largest alpha a fit ended with is.
    """
    as_asked = table[table["alpha_used"] == table.index]
    if as_asked.empty:
        return float(table["alpha_used"].max())
    candidates = as_asked[as_asked["stable"]] if as_asked["stable"].any() else as_asked
    most = candidates["n_enriched"].max()
    if most == 0:
        return float(candidates["top_log2_fold_change"].idxmax())
    return float(candidates.index[candidates["n_enriched"] == most].min())

"""``n_components="auto", n_enriched="auto"``: the numbers of shared and target-enriched topics of
the disentangled model, chosen in about two fits, with labels from cells the loadings never saw.

1. **Shared topics**: one more than the background's principal components above a permutation
   null (:func:`bcnmf.selection.spectrum.parallel_analysis_rank`; two truncated SVDs).
2. A fifth of the cells of each condition (:data:`HELD_OUT_FRACTION`) are set aside (with fewer
   than :data:`MIN_HELD_OUT` per condition, none: the labels then come from the fitted cells).
   The model is fitted to the rest with generously many enriched topics
   (:data:`FIRST_ENRICHED`).
3. The set-aside cells' usages, with the loadings fixed, are compared between the conditions
   (:func:`bcnmf.topic_enrichment`, fold changes against the typical shared topic, at least
   four-fold for a label: :data:`SPECIFIC_LOG2_FOLD_CHANGE`). The
   loadings never saw these cells, so under no difference the test is calibrated, which the same
   test on the fitted cells is not (the loadings were shaped by them).
4. **Enriched topics**: those labelled ``target-enriched``. When every enriched topic is called,
   there may be more programs: the fit is repeated with twice as many (at most
   :data:`MOST_ENRICHED`). Otherwise the model is refitted to the same cells from the kept
   topics' loadings, and labelled again on the set-aside cells.

The result's loadings come from the fitted four fifths; its usages (``target_usage_``,
``background_usage_``, what ``fit_transform`` returns) are those of every cell with the loadings
fixed, and its ``enrichment_`` the labels from the set-aside cells. ``topic_selection_`` records
each step. ``alpha="auto"`` is 0 here: with shared topics that must explain the background, no
contrast is needed, and on ``simulate_case_control`` a contrast only added false labels.
Selection fits do not save checkpoints.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import check_random_state

from bcnmf.enrichment.topics import ENRICHED, topic_enrichment
from bcnmf.estimators.automatic import adopt_fitted
from bcnmf.selection.spectrum import parallel_analysis_rank

#: Fraction of the cells of each condition kept out of the loadings' fit, for the labels.
HELD_OUT_FRACTION = 0.2
#: Fewest cells of each condition to set aside; smaller data are labelled on the fitted cells.
MIN_HELD_OUT = 10
#: Smallest log2 fold change (against the typical shared topic) that labels a topic enriched: a
#: program specific to one condition is used at least four times as much there. Measured on
#: simulate_case_control (both generators, 3 seeds, 400-2000 genes): planted responses, lost cell
#: types and repressed programs at |log2| 2.5-7.4; the other topics at most 1.5 (among them cell
#: types whose share differs because the programs beside them differ), 2.4 with
#: genes_down="multiplicative", which added topics cannot express.
SPECIFIC_LOG2_FOLD_CHANGE = 2.0
#: Enriched topics of the first fit, and the most tried.
FIRST_ENRICHED = 4
MOST_ENRICHED = 8


def _held_out_rows(n_rows: int, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of the rows set aside (exactly the rounded fraction, at random)."""
    mask = np.zeros(n_rows, dtype=bool)
    mask[rng.choice(n_rows, size=int(round(HELD_OUT_FRACTION * n_rows)), replace=False)] = True
    return mask


def _labels(model, Xt, Xb, n_shared: int) -> pd.DataFrame:
    """The enrichment table of ``model`` on the rows of ``Xt`` and ``Xb``, usages refitted with
    every topic allowed, fold changes against the shared topics."""
    k = model.components_.shape[0]
    return topic_enrichment(model.transform(Xt), model.transform(Xb, background=True),
                            target_totals=np.asarray(Xt.sum(axis=1)).ravel(),
                            background_totals=np.asarray(Xb.sum(axis=1)).ravel(),
                            reference_topics=np.arange(k) < n_shared,
                            min_log2_fold_change=SPECIFIC_LOG2_FOLD_CHANGE)


def fit_topic_counts(estimator, Xt, Xb, *, solver: str) -> np.ndarray:
    """Fit ``estimator`` (``n_components`` and ``n_enriched`` both ``"auto"``) as the module
    describes, give it the chosen model's fitted attributes, and return the target's usages."""
    if solver != "mu":
        raise ValueError("n_enriched='auto' sets cells aside and refits the model; it needs the data in memory. "
                         "Choose n_components and n_enriched for data read in blocks.")
    seed = check_random_state(estimator.random_state).randint(np.iinfo(np.int32).max)
    rng = np.random.default_rng(seed)
    n_shared = parallel_analysis_rank(Xb, log_normalize=estimator.loss != "frobenius", random_state=seed) + 1
    held_t, held_b = _held_out_rows(Xt.shape[0], rng), _held_out_rows(Xb.shape[0], rng)
    if min(held_t.sum(), held_b.sum()) < MIN_HELD_OUT:
        held_t, held_b = np.ones(Xt.shape[0], dtype=bool), np.ones(Xb.shape[0], dtype=bool)
        fit_t, fit_b, labelled_on = Xt, Xb, "fitted cells (too few to set aside)"
    else:
        fit_t, fit_b, labelled_on = Xt[~held_t], Xb[~held_b], "set-aside cells"
    room = min(fit_t.shape[0], fit_t.shape[1]) - n_shared
    if room < 1:
        raise ValueError(f"n_enriched='auto': the background's {n_shared} shared topics leave no room for an enriched "
                         f"topic in X_target of shape {Xt.shape}.")
    alpha = 0.0 if estimator.alpha == "auto" else estimator.alpha
    steps = []

    def fit(n_enriched: int, H=None):
        model = clone(estimator).set_params(n_components=n_shared + n_enriched, n_enriched=n_enriched, alpha=alpha,
                                            checkpoint=None, **({"init": "custom"} if H is not None else {}))
        model.fit(fit_t, fit_b, **({"H": H} if H is not None else {}))
        table = _labels(model, Xt[held_t], Xb[held_b], n_shared)
        called = np.flatnonzero((table["label"].to_numpy() == ENRICHED) & (np.arange(len(table)) >= n_shared))
        steps.append({"n_shared": n_shared, "n_enriched": n_enriched, "warm_start": H is not None,
                      "called_enriched": len(called), "held_out_target": int(held_t.sum()),
                      "held_out_background": int(held_b.sum()), "labelled_on": labelled_on})
        return model, table, called

    n_enriched = min(FIRST_ENRICHED, room)
    model, table, called = fit(n_enriched)
    while len(called) == n_enriched and 2 * n_enriched <= min(MOST_ENRICHED, room):
        n_enriched *= 2
        model, table, called = fit(n_enriched)
    if len(called) < n_enriched:
        # Refit with the called topics; with none called, one is kept, and its label then says that
        # the target has no program of its own.
        kept = called if len(called) else np.array([n_shared])
        start = np.vstack([model.components_[:n_shared], model.components_[kept]])
        model, table, _ = fit(len(kept), H=start)
    adopt_fitted(estimator, model)
    estimator.enrichment_ = table
    estimator.target_usage_ = model.transform(Xt)
    estimator.background_usage_ = model.transform(Xb, background=True)
    estimator.n_enriched_ = model.n_enriched
    estimator.topic_selection_ = pd.DataFrame(steps)
    return estimator.target_usage_

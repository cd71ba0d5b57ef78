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
4. **Programs**: the topics labelled ``target-enriched``, less the ones that split a program: a
   model with more enriched topics than programs can spend two on one program, each cell using
   them in its own mix (noise in the program's genes). Two such topics are merged when replacing
   them by their usage-weighted mean costs the set-aside target cells little
   (:data:`SUBSTITUTE_COST`) of what removing both costs.
5. **Enriched topics**: one per program. When every enriched topic is a program of its own, there
   may be more programs: the fit is repeated with twice as many (at most :data:`MOST_ENRICHED`).
   These search fits stop early (:data:`SEARCH_TOL_FACTOR`); the final fit starts from the
   programs' loadings, runs to the estimator's ``tol``, and is labelled again on the set-aside
   cells.

The result's loadings come from the fitted four fifths; its usages (``target_usage_``,
``background_usage_``, what ``fit_transform`` returns) are those of every cell with the loadings
fixed, and its ``enrichment_`` the labels from the set-aside cells. ``topic_selection_`` records
each step. ``alpha="auto"`` and the default are 0 here: with shared topics that must explain the
background, no contrast is needed; on ``simulate_case_control`` a contrast only added false
labels, and on the digits-on-texture demo alpha = 1 killed every enriched topic (a digit's pixels
also explain grass, which the contrast punishes). Selection fits do not save checkpoints.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import check_random_state

from bcnmf.enrichment.topics import ENRICHED, topic_enrichment, withhold_labels
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
#: Two enriched topics are one program when replacing them by their usage-weighted mean costs
#: less than this fraction of what removing both costs (divergence of the set-aside target cells,
#: usages refitted). Measured on simulate_case_control (cell_types, seeds 0-2, 2,000 genes): the
#: pieces of one split response 0.001-0.005, two different responses 0.09-0.23.
SUBSTITUTE_COST = 0.02
#: The search fits (how many enriched topics) stop at this multiple of ``tol``: they only need to
#: show the programs, and the final fit starts from their loadings. Measured on
#: simulate_case_control (programs, seed 1): the search fit ran 500 iterations (59 s) where one fit
#: at the chosen numbers took 220 (19 s); at factor 1 the automatic fit cost 5.1 times one fit
#: there. The price: where fits do not converge within max_iter (digits on texture, 29-31 topics
#: on 360 images), the early-stopped search sets the basin, and KMeans of the enriched shares
#: found the digits at ARI 0.88 / 0.17 / 0.77 (seeds 0-2) against 0.84 / 0.86 / 0.86 at factor 1
#: (3 and 3.3-3.9 times one fit there; 3 was too coarse to help seed 1). A final fit started
#: afresh instead of from the search's programs found the digits at 0.87 / 0.87 / 0.85, but on
#: simulate_contrastive (600 genes, two planted programs, max_iter=150) it called neither
#: program, which the warm start keeps.
SEARCH_TOL_FACTOR = 10.0
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


def _programs(model, X, n_shared: int, called: np.ndarray) -> np.ndarray:
    """Loadings of the programs among the ``called`` enriched topics of ``model``: merged, pair by
    pair (the cheapest first), while a pair costs the rows of ``X`` less than
    :data:`SUBSTITUTE_COST` of removing both (see the module)."""
    shared = model.components_[:n_shared]
    mass = model.transform(X).sum(axis=0)
    programs = [mass[t] * model.components_[t] for t in called]

    def cost(kept: list) -> float:
        return model.divergence(X, components=np.vstack([shared, *kept]))

    while len(programs) > 1:
        base = cost(programs)
        ratios = {}
        for a in range(len(programs)):
            for b in range(a + 1, len(programs)):
                others = [p for i, p in enumerate(programs) if i not in (a, b)]
                removed = cost(others) - base
                ratios[a, b] = (cost(others + [programs[a] + programs[b]]) - base) / max(removed, np.finfo(float).tiny)
        (a, b), ratio = min(ratios.items(), key=lambda item: item[1])
        if ratio >= SUBSTITUTE_COST:
            break
        programs = [p for i, p in enumerate(programs) if i not in (a, b)] + [programs[a] + programs[b]]
    merged = np.zeros((len(programs), shared.shape[1]), dtype=shared.dtype)
    for row, program in zip(merged, programs):
        row[:] = program / max(program.sum(), np.finfo(float).tiny)
    return merged


def fit_topic_counts(estimator, Xt, Xb, *, solver: str) -> np.ndarray:
    """Fit ``estimator`` (``n_components`` and ``n_enriched`` both ``"auto"``) as the module
    describes, give it the chosen model's fitted attributes, and return the target's usages."""
    if solver != "full":
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
    alpha = 0.0 if estimator.alpha in ("auto", None) else estimator.alpha
    steps = []

    def fit(n_enriched: int, H=None, final: bool = False):
        model = clone(estimator).set_params(n_components=n_shared + n_enriched, n_enriched=n_enriched, alpha=alpha,
                                            checkpoint=None, tol=estimator.tol * (1 if final else SEARCH_TOL_FACTOR),
                                            **({"init": "custom"} if H is not None else {}))
        model.fit(fit_t, fit_b, **({"H": H} if H is not None else {}))
        table = _labels(model, Xt[held_t], Xb[held_b], n_shared)
        called = np.flatnonzero((table["label"].to_numpy() == ENRICHED) & (np.arange(len(table)) >= n_shared))
        steps.append({"stage": "final" if final else "search", "n_shared": n_shared, "n_enriched": n_enriched,
                      "warm_start": H is not None,
                      "called_enriched": len(called), "held_out_target": int(held_t.sum()),
                      "held_out_background": int(held_b.sum()), "labelled_on": labelled_on})
        return model, table, called

    def programs(model, called) -> np.ndarray:
        found = _programs(model, Xt[held_t], n_shared, called)
        steps[-1]["programs"] = len(found)
        return found

    n_enriched = min(FIRST_ENRICHED, room)
    model, table, called = fit(n_enriched)
    found = programs(model, called)
    while len(found) == n_enriched and 2 * n_enriched <= min(MOST_ENRICHED, room):
        n_enriched *= 2
        model, table, called = fit(n_enriched)
        found = programs(model, called)
    # The final fit, one topic per program, from the search's loadings; with none called, one is
    # kept, and its label then says that the target has no program of its own.
    kept = found if len(found) else model.components_[[n_shared]]
    model, table, called = fit(len(kept), H=np.vstack([model.components_[:n_shared], kept]), final=True)
    steps[-1]["programs"] = len(called)
    adopt_fitted(estimator, model)
    estimator.enrichment_ = withhold_labels(table, model.fit_statistics_)
    estimator.target_usage_ = model.transform(Xt)
    estimator.background_usage_ = model.transform(Xb, background=True)
    estimator.n_enriched_ = model.n_enriched
    estimator.topic_selection_ = pd.DataFrame(steps)
    return estimator.target_usage_

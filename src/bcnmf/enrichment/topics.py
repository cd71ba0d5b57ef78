"""Which topics are enriched in the target: a per-topic table of usage in target and background,
effect sizes and a test; and how much of each condition the topics explain at all.

One quantity throughout, a topic's **share** of a sample: the part of the sample's total that the
topic models (its usage over the sample's observed total count when given, otherwise over the sum
of its usages), so that a topic counts as enriched when it explains a larger part of target
samples, not when they merely have more counts. The table, ``bcnmf.get.shares``, the plots and
the report all show shares.

Why observed totals for a fitted model: the loadings' rows sum to one, so ``W[i, q]`` is the part
of sample ``i``'s total that topic ``q`` models. A background sample the topics cannot explain
keeps small usages and leaves the rest to the model's floor; dividing by the sum of its usages
would hide that (measured on the default simulation with k = 2: each bcNMF topic matches a planted
target program, cosine 0.98, yet takes the same share of target and background usage, 0.50 each,
while it explains 1.26x more of each target sample's total).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, mannwhitneyu, ttest_ind

#: Labels of the ``label`` column: used more by the target, used by both, used more by the
#: background (a program lost in the target).
ENRICHED, SHARED, BACKGROUND_ENRICHED = "target-enriched", "shared", "background-enriched"
#: What the label column says for every topic of a fit that explains too little of a condition.
NOT_LABELLED = "not labelled: poor fit"
#: A fit whose topics model less than this share of the target's total is flagged and its topics
#: are not labelled: the rest is left to the model's floor, and shares of what little is modelled
#: say nothing about the programs (measured: a contrastive fit of a null split at alpha = 2-4
#: modelled 2-3% of the counts and labelled 9-10 of 10 topics enriched). The background is not
#: held to it: leaving the background to the floor is what the contrast asks for (two planted
#: target programs fitted at alpha = 8 modelled 45% of the target and 4% of the background, and
#: both were rightly labelled enriched).
MIN_EXPLAINED_SHARE = 0.2
#: Added to mean fractions before the log fold change, so that a topic nearly unused by both
#: datasets does not get a large ratio from noise.
PSEUDO_FRACTION = 1e-3


def usage_fractions(W: np.ndarray, totals: np.ndarray | None = None) -> np.ndarray:
    """Rows of ``W`` divided by ``totals`` (one per row; by default the rows' own sums). Rows with
    a zero total stay zero."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"usages must be 2-D (samples x topics); got shape {W.shape}.")
    totals = W.sum(axis=1) if totals is None else np.asarray(totals, dtype=np.float64).ravel()
    if totals.shape != (W.shape[0],):
        raise ValueError(f"totals must hold one value per sample ({W.shape[0]}); got shape {totals.shape}.")
    return np.divide(W, totals[:, None], out=np.zeros_like(W), where=totals[:, None] > 0)


def topic_shares(usages: np.ndarray, components: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Each topic's share of each sample's total: what the topic models (usage times the sum of
    its loadings) over the sample's ``totals``; zero for a sample with a zero total."""
    return usage_fractions(np.asarray(usages, dtype=np.float64) * components.sum(axis=1), totals)


def topic_enrichment(
    target_usage: np.ndarray,
    background_usage: np.ndarray,
    *,
    target_totals: np.ndarray | None = None,
    background_totals: np.ndarray | None = None,
    fdr: float = 0.05,
    min_log2_fold_change: float = 1.0,
    reference_topics="all",
    topic_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per-topic enrichment of usage in the target over the background, or the reverse.

    For each topic, a two-sided Welch t-test asks whether the topic explains a different mean
    fraction of target samples than of background samples; p-values are adjusted over topics by
    Benjamini-Hochberg. A test of means, because a target program is often used strongly by a
    subset of target samples and not at all by the rest: a rank test misses that (measured on the
    simulation with planted subgroups: AUC 0.51 for a program explaining 6% of the target on
    average and 0.1% of the background). A topic is labelled ``"target-enriched"`` when its q-value
    is below ``fdr`` and its mean fraction is at least ``2 ** min_log2_fold_change`` times larger in
    the target, ``"background-enriched"`` when it is that much larger in the background (a program
    lost in the target), and ``"shared"`` otherwise.

    Fold changes are measured against the typical topic: the median log2 ratio of the
    ``reference_topics``. Shares are compositional: a program that takes a third of every target
    sample shrinks the share of every other topic by a third, and a fit that explains more of the
    target's counts than of the background's raises them all; neither is a difference of the other
    programs, and the median removes both. The test compares the target's shares, scaled by the
    same median ratio, with the background's.

    Parameters
    ----------
    target_usage : ndarray, shape (n_target, k)
    background_usage : ndarray, shape (n_background, k)
    target_totals, background_totals : ndarray, optional
        Each sample's total (for count data, its total count; the loadings' rows must then sum to
        one). By default the sum of the sample's usages, which compares shares of usage.
    fdr : float
        False discovery rate for the label.
    min_log2_fold_change : float
        Smallest absolute log2 ratio of mean shares (against the typical topic) for an enriched
        label (0 labels any significant difference).
    reference_topics : "all", None, or boolean mask or indices of topics
        The topics whose median log2 ratio is the typical level: all of them (default), those
        given (for example the topics a model shares by construction), or None for raw ratios.
    topic_names : sequence of str, optional
        Defaults to ``topic_0``, ``topic_1``, ...

    Returns
    -------
    pandas.DataFrame
        Indexed by topic name, with columns ``share_target`` and ``share_background`` (mean share),
        ``log2_fold_change`` (against the typical topic), ``auc`` (probability that the topic
        explains a larger fraction of a random target sample, its share scaled to the typical
        topic's, than of a random background sample, ties counting half; 0.5 is no difference),
        ``p_value``, ``q_value`` and ``label``.
    """
    Pt = usage_fractions(target_usage, target_totals)
    Pb = usage_fractions(background_usage, background_totals)
    if Pt.shape[1] != Pb.shape[1]:
        raise ValueError(
            f"target_usage and background_usage must be 2-D with the same number of topics; got shapes "
            f"{Pt.shape} and {Pb.shape}."
        )
    if Pt.shape[0] < 2 or Pb.shape[0] < 2:
        raise ValueError("topic enrichment needs at least two target and two background samples.")
    if not 0 < fdr < 1:
        raise ValueError(f"fdr={fdr!r} must lie in (0, 1).")
    k = Pt.shape[1]
    names = [f"topic_{j}" for j in range(k)] if topic_names is None else [str(name) for name in topic_names]
    if len(names) != k:
        raise ValueError(f"topic_names has {len(names)} names for {k} topics.")
    mean_t, mean_b = Pt.mean(axis=0), Pb.mean(axis=0)
    raw_log2_fc = np.log2((mean_t + PSEUDO_FRACTION) / (mean_b + PSEUDO_FRACTION))
    typical = _typical_log2_ratio(raw_log2_fc, reference_topics)
    scaled_t = Pt * 2.0 ** -typical
    # One topic at a time: ranking target and background together for all topics at once held
    # several copies of the usages (measured 0.55 GB more peak memory for a million samples).
    u_statistics = np.array([mannwhitneyu(scaled_t[:, j], Pb[:, j]).statistic for j in range(k)], dtype=np.float64)
    p_values = ttest_ind(scaled_t, Pb, equal_var=False, axis=0).pvalue
    # A topic no sample uses has no variance and no p-value: nothing to call.
    p_values = np.nan_to_num(np.asarray(p_values, dtype=np.float64), nan=1.0)
    q_values = false_discovery_control(p_values)
    log2_fc = raw_log2_fc - typical
    called = q_values < fdr
    labels = np.select([called & (log2_fc >= min_log2_fold_change), called & (log2_fc <= -min_log2_fold_change)],
                       [ENRICHED, BACKGROUND_ENRICHED], SHARED)
    return pd.DataFrame(
        {
            "share_target": mean_t,
            "share_background": mean_b,
            "log2_fold_change": log2_fc,
            "auc": u_statistics / (Pt.shape[0] * Pb.shape[0]),
            "p_value": p_values,
            "q_value": q_values,
            "label": labels,
        },
        index=pd.Index(names, name="topic"),
    )


def _typical_log2_ratio(log2_ratios: np.ndarray, reference_topics) -> float:
    """The median of ``log2_ratios`` over ``reference_topics`` (see :func:`topic_enrichment`)."""
    if reference_topics is None:
        return 0.0
    if isinstance(reference_topics, str) and reference_topics == "all":
        return float(np.median(log2_ratios))
    try:
        chosen = log2_ratios[np.asarray(reference_topics)]
    except IndexError as err:
        raise ValueError(f"reference_topics={reference_topics!r}: give 'all', None, a boolean mask over the "
                         f"{log2_ratios.size} topics or their indices.") from err
    if chosen.size == 0:
        raise ValueError("reference_topics selects no topic; give 'all', None, or at least one topic.")
    return float(np.median(chosen))


def fit_statistics(
    target_usage: np.ndarray,
    background_usage: np.ndarray,
    *,
    target_totals: np.ndarray,
    background_totals: np.ndarray,
) -> pd.DataFrame:
    """How much of each condition's total the topics model.

    Parameters
    ----------
    target_usage, background_usage : ndarray, shape (n_samples, k)
        Usages in units of the data (loadings' rows summing to one).
    target_totals, background_totals : ndarray
        Each sample's observed total.

    Returns
    -------
    pandas.DataFrame
        Indexed by condition (``target``, ``background``), with columns ``samples``, ``total``
        (the condition's summed totals), ``explained_share`` (the part of that total the topics
        model) and ``poor_fit`` (for the target, ``explained_share`` below
        :data:`MIN_EXPLAINED_SHARE`; never for the background, see there).
    """
    rows = {}
    for name, usage, totals in (("target", target_usage, target_totals),
                                ("background", background_usage, background_totals)):
        total = float(np.sum(totals, dtype=np.float64))
        modelled = float(np.sum(usage, dtype=np.float64))
        share = modelled / total if total > 0 else 0.0
        rows[name] = {"samples": len(totals), "total": total, "explained_share": share,
                      "poor_fit": name == "target" and share < MIN_EXPLAINED_SHARE}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("condition")


def withhold_labels(enrichment: pd.DataFrame, statistics: pd.DataFrame) -> pd.DataFrame:
    """``enrichment`` with every label replaced by :data:`NOT_LABELLED` when ``statistics`` (from
    :func:`fit_statistics`) flags the fit as poor; unchanged otherwise."""
    if not statistics["poor_fit"].any():
        return enrichment
    return enrichment.assign(label=NOT_LABELLED)

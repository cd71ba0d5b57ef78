"""Choosing the number of topics without labels, from the agreement of restarts.

For each candidate ``k`` the model is fitted several times from different starts, and two things
are measured:

* **consensus** (Brunet et al. 2004): each fit assigns every sample to its largest topic; the
  fraction of fits in which two samples share a topic forms the consensus matrix. Its cophenetic
  correlation (how faithfully average-linkage clustering reproduces it) and its dispersion (Kim &
  Park 2007: mean of ``4 (C - 1/2)^2``) are 1 when every fit groups the samples alike.
* **stability** (NMFk; Alexandrov et al. 2013): the loadings of all fits are matched topic to
  topic across fits and the silhouette of those groups, in cosine distance, says whether each
  topic comes back every time. The smallest group silhouette is the weakest topic.
* **cross-validation**: each fit leaves out a random fraction of the entries (of both datasets
  for bcNMF, so that their balance in the objective stays as it was) and the divergence at the
  target's left-out entries, per entry, measures how well ``k`` topics predict data they did not
  see; for NMF it falls until ``k`` covers the real programs and flattens or rises after. bcNMF
  does not aim to reconstruct the target (its topics are contrastive), so there it keeps falling
  as more topics take up shared programs: read it as the cost in fit of a small ``k``.

The recommended ``k`` is the largest candidate at which both hold up (cophenetic correlation
and smallest silhouette above their thresholds): beyond the true rank, restarts split programs
in different ways, and both measures fall.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.cluster.hierarchy import cophenet, linkage
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import squareform
from sklearn.utils import check_random_state

from bcnmf.losses import make_loss
from bcnmf.losses.held_out import divergence_at
from bcnmf.models import ContrastiveModel, NMFModel
from bcnmf.models.starts import perturb
from bcnmf.utils.progress import progress_bar
from bcnmf.utils.validation import check_matrix

#: Thresholds of the recommendation.
MIN_COPHENETIC = 0.95
MIN_SILHOUETTE = 0.75
#: Samples kept for the consensus matrix (n x n); more are subsampled at random.
MAX_CONSENSUS_SAMPLES = 2000


@dataclass
class RankSelection:
    """What :func:`select_n_components` measured.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by ``k``: ``cophenetic``, ``dispersion``, ``min_silhouette``, ``mean_silhouette``,
        ``reconstruction_err`` (mean over restarts of the model's ``reconstruction_err_``, on the
        entries it saw), ``heldout_loss`` (mean divergence per left-out entry) and ``stable``
        (cophenetic correlation >= :data:`MIN_COPHENETIC` and smallest silhouette >=
        :data:`MIN_SILHOUETTE`).
    recommended : int
        The largest stable ``k``; the candidate with the highest cophenetic correlation when none
        is stable.
    """

    table: pd.DataFrame
    recommended: int

    @property
    def cv_recommended(self) -> int:
        """The ``k`` with the smallest held-out loss."""
        return int(self.table["heldout_loss"].idxmin())


def consensus_matrix(assignments: list[np.ndarray]) -> np.ndarray:
    """Fraction of assignments (one label per sample each) in which two samples share a label."""
    n = assignments[0].shape[0]
    C = np.zeros((n, n))
    for labels in assignments:
        C += labels[:, None] == labels[None, :]
    return C / len(assignments)


def cophenetic_correlation(C: np.ndarray) -> float:
    """Correlation between ``1 - C`` and the cophenetic distances of its average-linkage tree."""
    distances = squareform(1.0 - C, checks=False)
    if np.ptp(distances) == 0:
        return 1.0  # every pair always together or always apart: a perfect, flat consensus
    return float(cophenet(linkage(distances, method="average"), distances)[0])


def dispersion(C: np.ndarray) -> float:
    """Kim & Park's dispersion coefficient: 1 for a consensus of zeros and ones, 0 for all halves."""
    return float(np.mean(4.0 * (C - 0.5) ** 2))


def topic_silhouettes(loadings: list[np.ndarray], n_rounds: int = 10) -> np.ndarray:
    """Silhouette (cosine distance) of each group of matched topics across fits.

    Each fit's topics are matched one-to-one to the current group centroids (Hungarian algorithm
    on cosine similarity); centroids are updated and the matching repeated ``n_rounds`` times, as
    NMFk does.

    Returns
    -------
    ndarray, shape (k,)
        Mean silhouette of each group.
    """
    unit = [H / np.maximum(np.linalg.norm(H, axis=1, keepdims=True), 1e-300) for H in loadings]
    k = unit[0].shape[0]
    centroids = unit[0].copy()
    groups = [np.arange(k)] * len(unit)
    for _ in range(n_rounds):
        groups = [linear_sum_assignment(-(H @ centroids.T))[1] for H in unit]
        stacked = np.zeros_like(centroids)
        for H, group in zip(unit, groups):
            stacked[group] += H
        centroids = stacked / np.maximum(np.linalg.norm(stacked, axis=1, keepdims=True), 1e-300)
    topics = np.vstack(unit)
    labels = np.concatenate(groups)
    if k == 1:
        return np.ones(1)
    distances = np.clip(1.0 - topics @ topics.T, 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    from sklearn.metrics import (
        silhouette_samples,  # here: sklearn.metrics costs 7 MB at import
    )

    values = silhouette_samples(distances, labels, metric="precomputed")
    return np.array([values[labels == g].mean() for g in range(k)])


def select_n_components(X, candidates: Iterable[int] = range(2, 9), *, X_background=None, n_restarts: int = 10,
                        heldout_fraction: float = 0.1, random_state=0, verbose: bool = False,
                        **params) -> RankSelection:
    """Measure consensus and stability over restarts for each candidate number of topics.

    Parameters
    ----------
    X : array-like or sparse matrix, shape (n_samples, n_features)
        The data (for bcNMF: the target).
    candidates : iterable of int
        Numbers of topics to try (each >= 2).
    X_background : array-like or sparse matrix, optional
        With a background, the model is :class:`~bcnmf.BCNMF` (its contrastive start jittered for
        each restart); without, :class:`~bcnmf.NMF` from random starts.
    n_restarts : int
        Fits per candidate (>= 2).
    heldout_fraction : float
        Fraction of entries each fit leaves out for the held-out loss, in [0, 0.5); 0 fits every
        entry and reports no held-out loss.
    random_state : int, Generator or None
        Seed of the held-out entries and the restarts' jitter. The default (0) gives the same
        recommendation on every run; None draws a new one each time.
    verbose : bool
        Show a progress bar over the fits.
    **params
        Passed to the estimator (``loss``, ``alpha``, ``max_iter``, ...).

    Returns
    -------
    RankSelection
    """
    candidates = sorted({int(k) for k in candidates})
    if not candidates or candidates[0] < 2:
        raise ValueError(f"candidates must be integers >= 2 (one topic has nothing to agree on); got {candidates}.")
    check_restart_settings(n_restarts, heldout_fraction, params, "select_n_components", ("n_components",))
    X, background, generator, keep = prepare_refits(X, X_background, random_state, params)
    rows = []
    with progress_bar(len(candidates) * n_restarts, "choosing k", disable=not verbose) as bar:
        for k in candidates:
            fits = restart_fits(X, background, k, n_restarts, heldout_fraction, generator, params, bar)
            rows.append({"k": k, **agreement(fits, keep),
                         "reconstruction_err": float(np.mean([fit.model.reconstruction_err_ for fit in fits])),
                         "heldout_loss": mean_present([fit.heldout_target for fit in fits])})
    table = pd.DataFrame(rows).set_index("k")
    table["stable"] = (table["cophenetic"] >= MIN_COPHENETIC) & (table["min_silhouette"] >= MIN_SILHOUETTE)
    stable = table.index[table["stable"]]
    recommended = int(stable.max()) if len(stable) else int(table["cophenetic"].idxmax())
    return RankSelection(table=table, recommended=recommended)


@dataclass
class Refit:
    """One fit of a restart series: the model, its target usages and its held-out divergences per
    left-out entry (None when nothing was left out)."""

    model: NMFModel | ContrastiveModel
    usages: np.ndarray
    heldout_target: float | None
    heldout_background: float | None


def check_restart_settings(n_restarts, heldout_fraction, params: dict, caller: str, chosen: tuple[str, ...]) -> None:
    """Reject too few restarts, a held-out fraction outside [0, 0.5), and estimator parameters the
    ``caller`` sets itself (``chosen`` plus the starts and seeds)."""
    if isinstance(n_restarts, bool) or not isinstance(n_restarts, numbers.Integral) or n_restarts < 2:
        raise ValueError(f"n_restarts={n_restarts!r} must be an integer >= 2: agreement needs several fits.")
    if not 0 <= heldout_fraction < 0.5:
        raise ValueError(f"heldout_fraction={heldout_fraction!r} must be in [0, 0.5).")
    for name in chosen + ("random_state", "init", "n_init"):
        if name in params:
            raise ValueError(f"{name} is set by {caller}; do not pass it.")


def prepare_refits(X, X_background, random_state, params: dict):
    """Checked data (target, background or None), the generator of a restart series and the rows
    kept for consensus matrices."""
    dtype = np.dtype(params.get("dtype", "float32"))
    X, _ = check_matrix(X, "X", dtype, warn_empty="none")
    background = None if X_background is None else check_matrix(X_background, "X_background", dtype, warn_empty="none")[0]
    generator = np.random.default_rng(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    keep = np.sort(generator.choice(X.shape[0], size=min(X.shape[0], MAX_CONSENSUS_SAMPLES), replace=False))
    return X, background, generator, keep


def restart_fits(X, background, k: int, n_restarts: int, heldout_fraction: float, generator: np.random.Generator,
                 params: dict, bar=None) -> list[Refit]:
    """Fit ``k`` topics ``n_restarts`` times, each leaving out its own random ``heldout_fraction``
    of the entries (of both datasets for bcNMF, so that their balance in the objective stays).

    NMF restarts from random starts; bcNMF restarts jitter the estimator's own (deterministic)
    start, so that every restart begins near the start a single fit would use. ``bar``, a
    progress bar, advances by one per fit.
    """
    dtype = X.dtype
    start = None if background is None else ContrastiveModel(k, **params)._starting_loadings(X, background, k, generator, dtype)
    fits = []
    for restart in range(n_restarts):
        seed = int(generator.integers(np.iinfo(np.int32).max))
        left_out = _random_entries(X.shape, heldout_fraction, generator)
        left_out_b = None if background is None else _random_entries(background.shape, heldout_fraction, generator)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if background is None:
                model = NMFModel(k, init="random", random_state=seed, **params)
                usages = model.fit_transform(X, missing=left_out)
            else:
                model = ContrastiveModel(k, init="custom", random_state=seed, **params)
                usages = model.fit_transform(X, background, H=perturb(start, generator) if restart else start,
                                             missing_target=left_out, missing_background=left_out_b)
        heldout_t = heldout_b = None
        if left_out is not None:
            loss = _fitted_loss(model)
            heldout_t = float(divergence_at(loss, X, left_out, usages, model.components_).mean())
            if background is not None:
                heldout_b = float(divergence_at(loss, background, left_out_b, model.background_usage_,
                                                model.components_).mean())
        fits.append(Refit(model, usages, heldout_t, heldout_b))
        if bar is not None:
            bar.update(1)
    return fits


def agreement(fits: list[Refit], keep: np.ndarray) -> dict[str, float]:
    """Consensus (cophenetic correlation, dispersion) of the samples ``keep`` and stability
    (smallest and mean topic silhouette) of a restart series."""
    C = consensus_matrix([np.argmax(fit.usages[keep], axis=1) for fit in fits])
    silhouettes = topic_silhouettes([fit.model.components_.astype(np.float64) for fit in fits])
    return {"cophenetic": cophenetic_correlation(C), "dispersion": dispersion(C),
            "min_silhouette": float(silhouettes.min()), "mean_silhouette": float(silhouettes.mean())}


def mean_present(values: list[float | None]) -> float:
    """Mean of the values that are not None; NaN when none is."""
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else np.nan


def _random_entries(shape: tuple[int, int], fraction: float, rng: np.random.Generator) -> sp.csr_matrix | None:
    """A random pattern of about ``fraction`` of the entries (boolean CSR), or None for 0."""
    if fraction == 0:
        return None
    pattern = sp.random(*shape, density=fraction, format="csr", random_state=rng, dtype=np.float64)
    return sp.csr_matrix(pattern, dtype=bool)


def _fitted_loss(model):
    """The loss a fitted model minimised, with its fitted noise parameters and offset."""
    return make_loss(model.loss, beta=model.beta, dispersion=getattr(model, "dispersion_", model.dispersion),
                     zero_inflation=getattr(model, "zero_inflation_", None), offset=getattr(model, "offset_", None))


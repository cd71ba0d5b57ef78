"""Background-contrastive NMF (Li, Yang & Li 2026): one set of loadings for a target and a
background dataset, fitted so that programs enriched in the target stand out.

The paper writes features x samples; its ``W`` is our ``components_.T``.
"""

from __future__ import annotations

import numpy as np

from bcnmf.estimators.automatic import automatic_alpha, automatic_rank, fit_chosen
from bcnmf.estimators.topic_counts import fit_topic_counts
from bcnmf.models import ContrastiveModel
from bcnmf.utils.validation import check_n_components


class BCNMF(ContrastiveModel):
    """Background-contrastive NMF.

    Minimizes ``D(X_t | W_t H) - alpha * min_{W_b} D(X_b | W_b H)`` over non-negative ``W_t``,
    ``W_b`` and shared loadings ``H``, by the split-gradient multiplicative updates of
    :mod:`bcnmf.engine`.

    Stability: the contrastive objective is unbounded below for count likelihoods (a loading
    driven to zero where the background has counts sends the background divergence to infinity),
    and the published updates drift in scale. Here (1) every row of ``H`` is rescaled to sum to one
    after each step, the usages carrying the magnitude; (2) count losses model
    ``W H + offset * feature_mean``, which bounds the objective; (3) a fit that produces
    non-finite values or a dead topic is retried with alpha halved, with an
    :class:`AlphaTooLargeWarning` naming the largest alpha that worked.

    Parameters
    ----------
    n_components : int or "auto"
        Number of topics ``k``.
        ``"auto"`` chooses it among 2 to 10 by the agreement of 5 restarts per candidate (see
        :func:`bcnmf.selection.select_n_components`; about 45 extra fits), and keeps the
        table in ``rank_selection_``.
    alpha : float, "auto" or None
        Contrast strength (>= 0); 0 is plain NMF of the target. The default (None) is 1 for plain
        bcNMF, the published model, and 0 with ``n_enriched``, whose shared topics must explain
        the background already. ``"auto"`` fits 3 restarts at
        each alpha of (0.25, 0.5, 1, 2, 4, 8) and takes the smallest stable one with the most
        target-enriched topics (see :mod:`bcnmf.selection.alpha`; 18 extra fits), keeping the
        table in ``alpha_selection_``. With ``n_components="auto"`` too, ``k`` is chosen first,
        at alpha = 1.
    loss : {"kl", "frobenius", "beta", "nb", "zinb"}
        Likelihood for both datasets.
    beta : float, optional
        The beta of ``loss="beta"``.
    init : {"contrastive", "nndsvda", "nndsvd", "nndsvdar", "random", "custom"}
        Starting loadings. "contrastive" (default) takes the directions of largest
        target-to-background variance ratio; the NNDSVD variants factor the target alone;
        "custom" uses the ``H`` passed to :meth:`fit`.
    max_iter : int
        Most iterations per start.
    tol : float
        A fit ends when, over ``eval_every`` iterations, the objective changed by less than ``tol``
        relative to the divergences' sum and, with a contrastive term (``alpha > 0``), the loadings
        by less than ``10 * tol`` (relative).
    damping : float
        Exponent in (0, 1] on the loadings step; smaller is slower and steadier.
    offset : float
        For count losses, the model's per-feature floor as a fraction of the feature's pooled mean.
    n_init : int
        Number of starts; the one with the lowest contrastive objective is kept.
    random_state : int, Generator or None
        Seed of the starts, restarts and automatic settings; the same seed gives the same result.
        The default (0) gives the same answer on every run; None draws a new seed each time.
    dtype : {"float32", "float64"}
    dispersion : float or array, optional
        NB/ZINB dispersion; estimated per feature and dataset when None.
    eval_every : int
    solver : {"auto", "full", "minibatch", "online"}
        How the data are visited. "full" updates from all rows at once (data in memory);
        "minibatch" reads row blocks and moves the loadings once per pass (the same fit, memory
        bounded by a block); "online" moves the loadings after every block, with decaying memory
        of earlier blocks (fewer passes over very large data). "auto" is "full" for data in memory
        and "minibatch" for a ``.h5ad`` path, a backed AnnData or a list of row blocks. With the
        block solvers ``max_iter`` counts passes over the data. "mu" is the old name of "full"
        (deprecated).
    update : {"auto", "mu", "cd"}
        How each iteration moves the factors. "mu": multiplicative updates (every loss); "cd":
        coordinate descent (HALS sweeps; squared error without missing entries, full-batch and
        mini-batch). With a contrastive term the loadings' coordinate steps are proximal (see
        :mod:`bcnmf.engine.coordinate`). "auto" is "cd" where it applies and "mu" otherwise.
    batch_size : int
        Rows of the target per block (the background is split into as many blocks).
    forget_factor : float
        Online solver: weight kept by the previous pass's statistics.
    n_enriched : int, optional
        Disentangled topics (docs/concepts/model.md): the last ``n_enriched`` of the ``n_components`` topics are
        used by the target alone (the background's usage of them is fixed at zero) and the others
        are shared. The background is then fitted by the shared topics with weight 1, and
        ``alpha`` becomes a contrastive penalty on how well the enriched topics alone could
        explain the background: ``D(X_t | W_t H) + D(X_b | W_bs H_s) - alpha * min D(X_b | W_be H_e)``.
        None (default) is plain bcNMF. ``"auto"`` (with ``n_components="auto"``) chooses both numbers
        in about two fits: the shared topics from the background's spectrum, the enriched ones as
        those that cells set aside from the fit call target-enriched (see
        :mod:`bcnmf.estimators.topic_counts`); ``enrichment_`` then holds the set-aside cells'
        labels and ``topic_selection_`` the steps.
    device : str, optional
        Fit on a PyTorch device: ``"cuda"`` (or ``"cuda:1"``, ...) for a GPU, ``"cpu"`` to run the
        torch backend without one; None (default) fits with NumPy on the host. The data are
        copied there once (data read in blocks: a block at a time), the factors stay there
        between iterations and come back as NumPy arrays. Multiplicative updates only
        (``update="auto"`` takes them); no ``missing=``. Needs ``pip install "bcnmf[gpu]"``; see
        :doc:`/how-to/large-data`.
    verbose : bool
        Show a progress bar per fit.
    checkpoint : str or path, optional
        Save the fit's state to this file every ``checkpoint_every`` iterations (at the next
        objective evaluation), and go on from the state saved there when it holds one for this
        data and these parameters: a killed fit, started again the same way, ends as an
        uninterrupted one would. Restarts and alpha back-offs before the saved one are run again.
        Needs ``solver="full"``; selection fits (``"auto"``) do not save.
    checkpoint_every : int
        Iterations between saves.

    Attributes
    ----------
    components_ : ndarray, shape (n_components, n_features)
        Shared loadings, rows summing to one.
    target_usage_, background_usage_ : ndarray
        Usages of the training target and background samples.
    alpha_ : float
        Contrast strength actually used (smaller than ``alpha`` only after a warning).
    objective_curve_ : ndarray
        Contrastive objective ``D_t - alpha_ * D_b`` at iterations ``objective_curve_iterations_``.
    target_loss_curve_ : ndarray
        Target divergence at the same iterations.
    loss_curve_ : ndarray
        Deprecated name of ``target_loss_curve_`` (removed in bcnmf 0.3).
    n_iter_, reconstruction_err_ (of the target), n_features_in_, feature_names_in_
    offset_ : ndarray or None
        The per-feature floor in the model, for count losses.
    data_scale_ : float
        The power of two the data were divided by for the fit (1 for data whose typical non-zero
        target entry lies between 1/64 and 1024, and for NB/ZINB); every other attribute is in the
        data's units (see :doc:`/reliability`).
    enrichment_ : pandas.DataFrame
        One row per topic: its mean share (the part of each sample's total that the topic
        models) in target and background, log2 fold change (for disentangled topics against the
        typical shared topic), AUC, two-sided Welch t-test p-value, BH q-value and a ``label``,
        ``"target-enriched"``, ``"shared"`` or ``"background-enriched"`` (a program lost in the
        target; see :func:`bcnmf.topic_enrichment`, which recomputes it with other thresholds),
        or ``"not labelled: poor fit"`` for every topic when ``fit_statistics_`` flags the fit.
        Not set by :meth:`partial_fit`.
    fit_statistics_ : pandas.DataFrame
        One row per condition (``target``, ``background``): samples, summed total, the share of
        it that the topics model (``explained_share``) and ``poor_fit``, true when the topics model
        less than 20% of the target, when
        the labels are withheld and a :class:`PoorFitWarning` is raised. Not set by
        :meth:`partial_fit`.
    rank_selection_ : pandas.DataFrame
        With ``n_components="auto"``: the measures of each candidate ``k``.
    alpha_selection_ : pandas.DataFrame
        With ``alpha="auto"``: the measures of each candidate alpha.
    topic_selection_ : pandas.DataFrame
        With ``n_enriched="auto"``: one row per fit of the choice (shared and enriched topics,
        whether it started from the previous fit's loadings, enriched topics called, cells set
        aside).
    n_enriched_ : int
        With ``n_enriched="auto"``: the number of enriched topics chosen (the last ``n_enriched_``
        of the ``n_components_`` topics).
    """

    def _fit_automatic(self, Xt, Xb, solver: str) -> np.ndarray:
        """Choose the settings given as ``"auto"`` (keeping the selection tables), then fit a copy
        of this estimator with them and take on its fitted attributes."""
        if self.n_enriched == "auto":
            return fit_topic_counts(self, Xt, Xb, solver=solver)
        if self.n_components == "auto":
            k = automatic_rank(self, Xt, Xb, solver=solver)
        else:
            k = check_n_components(self.n_components, Xt.shape[0], Xt.shape[1], name="X_target")
        alpha = automatic_alpha(self, Xt, Xb, k, solver=solver) if self.alpha == "auto" else self._alpha()
        return fit_chosen(self, {"n_components": k, "alpha": alpha}, Xt, Xb)

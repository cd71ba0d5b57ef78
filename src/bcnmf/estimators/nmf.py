"""Plain non-negative matrix factorization with any of the library's likelihoods."""

from __future__ import annotations

import numpy as np

from bcnmf.estimators.automatic import automatic_rank, fit_chosen
from bcnmf.models import NMFModel


class NMF(NMFModel):
    """Non-negative matrix factorization ``X ~ W @ H`` by multiplicative updates.

    Rows of ``X`` are samples, columns features; ``transform`` returns usages ``W``
    (n_samples x k) and ``components_`` holds loadings ``H`` (k x n_features), as in
    :class:`sklearn.decomposition.NMF`.

    Parameters
    ----------
    n_components : int or "auto"
        Number of components (topics) ``k``.
        ``"auto"`` chooses it among 2 to 10 by the agreement of 5 restarts per candidate (see
        :func:`bcnmf.selection.select_n_components`; about 45 extra fits), and keeps the
        table in ``rank_selection_``.
    loss : {"frobenius", "kl", "beta", "nb", "zinb"}
        Likelihood (see :data:`bcnmf.losses.LOSSES`).
    beta : float, optional
        The beta of ``loss="beta"``.
    init : {"nndsvda", "nndsvd", "nndsvdar", "random", "custom"}
        Starting factors; "custom" uses the ``W`` and ``H`` passed to :meth:`fit`.
    max_iter : int
        Most iterations per start.
    tol : float
        A fit ends when, over ``eval_every`` iterations, the objective changed by less than ``tol``
        relative to its scale; 0 runs ``max_iter`` iterations.
    l1_ratio, alpha_W, alpha_H : float
        Elastic-net penalties, scaled as in scikit-learn: ``alpha_W * n_features`` on ``W`` and
        ``alpha_H * n_samples`` on ``H``; ``alpha_H="same"`` uses ``alpha_W``.
    n_init : int
        Number of starts; the one with the lowest objective is kept. Starts after the first perturb
        a deterministic init (log-normal jitter) or draw a new random one.
    random_state : int, Generator or None
        Seed of the starts, restarts and automatic settings; the same seed gives the same result.
        The default (0) gives the same answer on every run; None draws a new seed each time.
    dtype : {"float32", "float64"}
        Precision of the factors and computations.
    dispersion : float or array, optional
        NB/ZINB dispersion (``Var = mu + dispersion * mu^2``); estimated per feature when None.
    eval_every : int
        Iterations between evaluations of the objective (for ``tol`` and ``objective_curve_``).
    solver : {"auto", "full", "minibatch", "online"}
        How the rows are visited. "full" updates from all rows at once; "minibatch" reads row
        blocks of ``batch_size`` and moves the loadings once per pass (the same fit, memory bounded
        by a block); "online" moves them after every block (as
        :class:`sklearn.decomposition.MiniBatchNMF`). "auto" is "full" for data in memory and
        "minibatch" for an ``.h5ad`` path, a backed AnnData or a list of row blocks. With the block
        solvers ``max_iter`` counts passes; NB/ZINB noise parameters are estimated once, on a
        sample of rows. "mu" is the old name of "full" (deprecated).
    update : {"auto", "mu", "cd"}
        How each iteration moves the factors. "mu": multiplicative updates (every loss); "cd":
        coordinate descent (HALS sweeps; squared error without missing entries, full-batch and
        mini-batch). "auto" is "cd" where it applies and "mu" otherwise: for squared error it
        reaches a solution several times faster (``benchmarks/RESULTS.md``).
    batch_size : int
        Rows per block.
    forget_factor : float
        Online solver: weight kept by the previous pass's statistics.
    device : str, optional
        Fit on a PyTorch device: ``"cuda"`` (or ``"cuda:1"``, ...) for a GPU, ``"cpu"`` to run the
        torch backend without one; None (default) fits with NumPy on the host. The data are
        copied there once (data read in blocks: a block at a time), the factors stay there
        between iterations and come back as NumPy arrays. Multiplicative updates only
        (``update="auto"`` takes them); no ``missing=``. Needs ``pip install "bcnmf[gpu]"``; see
        :doc:`/how-to/large-data`.
    verbose : bool
        Show a progress bar.

    Attributes
    ----------
    components_ : ndarray, shape (n_components, n_features)
    n_components_ : int
    rank_selection_ : pandas.DataFrame
        With ``n_components="auto"``: the measures of each candidate ``k``.
    n_iter_ : int
    reconstruction_err_ : float
        ``sqrt(2 * divergence)`` at the end of the fit (Frobenius norm of the residual for squared
        error), as scikit-learn reports it.
    objective_curve_ : ndarray
        Objective (divergence plus penalties) at iterations ``objective_curve_iterations_``.
    loss_curve_, loss_curve_iterations_ : ndarray
        Deprecated names of ``objective_curve_`` and ``objective_curve_iterations_`` (removed in
        bcnmf 0.3).
    data_scale_ : float
        The power of two the data were divided by for the fit (1 for data whose typical non-zero
        entry lies between 1/64 and 1024, and for NB/ZINB); every other attribute is in the
        data's units (see :doc:`/reliability`).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame.
    dispersion_, zero_inflation_ : ndarray
        Fitted NB dispersion and ZINB dropout probability per feature (those losses only).
    """

    def _fit_automatic(self, X, solver: str, *, W=None, H=None) -> np.ndarray:
        """Choose the number of components (keeping the table in ``rank_selection_``), then fit a
        copy of this estimator with it and take on its fitted attributes."""
        k = automatic_rank(self, X, solver=solver)
        return fit_chosen(self, {"n_components": k}, X, W=W, H=H)

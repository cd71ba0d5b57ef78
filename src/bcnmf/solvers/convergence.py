"""When a fit stops: the objective has stopped improving and the loadings have stopped moving."""

from __future__ import annotations

import numpy as np

from bcnmf.backend.namespace import array_namespace, to_float

#: A converged fit's loadings move, over one evaluation window, by at most this multiple of
#: ``tol`` (relative Frobenius change). The objective alone misses plateaus: on the digits demo a
#: contrastive fit from a random start changed its objective by under 1e-4 of its scale for 60
#: iterations while the loadings still moved 5e-3 per 10 iterations, then fell 25% further, from
#: ARI 0.1 to 0.95 (benchmarks/QUALITY.md).
LOADINGS_TOLERANCE_FACTOR = 10.0


class ConvergenceTest:
    """Called at each objective evaluation with the objective before and after the window and the
    current loadings; True once the objective has settled and, for a contrastive objective, the
    loadings too.

    Parameters
    ----------
    tol : float
        Largest change of the objective over a window, relative to ``scale`` (the divergences
        summed with absolute weights); 0 never converges (run ``max_iter`` iterations).
    H : ndarray
        The loadings at the start of the first window (copied).
    watch_loadings : bool
        Also require the loadings to settle: for contrastive objectives, whose plateaus are
        described above. A plain NMF objective does not plateau that way, but its loadings drift
        at a constant objective where the factorisation is not unique: on 10,000 x 2,000 random
        sparse counts (k = 20) they moved 4% per 10 iterations at an objective changing by 5e-6,
        and coordinate descent ran to ``max_iter`` (11 s) instead of stopping at 1-2 s.
    """

    def __init__(self, tol: float, H: np.ndarray, *, watch_loadings: bool = True) -> None:
        self.tol = tol
        self.watch_loadings = watch_loadings
        xp = array_namespace(H)
        self._previous_H = xp.astype(H, xp.float64, copy=True)

    def loadings_change(self, H) -> float:
        """Relative Frobenius change of ``H`` since the last call (or the start); remembers ``H``."""
        xp = array_namespace(H)
        current = xp.astype(H, xp.float64)
        moved = to_float(xp.sum((current - self._previous_H) ** 2)) ** 0.5
        size = to_float(xp.sum(current**2)) ** 0.5
        self._previous_H = xp.astype(current, xp.float64, copy=True)
        if size == 0:  # loadings penalised to zero: settled only if they were zero already
            return 0.0 if moved == 0 else np.inf
        return moved / size

    def __call__(self, previous: float, current: float, scale: float, H: np.ndarray) -> bool:
        moved = self.loadings_change(H)
        if self.tol <= 0:
            return False
        settled = abs(previous - current) <= self.tol * max(scale, np.finfo(np.float64).tiny)
        return settled and (not self.watch_loadings or moved <= LOADINGS_TOLERANCE_FACTOR * self.tol)

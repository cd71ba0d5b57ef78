"""Divergences between data and a low-rank model: one module per likelihood.

:func:`make_loss` turns the user-facing ``loss=`` name into a loss object.
"""

from __future__ import annotations

import numpy as np

from bcnmf.backend.multiplicative import EPSILON
from bcnmf.losses.base import ElementwiseLoss, Loss
from bcnmf.losses.beta import BetaDivergence, KullbackLeibler
from bcnmf.losses.frobenius import Frobenius
from bcnmf.losses.negative_binomial import (
    NegativeBinomial,
    ZeroInflatedNegativeBinomial,
)
from bcnmf.losses.penalty import Penalty

#: Names accepted by ``loss=``, with what each means.
LOSSES = {
    "frobenius": "squared error (Gaussian); use on log-normalised or continuous data",
    "kl": "generalized Kullback-Leibler (Poisson); raw counts",
    "beta": "beta-divergence with beta= any real (0 Itakura-Saito, 1 KL, 2 squared error)",
    "nb": "negative binomial with per-feature dispersion; overdispersed counts",
    "zinb": "zero-inflated negative binomial; counts with excess zeros",
}


def make_loss(
    name: str,
    *,
    beta: float | None = None,
    dispersion=None,
    zero_inflation=None,
    offset: np.ndarray | None = None,
) -> Loss:
    """Build the loss called ``name`` (see :data:`LOSSES`).

    ``beta`` is read for ``"beta"`` only; ``dispersion`` for ``"nb"`` and ``"zinb"``;
    ``zero_inflation`` for ``"zinb"``. ``"beta"`` with ``beta=1`` or ``2`` returns the faster KL or
    squared-error loss, which are the same divergences.
    """
    if name == "frobenius":
        return Frobenius()
    if name == "kl":
        return KullbackLeibler(offset)
    if name == "beta":
        if beta is None:
            raise ValueError("loss='beta' needs beta= (0 Itakura-Saito, 1 KL, 2 squared error).")
        if beta == 2:
            return Frobenius()
        if beta == 1:
            return KullbackLeibler(offset)
        return BetaDivergence(beta, offset)
    if name == "nb":
        return NegativeBinomial(dispersion, offset)
    if name == "zinb":
        return ZeroInflatedNegativeBinomial(dispersion, zero_inflation, offset)
    raise ValueError(f"loss={name!r} is not known; choose one of {sorted(LOSSES)}.")


__all__ = [
    "EPSILON",
    "LOSSES",
    "BetaDivergence",
    "ElementwiseLoss",
    "Frobenius",
    "KullbackLeibler",
    "Loss",
    "NegativeBinomial",
    "Penalty",
    "ZeroInflatedNegativeBinomial",
    "make_loss",
]

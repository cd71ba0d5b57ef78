"""The bcNMF updates as published (Li, Yang & Li 2026, and the authors' reference code), the
baseline our model is checked against: dense, from uniform random starts, no rescaling, no
offset, no back-off, a fixed number of iterations.

Written in our orientation (rows are samples): target ``Xt ~ Wt @ H``, background
``Xb ~ Wb @ H``. The same code runs on NumPy arrays and, when PyTorch is installed, on torch
tensors (``backend="torch"``, on ``device``), since it uses only operators both share.
"""

from __future__ import annotations

import numpy as np

#: The reference code's floors in the denominators.
EPSILON = {"frobenius": 1e-10, "kl": 1e-16}


def published_starts(n_target: int, n_background: int, n_features: int, k: int, seed: int):
    """Uniform [0, 1) starting factors ``(Wt, Wb, H)`` in float32, as the reference draws them."""
    rng = np.random.default_rng(seed)
    return (rng.random((n_target, k), dtype=np.float32), rng.random((n_background, k), dtype=np.float32),
            rng.random((k, n_features), dtype=np.float32))


def _step_frobenius(Xt, Xb, Wt, Wb, H, alpha, eps):
    Wt = Wt * (Xt @ H.T) / (Wt @ (H @ H.T) + eps)
    Wb = Wb * (Xb @ H.T) / (Wb @ (H @ H.T) + eps)
    H = H * (Wt.T @ Xt + alpha * (Wb.T @ Wb) @ H) / ((Wt.T @ Wt) @ H + alpha * (Wb.T @ Xb) + eps)
    return Wt, Wb, H


def _step_kl(Xt, Xb, Wt, Wb, H, alpha, eps):
    Wt = Wt * ((Xt / (Wt @ H + eps)) @ H.T) / (H.sum(1)[None, :] + eps)
    Wb = Wb * ((Xb / (Wb @ H + eps)) @ H.T) / (H.sum(1)[None, :] + eps)
    numerator = Wt.T @ (Xt / (Wt @ H + eps)) + alpha * Wb.sum(0)[:, None]
    denominator = Wt.sum(0)[:, None] + alpha * (Wb.T @ (Xb / (Wb @ H + eps))) + eps
    return Wt, Wb, H * numerator / denominator


def fit_published(Xt, Xb, k: int, alpha: float, *, loss: str = "frobenius", n_iter: int = 500, seed: int = 0,
                  starts=None, backend: str = "numpy", device: str = "cpu"):
    """Run ``n_iter`` published updates; returns ``(Wt, Wb, H)`` as float32 NumPy arrays.

    ``starts`` (``(Wt, Wb, H)``) replaces the uniform random start drawn with ``seed``.
    """
    Xt = np.asarray(Xt.toarray() if hasattr(Xt, "toarray") else Xt, dtype=np.float32)
    Xb = np.asarray(Xb.toarray() if hasattr(Xb, "toarray") else Xb, dtype=np.float32)
    factors = starts if starts is not None else published_starts(len(Xt), len(Xb), Xt.shape[1], k, seed)
    arrays = [Xt, Xb, *(np.array(f, dtype=np.float32) for f in factors)]
    if backend == "torch":
        import torch

        arrays = [torch.from_numpy(a).to(device) for a in arrays]
    Xt, Xb, Wt, Wb, H = arrays
    step = {"frobenius": _step_frobenius, "kl": _step_kl}[loss]
    for _ in range(n_iter):
        Wt, Wb, H = step(Xt, Xb, Wt, Wb, H, alpha, EPSILON[loss])
    if backend == "torch":
        return tuple(a.cpu().numpy() for a in (Wt, Wb, H))
    return Wt, Wb, H

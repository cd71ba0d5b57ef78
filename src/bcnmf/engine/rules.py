"""The update rules by name, and the choice ``update="auto"`` makes."""

from __future__ import annotations

from bcnmf.engine.base import UpdateRule
from bcnmf.engine.coordinate import COORDINATE_DESCENT
from bcnmf.engine.multiplicative import MULTIPLICATIVE
from bcnmf.losses import Loss

UPDATE_RULES: dict[str, UpdateRule] = {rule.name: rule for rule in (MULTIPLICATIVE, COORDINATE_DESCENT)}
#: The ``update=`` values.
UPDATES = ("auto", *UPDATE_RULES)


def update_rule(update: str, loss: Loss, schedule: str = "full", contrastive: bool = False,
                on_device: bool = False) -> UpdateRule:
    """The rule of ``update`` for ``loss`` in ``schedule`` (a ``solver=`` value), in a model with a
    negatively weighted term when ``contrastive``, for a fit on a PyTorch device when
    ``on_device``: ``"auto"`` takes coordinate descent where it applies (squared error, or KL in
    the full-batch schedule without a contrastive term, every entry observed, on the host),
    multiplicative updates otherwise.

    Raises
    ------
    ValueError
        For an unknown name, or a rule that cannot fit ``loss`` or run in ``schedule``.
    """
    if update == "auto":
        cd = COORDINATE_DESCENT
        applies = cd.supports(loss, contrastive) and schedule in cd.schedules(loss)
        return cd if applies and (cd.runs_on_device or not on_device) else MULTIPLICATIVE
    if update not in UPDATE_RULES:
        raise ValueError(f"update={update!r} is not known; choose one of {UPDATES}.")
    rule = UPDATE_RULES[update]
    if not rule.supports(loss):
        raise ValueError(f"update={update!r} fits squared error and KL only (loss='frobenius' or 'kl', every entry "
                         f"observed); use update='mu' for loss={loss.name!r} or for missing entries.")
    if not rule.supports(loss, contrastive):
        raise ValueError(f"update={update!r} fits loss={loss.name!r} without a contrastive term only (alpha=0); "
                         "use update='mu' for alpha > 0.")
    if on_device and not rule.runs_on_device:
        raise ValueError(f"update={update!r} runs on the host only (its kernels are compiled for NumPy); use "
                         "update='mu' (or 'auto') with device=, or device=None.")
    if schedule not in rule.schedules(loss):
        allowed = " or ".join(repr(name) for name in rule.schedules(loss))
        raise ValueError(f"update={update!r} with loss={loss.name!r} runs with solver={allowed}; for "
                         f"solver={schedule!r} (and partial_fit for 'online') use update='mu'.")
    return rule

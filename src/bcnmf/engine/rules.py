"""The update rules by name, and the choice ``update="auto"`` makes."""

from __future__ import annotations

from bcnmf.engine.base import UpdateRule
from bcnmf.engine.coordinate import COORDINATE_DESCENT
from bcnmf.engine.multiplicative import MULTIPLICATIVE
from bcnmf.losses import Loss

UPDATE_RULES: dict[str, UpdateRule] = {rule.name: rule for rule in (MULTIPLICATIVE, COORDINATE_DESCENT)}
#: The ``update=`` values.
UPDATES = ("auto", *UPDATE_RULES)


def update_rule(update: str, loss: Loss) -> UpdateRule:
    """The rule of ``update`` for ``loss``: ``"auto"`` takes coordinate descent where it applies
    (squared error with every entry observed), multiplicative updates otherwise.

    Raises
    ------
    ValueError
        For an unknown name, or a rule that cannot fit ``loss``.
    """
    if update == "auto":
        return COORDINATE_DESCENT if COORDINATE_DESCENT.supports(loss) else MULTIPLICATIVE
    if update not in UPDATE_RULES:
        raise ValueError(f"update={update!r} is not known; choose one of {UPDATES}.")
    rule = UPDATE_RULES[update]
    if not rule.supports(loss):
        raise ValueError(f"update={update!r} fits squared error only (loss='frobenius', every entry observed); "
                         f"use update='mu' for loss={loss.name!r} or for missing entries.")
    return rule

"""Old attribute names kept for one release: reading one warns and returns the new attribute."""

from __future__ import annotations

import warnings


class DeprecatedAlias:
    """A class attribute that reads the instance attribute ``new`` under an old name, with a
    :class:`FutureWarning` that names the replacement and the release that removes the old name.

    An instance without ``new`` (not fitted yet) raises :class:`AttributeError` without warning,
    so ``hasattr`` and scikit-learn's fitted checks behave as for any missing attribute.
    """

    def __init__(self, new: str, removed_in: str) -> None:
        self.new = new
        self.removed_in = removed_in
        self.old = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.old = name

    def __get__(self, instance, owner: type | None = None):
        if instance is None:
            return self
        value = getattr(instance, self.new)
        warnings.warn(f"{self.old} is deprecated and will be removed in bcnmf {self.removed_in}; use {self.new}.",
                      FutureWarning, stacklevel=2)
        return value

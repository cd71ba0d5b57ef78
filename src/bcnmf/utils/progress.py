"""Progress bars that stay silent unless asked for, so library calls print nothing by default."""

from __future__ import annotations

from tqdm.auto import tqdm


def progress_bar(total: int, desc: str, disable: bool = True) -> tqdm:
    """A tqdm bar over ``total`` steps; ``disable=True`` makes it a no-op context manager."""
    return tqdm(total=total, desc=desc, disable=disable, leave=False, dynamic_ncols=True)

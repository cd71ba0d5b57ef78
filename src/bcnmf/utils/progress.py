"""Progress bars that stay silent unless asked for, so library calls print nothing by default."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm


def progress_bar(total: int, desc: str, disable: bool = True) -> tqdm:
    """A tqdm bar over ``total`` steps; ``disable=True`` makes it a no-op context manager.

    A bar asked for is still left out when stderr is not a terminal (a log file, a pipe), as
    tqdm's ``disable=None`` does: there each redraw would be kilobytes of carriage returns.
    Notebooks draw widgets and keep their bars.
    """
    if not disable and not _draws_widgets() and not _is_terminal(sys.stderr):
        disable = True
    return tqdm(total=total, desc=desc, disable=disable, leave=False, dynamic_ncols=True)


def _draws_widgets() -> bool:
    from tqdm.notebook import tqdm as notebook_tqdm

    return issubclass(tqdm, notebook_tqdm)


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed streams
        return False

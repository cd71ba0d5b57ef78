"""Writing files so that a crash never leaves a half-written one: write beside, then rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike):
    """A temporary path beside ``path`` to write to; renamed onto ``path`` only when the block ends
    without an error (removed otherwise), so readers see the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial" + path.suffix, dir=path.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes the file private; give it the usual mode
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Call ``write(temporary_path)`` and move the result onto ``path`` (see :func:`atomic_path`)."""
    with atomic_path(path) as temporary:
        write(temporary)


def check_writable(path: str | os.PathLike, argument: str) -> None:
    """Raise ``PermissionError`` / ``NotADirectoryError`` / ``IsADirectoryError`` naming
    ``argument`` when :func:`write_atomic` could not write ``path``: checked before any work, so
    that a long fit is not lost to an output that was never possible."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{argument} {str(path)!r} is a folder; give a file name.")
    folder = path.parent
    while not folder.exists():  # write_atomic creates the missing folders
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(f"{argument} {str(path)!r} cannot be written: {str(folder)!r} is a file, not a folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{argument} {str(path)!r} cannot be written: the folder {str(folder)!r} is not "
                              "writable; choose another place.")

"""Writing a file whole or not at all, through a temp file beside it that a killed process does not leave for good."""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_file(dest: Path) -> Iterator[BinaryIO]:
    """A binary file that becomes `dest` only if the block ends without an error: it is written to a temp file
    beside `dest`, flushed to disk, then renamed over it. On an error or a cancel the temp file is removed and
    `dest` stays as it was. File system errors are raised as OSError."""
    with temp_beside(dest) as (out, tmp):
        yield out
        out.flush()
        os.fsync(out.fileno())
        os.replace(tmp, dest)


@contextmanager
def temp_beside(dest: Path) -> Iterator[tuple[BinaryIO, Path]]:
    """A new hidden temp file beside `dest` (`.NAME.<random>.part`) and its path, for the caller to fill and rename
    over `dest` once flushed; on leaving it is closed, and removed unless it was renamed.

    It stays locked (flock) while open, so the temp files of `dest` that a killed process left behind can be told
    from those another process is still writing: the stale ones, whose lock is free, are removed first."""
    _remove_stale_temps(dest)
    while True:
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        fcntl.flock(fd, fcntl.LOCK_EX)
        if _same_file(fd, name):  # not taken for stale by another writer between its creation and its lock
            break
        os.close(fd)
    tmp = Path(name)
    out = open(fd, "wb", buffering=1 << 20)  # noqa: SIM115 - closed below, where an error in closing is moot
    try:
        yield out, tmp
    finally:
        with suppress(OSError):  # what was renamed was flushed first; what was not is removed
            out.close()
        tmp.unlink(missing_ok=True)


def _remove_stale_temps(dest: Path) -> None:
    """Remove the temp files of `dest` that no live process holds locked."""
    pattern = re.compile(re.escape(f".{dest.name}.") + r"[a-z0-9_]{8}\.part")
    with suppress(OSError):
        names = [entry.name for entry in os.scandir(dest.parent) if pattern.fullmatch(entry.name)]
        for name in names:
            path = dest.parent / name
            with suppress(OSError):
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    if _same_file(fd, path):
                        path.unlink()
                finally:
                    os.close(fd)


def _same_file(fd: int, path: str | Path) -> bool:
    """Whether `path` still names the file open as `fd` (a temp file is renamed or removed by name)."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False))
    except FileNotFoundError:
        return False

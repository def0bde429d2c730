"""Writing a file whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_file(dest: Path) -> Iterator[BinaryIO]:
    """A binary file that becomes `dest` only if the block ends without an error: it is written to a temp file
    beside `dest`, flushed to disk, then renamed over it. On an error or a cancel the temp file is removed and
    `dest` stays as it was. File system errors are raised as OSError."""
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with open(fd, "wb", buffering=1 << 20) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

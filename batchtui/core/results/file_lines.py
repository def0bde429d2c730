"""Any line of a local file on demand, for a preview that shows a 200 MB file whole without reading it whole.

Opening scans the file once in blocks of BLOCK bytes, keeping only one checkpoint a block: the number and offset of
the first line that starts in it. A line is then one seek to the checkpoint before it and at most a block's read
away, so memory stays at 16 bytes a block (about 50 KB for 200 MB) however many lines the file has.
"""

from __future__ import annotations

import bisect
from array import array
from pathlib import Path

BLOCK = 64 * 1024
"""Bytes between two checkpoints: what reading one line costs at most, beside the line itself."""


class FileLines:
    """The lines of the file at `path` (without their line breaks); read with `lines(start, count)`.

    Opening does the scan, so call it in a thread for a big file; close it with `close()` or `with`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = path.open("rb")
        self._numbers = array("q")
        self._offsets = array("q")
        self._count = 0
        try:
            self._scan()
        except BaseException:
            self._handle.close()
            raise

    def _scan(self) -> None:
        breaks, offset, after_break = 0, 0, True
        while block := self._handle.read(BLOCK):
            first = 0 if after_break else block.find(b"\n") + 1
            if after_break or first:
                self._numbers.append(breaks + (1 if first else 0))
                self._offsets.append(offset + first)
            breaks += block.count(b"\n")
            offset += len(block)
            after_break = block.endswith(b"\n")
        self._count = breaks + (0 if after_break else 1)

    def __len__(self) -> int:
        return self._count

    def lines(self, start: int, count: int, *, max_bytes: int = 1 << 16) -> list[str]:
        """Lines `start` to `start + count` (fewer at the end), decoded as UTF-8 with errors replaced; a line longer
        than `max_bytes` is cut there and ends in "…", so one huge line never costs its size."""
        start = max(0, start)
        end = min(self._count, start + count)
        if start >= end:
            return []
        point = bisect.bisect_right(self._numbers, start) - 1
        number = self._numbers[point]
        self._handle.seek(self._offsets[point])
        shown: list[str] = []
        while number < end:
            raw = self._handle.readline(max_bytes)
            whole = raw.endswith(b"\n")
            if number >= start:
                text = raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", errors="replace")
                cut = not whole and self._handle.peek(1)[:1] not in (b"", b"\n", b"\r")
                shown.append(text + "…" if cut else text)
            number += 1
            while not whole and number < end and (rest := self._handle.readline(BLOCK)):
                whole = rest.endswith(b"\n")
        return shown

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> FileLines:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

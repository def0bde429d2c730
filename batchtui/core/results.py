"""An index of a batch's input, output and error JSONL files joined by custom_id, for a viewer of 50,000 requests.

Lines are found by scanning bytes (mmap, find, anchored regexes); a line is parsed in full only when the quick
scan cannot read it, so building costs little more than reading the files. Scanned pages are dropped from the
process as it goes, and lines are read later with pread, so the files never sit in the viewer's memory.
Per-row data sits in parallel arrays, not one object per row, so a big index adds no work for the garbage
collector. A finished index can be stored
beside the cache and loaded again in milliseconds while its files are unchanged.

Thread safety: `build_index` runs in one worker thread while the UI reads from another. Arrays only grow or
have single items set; a row's result is written before the row points at it, and the row count is published
last, so any row below `len(index)` can be read at any time.

A line is trusted as JSON when its start reads as an object holding a top-level custom_id and it ends with "}";
a line the quick scan cannot vouch for is parsed with orjson, and becomes an "unreadable" row if that fails.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import mmap
import os
import re
import sys
import tempfile
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import orjson

from batchtui.core.errors import BatchtuiError


class Outcome(enum.IntEnum):
    """What became of one request; stored as one byte per row."""

    PENDING = 0  # input line with no output/error line (yet, or batch cancelled/expired w/o line)
    OK = 1  # 2xx
    FAILED = 2  # non-2xx status code, or an error object other than expired/cancelled
    EXPIRED = 3  # error code batch_expired
    CANCELLED = 4  # error code batch_cancelled
    UNREADABLE = 5  # a line that is not JSON or has no custom_id


@dataclass(frozen=True)
class ResultFiles:
    """A batch's files as they are on disk; any of them may be absent (a lone output file works too)."""

    input: Path | None = None
    output: Path | None = None
    errors: Path | None = None


RowFilter = Literal["all", "succeeded", "failed", "stopped"]
FileKind = Literal["input", "output", "error"]


class ResultFileError(BatchtuiError):
    """A result file is missing or cannot be read."""


class BuildCancelled(BatchtuiError):
    """`build_index` stopped early because `cancelled()` returned True; the partial index is closed."""


REPORT_EVERY = 2_000
"""Lines read between two calls of `on_rows` and `cancelled`."""
FIRST_REPORT = 100
"""The first rows are reported sooner: a screenful is all a viewer needs to paint."""

_KINDS: tuple[FileKind, ...] = ("input", "output", "error")
_FILTERS: dict[str, frozenset[int]] = {
    "succeeded": frozenset({Outcome.OK}),
    "failed": frozenset({Outcome.FAILED, Outcome.UNREADABLE}),
    "stopped": frozenset({Outcome.EXPIRED, Outcome.CANCELLED}),
}
_STOPPED = {"batch_expired": Outcome.EXPIRED, "batch_cancelled": Outcome.CANCELLED}
_LABELS = {Outcome.OK: "ok", Outcome.PENDING: "pending", Outcome.UNREADABLE: "unreadable"}

# Only scalar pairs may come before custom_id, so a match is the top-level key, never one inside "body".
# An id with escapes does not match: such lines are parsed in full.
_SCALAR = rb'(?:"[^"\\\n]*+(?:\\.[^"\\\n]*+)*+"|[-+.\w]++)'
_CUSTOM_ID = rb'\s*+\{(?:\s*+"[^"\\\n]*+"\s*+:\s*+' + _SCALAR + rb'\s*+,)*?\s*+"custom_id"\s*+:\s*+"([^"\\\n]*+)"'
_INPUT_HEAD = re.compile(_CUSTOM_ID)
_OUTPUT_HEAD = re.compile(_CUSTOM_ID + rb'\s*+,\s*+"response"\s*+:\s*+\{\s*+"status_code"\s*+:\s*+(2\d\d)\b')
_TOKENS = re.compile(rb'"total_tokens"\s*+:\s*+(\d{1,15})\b')
_TOKENS_TAIL = 1024
"""Bytes at a line's end looked at for usage first; a line without it there is searched back to its start."""

_MAGIC = b"BTRIDX03"
"""Start of a stored index file; the last two digits are the format version."""

_Read = tuple[str, int, int, str | None, int]
"""A result line read: custom_id, outcome, status code (0: none), error code, total tokens (-1: unknown)."""


@dataclass
class _Columns:
    """Parallel arrays: per row (outcome .. result) and per result line read (kind .. tokens); -1/0 mean none."""

    outcome: bytearray = field(default_factory=bytearray)
    in_off: array[int] = field(default_factory=lambda: array("q"))
    in_len: array[int] = field(default_factory=lambda: array("q"))
    in_line: array[int] = field(default_factory=lambda: array("q"))
    result: array[int] = field(default_factory=lambda: array("q"))  # position in the result arrays, -1 none
    kind: bytearray = field(default_factory=bytearray)  # 1 output file, 2 error file
    off: array[int] = field(default_factory=lambda: array("q"))
    len: array[int] = field(default_factory=lambda: array("q"))
    line: array[int] = field(default_factory=lambda: array("q"))
    status: array[int] = field(default_factory=lambda: array("i"))
    code: array[int] = field(default_factory=lambda: array("i"))  # position in ResultIndex._codes, -1 none
    tokens: array[int] = field(default_factory=lambda: array("q"))


_ROW_COLUMNS = frozenset({"outcome", "in_off", "in_len", "in_line", "result"})


class ResultIndex:
    """Rows of a batch's requests joined across its files; made by `build_index`. Call `close()` when done."""

    def __init__(self, files: ResultFiles) -> None:
        self.files = files
        self.complete = False
        self.loaded_from_store = False
        self._n = 0
        self._n_input = 0
        self._ids: list[str] = []
        self._codes: list[str] = []
        self._cols = _Columns()
        self._bufs: list[Any] = [None, None, None]
        self._fds: list[int | None] = [None, None, None]
        self._stats: list[tuple[str, int, int] | None] = [None, None, None]
        try:
            for kind, path in enumerate((files.input, files.output, files.errors)):
                if path is not None:
                    self._fds[kind], self._bufs[kind], self._stats[kind] = _open(path)
        except BaseException:
            self.close()
            raise

    def __len__(self) -> int:
        return self._n

    def custom_id(self, row: int) -> str:
        return self._ids[row]

    def outcome(self, row: int) -> Outcome:
        return Outcome(self._cols.outcome[row])

    def status_code(self, row: int) -> int | None:
        k = self._cols.result[row]
        return self._cols.status[k] or None if k >= 0 else None

    def error_code(self, row: int) -> str | None:
        k = self._cols.result[row]
        number = self._cols.code[k] if k >= 0 else -1
        return None if number < 0 else self._codes[number]

    def status_label(self, row: int) -> str:
        """A short word for the status column: "ok", "400", "batch_expired", "pending", "unreadable"."""
        outcome = self.outcome(row)
        if outcome in _LABELS:
            return _LABELS[outcome]
        status = self.status_code(row)
        return str(status) if status and outcome == Outcome.FAILED else self.error_code(row) or outcome.name.lower()

    def tokens(self, row: int) -> int | None:
        """The response body's usage.total_tokens; None when unknown."""
        k = self._cols.result[row]
        value = self._cols.tokens[k] if k >= 0 else -1
        return None if value < 0 else value

    def input_line(self, row: int) -> bytes | None:
        c = self._cols
        return self._read(0, c.in_off[row], c.in_len[row]) if c.in_line[row] else None

    def output_line(self, row: int) -> bytes | None:
        """The row's line from the output file, else from the error file."""
        c = self._cols
        k = c.result[row]
        return self._read(c.kind[k], c.off[k], c.len[k]) if k >= 0 else None

    def line_number(self, row: int, kind: FileKind) -> int | None:
        """The 1-based line number of the row's line in that file, if it has one there."""
        c = self._cols
        if kind == "input":
            return c.in_line[row] or None
        k = c.result[row]
        return c.line[k] if k >= 0 and c.kind[k] == _KINDS.index(kind) else None

    def unreadable_where(self, row: int) -> tuple[str, int] | None:
        """Which file and line an unreadable row is, e.g. ("output", 17); None for other rows."""
        c = self._cols
        if c.outcome[row] != Outcome.UNREADABLE:
            return None
        if c.in_line[row]:
            return "input", c.in_line[row]
        k = c.result[row]
        return _KINDS[c.kind[k]], c.line[k]

    def row_of_input_line(self, line_number: int) -> int | None:
        """The row of the input file's line `line_number` (1-based); None for a blank or absent line."""
        lines, n = self._cols.in_line, self._n_input
        row = bisect_left(lines, line_number, 0, n)
        return row if row < n and lines[row] == line_number else None

    def rows(self, which: RowFilter = "all") -> list[int]:
        """Rows in index order; "failed" holds FAILED and UNREADABLE rows, "stopped" EXPIRED and CANCELLED."""
        outcomes = self._cols.outcome[: self._n]
        if which == "all":
            return list(range(len(outcomes)))
        wanted = _FILTERS[which]
        return [row for row, outcome in enumerate(outcomes) if outcome in wanted]

    def next_row(self, after: int, outcomes: frozenset[Outcome]) -> int | None:
        """The first row after `after` with one of `outcomes`, or None when there is none (no wrapping)."""
        found = [r for o in outcomes if (r := self._cols.outcome.find(o, max(after + 1, 0), self._n)) >= 0]
        return min(found, default=None)

    def close(self) -> None:
        """Release the files; lines read afterwards are None."""
        bufs, self._bufs = self._bufs, [None, None, None]
        fds, self._fds = self._fds, [None, None, None]
        for buf in bufs:
            if isinstance(buf, mmap.mmap):
                buf.close()
        for fd in fds:
            if fd is not None:
                os.close(fd)

    def _read(self, kind: int, offset: int, length: int) -> bytes | None:
        """One line by pread, not through the map: pages read by a viewer or a search never pile up in its RSS."""
        fd = self._fds[kind]
        try:
            return None if fd is None else os.pread(fd, length, offset)
        except OSError:  # closed by another thread meanwhile
            return None

    def _key(self) -> list[Any]:
        return orjson.loads(orjson.dumps([_MAGIC.decode(), sys.byteorder, self._stats]))

    def _save(self, path: Path) -> None:
        """Write the index to `path` atomically: magic, header length, JSON header, columns, custom_ids."""
        cols = [(f.name, getattr(self._cols, f.name)) for f in fields(self._cols)]
        ids = orjson.dumps(self._ids)
        header = orjson.dumps({
            "key": self._key(),
            "rows": self._n,
            "input_rows": self._n_input,
            "results": len(self._cols.off),
            "codes": self._codes,
            "ids": len(ids),
            "columns": [[name, _typecode(col), len(bytes(col))] for name, col in cols],
        })
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(_MAGIC + len(header).to_bytes(4, "little") + header)
                for _, col in cols:
                    out.write(col)
                out.write(ids)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _load(self, path: Path) -> bool:
        """Fill the index from a stored file made for these very files; False if it is absent, stale or bad."""
        try:
            data = path.read_bytes()
            if not data.startswith(_MAGIC):
                return False
            size = int.from_bytes(data[8:12], "little")
            header = orjson.loads(data[12 : 12 + size])
            if header["key"] != self._key():
                return False
            pos, cols = 12 + size, _Columns()
            for (name, typecode, nbytes), f in zip(header["columns"], fields(cols), strict=True):
                raw = data[pos : pos + nbytes]
                col = bytearray(raw) if typecode == "B" else array(typecode, raw)
                count = header["rows"] if name in _ROW_COLUMNS else header["results"]
                if name != f.name or typecode != _typecode(getattr(cols, name)) or len(col) != count:
                    return False
                setattr(cols, name, col)
                pos += nbytes
            ids, codes = orjson.loads(data[pos:]), header["codes"]
            if not (isinstance(ids, list) and len(ids) == header["rows"] and isinstance(codes, list)):
                return False
        except (OSError, ValueError, KeyError, TypeError):
            return False
        self._cols, self._ids, self._codes, self._n_input = cols, ids, codes, header["input_rows"]
        self._n, self.complete, self.loaded_from_store = header["rows"], True, True
        return True


def _typecode(col: bytearray | array[int]) -> str:
    return "B" if isinstance(col, bytearray) else col.typecode


def _open(path: Path) -> tuple[int, bytes | mmap.mmap, tuple[str, int, int]]:
    """Open a file for pread and map it read-only for the scan; also its absolute path, size and mtime, which
    key the stored index."""
    fd = None
    try:
        fd = os.open(path, os.O_RDONLY)
        st = os.fstat(fd)
        buf = mmap.mmap(fd, 0, access=mmap.ACCESS_READ) if st.st_size else b""
    except OSError as exc:
        if fd is not None:
            os.close(fd)
        raise ResultFileError(f"Cannot read result file {path}: {exc.strerror or exc}") from exc
    return fd, buf, (str(Path(path).absolute()), st.st_size, st.st_mtime_ns)


def _release(buf: bytes | mmap.mmap, end: int) -> None:
    """Drop the mapped pages before `end` from this process (the kernel keeps them cached): a scan of 300 MB
    then never holds more than a chunk of it in the viewer's RSS."""
    if isinstance(buf, mmap.mmap) and end >= mmap.PAGESIZE:
        with contextlib.suppress(OSError, ValueError):
            buf.madvise(mmap.MADV_DONTNEED, 0, end - end % mmap.PAGESIZE)


def _lines(buf: bytes | mmap.mmap) -> Iterator[tuple[int, int, int]]:
    """(1-based line number, start, end) of each non-blank line; end excludes the newline."""
    pos, number, size, find = 0, 0, len(buf), buf.find
    if buf[:3] == b"\xef\xbb\xbf":
        pos = 3
    while pos < size:
        end = find(b"\n", pos)
        if end < 0:
            end = size
        number += 1
        if buf[pos] == 123 or buf[pos:end].strip():  # 123: "{"
            yield number, pos, end
        pos = end + 1


def _ends_object(buf: bytes | mmap.mmap, start: int, end: int) -> bool:
    """Whether the line ends with "}" (before trailing whitespace): a cheap guard against cut-off lines."""
    return buf[max(start, end - 8) : end].rstrip().endswith(b"}")


def _parse(buf: bytes | mmap.mmap, start: int, end: int) -> dict[str, Any] | None:
    """The line as a JSON object with a string custom_id, or None."""
    try:
        obj = orjson.loads(buf[start:end])
    except ValueError:
        return None
    return obj if isinstance(obj, dict) and isinstance(obj.get("custom_id"), str) else None


def _read_input(buf: bytes | mmap.mmap, start: int, end: int) -> str | None:
    """An input line's custom_id; None when the line is unreadable."""
    m = _INPUT_HEAD.match(buf, start, end)
    if m is not None and (buf[end - 1] == 125 or _ends_object(buf, start, end)):  # 125: "}"
        try:
            return m.group(1).decode()
        except UnicodeDecodeError:
            return None
    obj = _parse(buf, start, end)
    return None if obj is None else obj["custom_id"]


def _int(value: object, limit: int) -> int | None:
    return value if type(value) is int and 0 <= value < limit else None


def _read_result(buf: bytes | mmap.mmap, start: int, end: int) -> _Read | None:
    """What an output or error line says; None when it is unreadable.

    A 2xx line is read from its first bytes (custom_id, status) and usage near its end; other lines (errors,
    other key orders, escapes the scan cannot vouch for) are parsed in full.
    """
    m = _OUTPUT_HEAD.match(buf, start, end)
    if m is not None and (buf[end - 1] == 125 or _ends_object(buf, start, end)):
        try:
            cid = m.group(1).decode()
        except UnicodeDecodeError:
            return None
        at = buf.rfind(b'"total_tokens"', max(start, end - _TOKENS_TAIL), end)
        at = buf.rfind(b'"total_tokens"', start, end) if at < 0 else at
        tokens = _TOKENS.match(buf, at, end) if at >= 0 else None
        return cid, Outcome.OK, int(m.group(2)), None, int(tokens.group(1)) if tokens else -1
    obj = _parse(buf, start, end)
    if obj is None:
        return None
    response, error = obj.get("response"), obj.get("error")
    if isinstance(response, dict) and (status := _int(response.get("status_code"), 1000)):
        body = response.get("body")
        body = body if isinstance(body, dict) else {}
        usage, body_error = body.get("usage"), body.get("error")
        tokens = _int(usage.get("total_tokens"), 1 << 62) if isinstance(usage, dict) else None
        code = body_error.get("code") if isinstance(body_error, dict) else None
        outcome = Outcome.OK if 200 <= status < 300 else Outcome.FAILED
        code = code if isinstance(code, str) else None
        return obj["custom_id"], outcome, status, code, -1 if tokens is None else tokens
    code = error.get("code") if isinstance(error, dict) else None
    code = code if isinstance(code, str) else None
    return obj["custom_id"], _STOPPED.get(code or "", Outcome.FAILED), 0, code, -1


class _Builder:
    """Fills a ResultIndex: input rows first, then each result line joined onto its row, a chunk at a time.

    A chunk's values are gathered in lists and added to the arrays in bulk, which is what makes building fast.
    """

    def __init__(self, index: ResultIndex, on_rows: Callable[[ResultIndex], None] | None,
                 cancelled: Callable[[], bool]) -> None:
        self.index = index
        self.on_rows = on_rows
        self.cancelled = cancelled
        self.waiting: dict[str, int] = {}  # custom_id -> input row with no result yet
        self.duplicates: dict[str, list[int]] = {}  # later input rows reusing a custom_id, in order
        self.code_numbers: dict[str, int] = {}

    def run(self) -> None:
        bufs = self.index._bufs
        if bufs[0] is not None:
            self._input(bufs[0])
        for kind in (1, 2):
            if bufs[kind] is not None:
                self._results(kind, bufs[kind])
        self.index.complete = True
        self._report()

    def _report(self) -> None:
        if self.on_rows is not None:
            self.on_rows(self.index)

    def _next_chunk(self) -> None:
        self._report()
        if self.cancelled():
            raise BuildCancelled("Building the result index was cancelled.")

    def _input(self, buf: bytes | mmap.mmap) -> None:
        index, cols, waiting = self.index, self.index._cols, self.waiting
        ids: list[str] = []
        outcomes, offs, lens, numbers = bytearray(), [], [], []

        def flush() -> None:
            cols.in_off.extend(offs)
            cols.in_len.extend(lens)
            cols.in_line.extend(numbers)
            cols.result.extend([-1] * len(ids))
            cols.outcome.extend(outcomes)
            index._ids.extend(ids)
            index._n = index._n_input = len(index._ids)
            for chunk in (ids, offs, lens, numbers, outcomes):
                chunk.clear()

        for number, start, end in _lines(buf):
            cid = _read_input(buf, start, end)
            if cid is None:
                outcomes.append(Outcome.UNREADABLE)
            else:
                outcomes.append(Outcome.PENDING)
                row = index._n + len(ids)
                if cid in waiting:
                    self.duplicates.setdefault(cid, []).append(row)
                else:
                    waiting[cid] = row
            ids.append(cid or "")
            offs.append(start)
            lens.append(end - start)
            numbers.append(number)
            if len(ids) == (FIRST_REPORT if index._n == 0 else REPORT_EVERY):
                flush()
                _release(buf, end)
                self._next_chunk()
        flush()
        _release(buf, len(buf))

    def _results(self, kind: int, buf: bytes | mmap.mmap) -> None:
        index, cols = self.index, self.index._cols
        offs, lens, numbers, statuses, codes, tokens = [], [], [], [], [], []
        joined: list[tuple[int, int, int]] = []  # (row, result, outcome)
        new_ids: list[str] = []
        new_results: list[int] = []
        new_outcomes = bytearray()

        def flush() -> None:
            cols.off.extend(offs)
            cols.len.extend(lens)
            cols.line.extend(numbers)
            cols.status.extend(statuses)
            cols.code.extend(codes)
            cols.tokens.extend(tokens)
            cols.kind.extend(bytes([kind]) * len(offs))
            for row, k, outcome in joined:
                cols.result[row] = k
                cols.outcome[row] = outcome
            zeros = [0] * len(new_ids)
            for col in (cols.in_off, cols.in_len, cols.in_line):
                col.extend(zeros)
            cols.result.extend(new_results)
            cols.outcome.extend(new_outcomes)
            index._ids.extend(new_ids)
            index._n = len(index._ids)
            for chunk in (offs, lens, numbers, statuses, codes, tokens, joined, new_ids, new_results, new_outcomes):
                chunk.clear()

        for number, start, end in _lines(buf):
            k = len(cols.off) + len(offs)
            read = _read_result(buf, start, end)
            offs.append(start)
            lens.append(end - start)
            numbers.append(number)
            if read is None:
                statuses.append(0)
                codes.append(-1)
                tokens.append(-1)
                row, cid, outcome = None, "", Outcome.UNREADABLE
            else:
                cid, outcome, status, code, count = read
                statuses.append(status)
                codes.append(-1 if code is None else self._code_number(code))
                tokens.append(count)
                row = self._claim(cid)
            if row is None:
                new_ids.append(cid)
                new_results.append(k)
                new_outcomes.append(outcome)
            else:
                joined.append((row, k, outcome))
            if len(offs) == REPORT_EVERY:
                flush()
                _release(buf, end)
                self._next_chunk()
        flush()
        _release(buf, len(buf))

    def _claim(self, cid: str) -> int | None:
        """The input row waiting for this custom_id's result, if any (rows sharing an id are served in order)."""
        row = self.waiting.pop(cid, None)
        later = self.duplicates.get(cid)
        if row is not None and later:
            self.waiting[cid] = later.pop(0)
        return row

    def _code_number(self, code: str) -> int:
        number = self.code_numbers.get(code)
        if number is None:
            number = self.code_numbers[code] = len(self.index._codes)
            self.index._codes.append(code)
        return number


def store_path(store_dir: Path, files: ResultFiles) -> Path:
    """Where the stored index of these files lives: one file per set of paths, replaced when they change."""
    names = [str(Path(p).absolute()) if p else "" for p in (files.input, files.output, files.errors)]
    return store_dir / (hashlib.sha256("\0".join(names).encode()).hexdigest()[:32] + ".idx")


def build_index(
    files: ResultFiles,
    *,
    store_dir: Path | None = None,
    on_rows: Callable[[ResultIndex], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> ResultIndex:
    """Index the files (blocking: run it in a thread), or load the stored index when they are unchanged.

    Rows follow the input file; result lines with no input row follow, output file first. `on_rows(index)`
    is called every REPORT_EVERY lines and at the end, so a viewer can show rows while they arrive. When
    `cancelled()` returns True the build stops, closes the index and raises BuildCancelled. A missing or
    unreadable file raises ResultFileError.
    """
    index = ResultIndex(files)
    try:
        stored = store_path(store_dir, files) if store_dir is not None else None
        if stored is not None and index._load(stored):
            if on_rows is not None:
                on_rows(index)
            return index
        _Builder(index, on_rows, cancelled).run()
        if stored is not None and _unchanged(index):
            with contextlib.suppress(OSError):  # a cache that cannot be written only costs a rescan next time
                index._save(stored)
    except BaseException:
        index.close()
        raise
    return index


def _unchanged(index: ResultIndex) -> bool:
    """Whether the files still have the size and mtime they had when mapped (a growing file is not stored)."""
    for stat in index._stats:
        if stat is not None:
            try:
                st = os.stat(stat[0])
            except OSError:
                return False
            if (st.st_size, st.st_mtime_ns) != stat[1:]:
                return False
    return True

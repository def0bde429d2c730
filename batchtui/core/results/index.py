"""An index of a batch's input, output and error JSONL files joined by custom_id, for a viewer of 50,000 requests.

Lines are found by scanning bytes (mmap; a small C scanner, `_linescan`, reads the layout OpenAI writes); a line
is parsed in full only when the quick scan cannot read it, so building costs little more than reading the files.
Without the compiled scanner (an install with no C compiler) every line takes the slower Python line reader.
Scanned pages are dropped from the process as it goes, and lines are read later with pread, so the files never
sit in the viewer's memory. Per-row data sits in parallel arrays, not one object per row, so a big index adds no
work for the garbage collector. A finished index can be stored beside the cache and loaded again in
milliseconds while its files are unchanged.

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
import threading
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from itertools import count, repeat
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeGuard, cast

import orjson

from batchtui.core.domain import Cancelled
from batchtui.core.errors import BatchtuiError
from batchtui.core.paths import make_private_dirs

try:
    from batchtui.core.results import _linescan  # type: ignore[attr-defined]  # a C extension, no stubs
except ImportError:  # built without a C compiler: lines are found and read in Python, several times slower
    _linescan = None


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
    """A batch's files as they are on disk; any of them may be absent (a lone output file works too).

    `retries` are the output and error files of later batches that retried some of these requests, oldest
    first: a row shows its latest attempt's result."""

    input: Path | None = None
    output: Path | None = None
    errors: Path | None = None
    retries: tuple[ResultFiles, ...] = ()
    attempts: tuple[int, ...] = ()
    """The attempt number each results pair holds (its own, then each retry's), when it is not its position: a
    job's files list every part's batches, each with its own attempt number."""

    def paths(self) -> list[Path | None]:
        """Every file slot in index order: input, output, errors, then each retry's output and errors."""
        return [self.input, self.output, self.errors, *(p for r in self.retries for p in (r.output, r.errors))]


_SNIFF_LINES = 20
"""Lines of a file read at most to tell what it holds."""


def file_holds(path: Path) -> Literal["requests", "results"] | None:
    """What a batch JSONL file holds, told from its first JSON object lines: requests (method, url, body) or
    results (response, error); None when none of them says (empty, or no line readable)."""
    try:
        with path.open("rb") as lines:
            for _, line in zip(range(_SNIFF_LINES), lines, strict=False):
                try:
                    obj = orjson.loads(line.removeprefix(b"\xef\xbb\xbf"))
                except orjson.JSONDecodeError:
                    continue
                if isinstance(obj, dict) and obj.keys() & {"response", "error"}:
                    return "results"
                if isinstance(obj, dict) and obj.keys() & {"method", "url", "body"}:
                    return "requests"
    except OSError as exc:
        raise ResultFileError(f"Cannot read result file {path}: {exc.strerror or exc}") from exc
    return None


def arrange_files(files: ResultFiles) -> ResultFiles:
    """The files in the slots their lines call for: a file of requests named as the output or errors (or swapped
    with the input) becomes the input, a file of results named as the input becomes the output (or errors when
    that is taken). A file whose lines say nothing stays where it was named. Raises ResultFileError, one line
    naming the files, when they cannot be placed (two files of requests, three of results)."""
    named = {"input": files.input, "output": files.output, "errors": files.errors}
    holds = {slot: file_holds(path) for slot, path in named.items() if path is not None}
    requests = [named[slot] for slot in named if holds.get(slot) == "requests"]
    if len(requests) > 1:
        raise ResultFileError(f"{requests[0]} and {requests[1]} both hold requests (method, url, body lines); "
                              "name the batch's input with --input and its output as OUTPUT")
    placed = {slot: path for slot, path in named.items() if holds.get(slot) is None}
    results = [named[slot] for slot in ("output", "errors", "input") if holds.get(slot) == "results"]
    if requests:
        if placed.get("input") is not None:
            raise ResultFileError(f"{requests[0]} holds requests (method, url, body lines), yet --input names "
                                  f"{placed['input']}; name one input file")
        placed["input"] = requests[0]
    for path in results:
        free = next((slot for slot in ("output", "errors") if placed.get(slot) is None), None)
        if free is None:
            raise ResultFileError(f"{path} holds results (response, error lines), as do OUTPUT and --errors; "
                                  "name at most two result files")
        placed[free] = path
    return ResultFiles(input=placed.get("input"), output=placed.get("output"), errors=placed.get("errors"),
                       retries=files.retries)


RowFilter = Literal["all", "succeeded", "failed", "stopped"]
FileKind = Literal["input", "output", "error"]


class ResultFileError(BatchtuiError):
    """A result file is missing or cannot be read."""


class BuildCancelled(Cancelled):
    """`build_index` stopped early because `cancelled()` returned True; the partial index is closed."""


REPORT_EVERY = 2_000
"""Lines read between two calls of `on_rows` and `cancelled`."""
FIRST_REPORT = 100
"""The first rows are reported sooner: a screenful is all a viewer needs to paint."""

_KINDS: tuple[FileKind, ...] = ("input", "output", "error")
"""What each file slot is; slots past these are retries' output and error files, in turn."""
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

_TOKENS_UNREAD = -2
"""Tokens of a 2xx line the quick scan left for `ResultIndex.tokens` to read when first asked (-1: none)."""

_MAGIC = b"BTRIDX06"
"""Start of a stored index file; the last two digits are the format version."""

_Read = tuple[str, Outcome, int, str | None, int]
"""A result line read: custom_id, outcome, status code (0: none), error code, total tokens (-1: unknown)."""


@dataclass
class _Columns:
    """Parallel arrays: per row (outcome .. result) and per result line read (kind .. tokens); -1/0 mean none."""

    outcome: bytearray = field(default_factory=bytearray)
    in_off: array[int] = field(default_factory=lambda: array("q"))
    in_len: array[int] = field(default_factory=lambda: array("q"))
    in_line: array[int] = field(default_factory=lambda: array("q"))
    result: array[int] = field(default_factory=lambda: array("q"))  # position in the result arrays, -1 none
    attempt: bytearray = field(default_factory=bytearray)  # 1 the batch itself, 2 its first retry, ...; 0 none
    kind: bytearray = field(default_factory=bytearray)  # file slot: 1 output file, 2 error file, 3.. retries'
    off: array[int] = field(default_factory=lambda: array("q"))
    len: array[int] = field(default_factory=lambda: array("q"))
    line: array[int] = field(default_factory=lambda: array("q"))
    status: array[int] = field(default_factory=lambda: array("i"))
    code: array[int] = field(default_factory=lambda: array("i"))  # position in ResultIndex._codes, -1 none
    tokens: array[int] = field(default_factory=lambda: array("q"))  # -2 not read yet


_ROW_COLUMNS = frozenset({"outcome", "in_off", "in_len", "in_line", "result", "attempt"})


class ResultIndex:
    """Rows of a batch's requests joined across its files; made by `build_index`. Call `close()` when done."""

    def __init__(self, files: ResultFiles) -> None:
        self.files = files
        self.complete = False
        self.batch_ended = False
        """Whether the batch has ended, as its opener knows: a request with no result is then one that never ran
        (a batch that failed validation), not one still pending."""
        self.loaded_from_store = False
        self._n = 0
        self._n_input = 0
        self._ids: list[str] = []
        self._codes: list[str] = []
        self._cols = _Columns()
        paths = files.paths()
        self._bufs: list[Any] = [None] * len(paths)
        self._fds: list[int | None] = [None] * len(paths)
        self._stats: list[tuple[str, int, int] | None] = [None] * len(paths)
        self._guard = threading.Lock()
        self._repeats_guard = threading.Lock()
        self._first_rows: dict[str, int] = {}  # custom_id -> the first row with it, for rows below _repeats_seen
        self._repeats: dict[int, int] = {}  # a row whose custom_id an earlier row has -> that earlier row
        self._repeats_seen = 0
        self._building = False
        self._closing = False
        try:
            for kind, path in enumerate(paths):
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
        """A short word for the status column: "ok", "400", "batch_expired", "pending", "unreadable"; a row repeating
        an earlier row's custom_id says so after it ("ok duplicate")."""
        outcome, status = self.outcome(row), self.status_code(row)
        if outcome == Outcome.PENDING and self.batch_ended:
            label = "not run"
        elif outcome in _LABELS:
            label = _LABELS[outcome]
        elif status and outcome == Outcome.FAILED:
            label = str(status)
        else:
            label = self.error_code(row) or outcome.name.lower()
        return label + " duplicate" if self.duplicate_of(row) is not None else label

    def duplicate_of(self, row: int) -> int | None:
        """The earlier row with this row's custom_id (a hand-merged file repeats ids), or None for a row whose id
        is its own; found over the rows indexed so far, once each. The ids' first rows are let go once every row
        is known, so a big index keeps only the rare repeats."""
        with self._repeats_guard:
            complete, ids, first, repeats = self.complete, self._ids, self._first_rows, self._repeats
            for later in range(self._repeats_seen, self._n):
                cid = ids[later]
                if cid and first.setdefault(cid, later) != later:
                    repeats[later] = first[cid]
            self._repeats_seen = max(self._repeats_seen, self._n)
            if complete:
                first.clear()
            return repeats.get(row)

    def tokens(self, row: int) -> int | None:
        """The response body's usage.total_tokens; None when unknown."""
        c = self._cols
        k = c.result[row]
        value = c.tokens[k] if k >= 0 else -1
        if value == _TOKENS_UNREAD:
            line = self._read(c.kind[k], c.off[k], c.len[k])
            if line is None:
                return None
            value = c.tokens[k] = _total_tokens(line, 0, len(line))
        return None if value < 0 else value

    def attempt(self, row: int) -> int:
        """Which attempt the row's result comes from: 1 the batch itself, 2 its first retry, ...; 0 no result."""
        return self._cols.attempt[row]

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
        return c.line[k] if k >= 0 and _slot_kind(c.kind[k]) == kind else None

    def unreadable_where(self, row: int) -> tuple[str, int] | None:
        """Which file and line an unreadable row is, e.g. ("output", 17); None for other rows."""
        c = self._cols
        if c.outcome[row] != Outcome.UNREADABLE:
            return None
        if c.in_line[row]:
            return "input", c.in_line[row]
        k = c.result[row]
        return _slot_kind(c.kind[k]), c.line[k]

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

    def close(self) -> None:
        """Release the files; lines read afterwards are None. Safe from any thread at any time: while `build_index`
        runs, the build stops at its next chunk and releases them itself, as the scanner may be reading the map
        at this moment (unmapping it under the scanner fails with BufferError)."""
        with self._guard:
            self._closing = True
            if self._building:
                return
        self._release()

    def _release(self) -> None:
        with self._guard:
            bufs, self._bufs = self._bufs, [None] * len(self._bufs)
            fds, self._fds = self._fds, [None] * len(self._fds)
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
        key: list[Any] = orjson.loads(orjson.dumps([_MAGIC.decode(), sys.byteorder, self._stats]))
        return key

    def _save(self, path: Path) -> None:
        """Write the index to `path` atomically: magic, CRC-32 of the rest, header length, JSON header, columns,
        custom_ids. The checksum keeps a damaged file from being loaded as wrong rows."""
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
        parts = [len(header).to_bytes(4, "little") + header, *(col for _, col in cols), ids]
        crc = 0
        for part in parts:
            crc = zlib.crc32(part, crc)
        make_private_dirs(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(_MAGIC + crc.to_bytes(4, "little"))
                for part in parts:
                    out.write(part)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _load(self, path: Path) -> bool:
        """Fill the index from a stored file made for these very files; False if it is absent, stale or bad."""
        try:
            data = path.read_bytes()
            crc = int.from_bytes(data[8:12], "little")
            if not data.startswith(_MAGIC) or crc != zlib.crc32(memoryview(data)[12:]):
                return False
            size = int.from_bytes(data[12:16], "little")
            header = orjson.loads(data[16 : 16 + size])
            if header["key"] != self._key():
                return False
            pos, cols = 16 + size, _Columns()
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


def _slot_kind(slot: int) -> FileKind:
    return _KINDS[slot] if slot < len(_KINDS) else _KINDS[1 + (slot - 1) % 2]


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


class _Chunk(NamedTuple):
    """Lines of a file read in one go, and what the quick scan read of them."""

    number: int  # of the first line
    starts: array[int]
    lengths: array[int]  # without the newline
    ids: bytes | None  # custom_ids joined by newlines; None unless the scanner read every line of the chunk
    statuses: bytes | None  # 2xx status codes of output lines, as native int32s


def _line_chunks(buf: bytes | mmap.mmap, first: int, output: bool) -> Iterator[_Chunk]:
    """`first` lines, then REPORT_EVERY at a time; blank lines are included. A UTF-8 byte order mark is
    skipped."""
    pos, number, limit = (3 if buf[:3] == b"\xef\xbb\xbf" else 0), 1, first
    while pos < len(buf):
        if _linescan is not None:
            pos, starts, lengths, ids, statuses = _linescan.scan(buf, pos, limit, output)
            chunk = _Chunk(number, _int64s(starts), _int64s(lengths), ids, statuses)
        else:
            pos, chunk = _find_lines(buf, pos, limit, number)
        yield chunk
        number += len(chunk.starts)
        limit = REPORT_EVERY


def _fill(col: bytearray | array[int], value: int, n: int) -> None:
    """Append `value` n times, in one copy."""
    col.extend(bytes((value,)) * n if isinstance(col, bytearray) else array(col.typecode, (value,)) * n)


def _int64s(raw: bytes) -> array[int]:
    values = array("q")
    values.frombytes(raw)
    return values


def _find_lines(buf: bytes | mmap.mmap, pos: int, limit: int, number: int) -> tuple[int, _Chunk]:
    """Up to `limit` lines from `pos`, for the line reader; and where the next line starts."""
    starts, lengths, find, size = array("q"), array("q"), buf.find, len(buf)
    while len(starts) < limit and pos < size:
        end = find(b"\n", pos)
        end = size if end < 0 else end
        starts.append(pos)
        lengths.append(end - pos)
        pos = end + 1
    return min(pos, size), _Chunk(number, starts, lengths, None, None)


def _decoded(raw: bytes) -> list[str] | None:
    """Custom ids joined by newlines as text, decoded in one go (the quick scan's ids hold no newline); None if
    one is not UTF-8."""
    try:
        return raw.decode().split("\n")
    except UnicodeDecodeError:
        return None


def _vouched(m: re.Match[bytes] | None, buf: bytes | mmap.mmap, start: int, end: int) -> TypeGuard[re.Match[bytes]]:
    """Whether a quick match of a line's head can be trusted: the line also ends the object (not cut off)."""
    return m is not None and buf[max(start, end - 8) : end].rstrip().endswith(b"}")


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
    if _vouched(m, buf, start, end):
        ids = _decoded(m.group(1))
        return None if ids is None else ids[0]
    obj = _parse(buf, start, end)
    return None if obj is None else obj["custom_id"]


def _int(value: object, limit: int) -> int | None:
    return value if type(value) is int and 0 <= value < limit else None


def _total_tokens(buf: bytes | mmap.mmap, start: int, end: int) -> int:
    """usage.total_tokens of a 2xx line, looked for near its end first; -1 when it has none."""
    at = buf.rfind(b'"total_tokens"', max(start, end - _TOKENS_TAIL), end)
    at = buf.rfind(b'"total_tokens"', start, end) if at < 0 else at
    m = _TOKENS.match(buf, at, end) if at >= 0 else None
    return int(m.group(1)) if m else -1


def _read_result(buf: bytes | mmap.mmap, start: int, end: int) -> _Read | None:
    """What an output or error line says; None when it is unreadable.

    A 2xx line is read from its first bytes (custom_id, status) and usage near its end; other lines (errors,
    other key orders, escapes the scan cannot vouch for) are parsed in full.
    """
    m = _OUTPUT_HEAD.match(buf, start, end)
    if _vouched(m, buf, start, end):
        ids = _decoded(m.group(1))
        return None if ids is None else (ids[0], Outcome.OK, int(m.group(2)), None, _total_tokens(buf, start, end))
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

    This runs once per line of up to 300 MB of files, so a chunk of common lines (the layout OpenAI writes) is
    read with no Python code per line: the scanner finds and reads the lines, and decoding and joins are mapped
    over the whole chunk. A chunk holding any other line (blank, cut off, an error, other key order, a reused
    custom_id) is read line by line instead, parsing in full each line the quick scan cannot vouch for.
    """

    def __init__(self, index: ResultIndex, on_rows: Callable[[ResultIndex], None] | None,
                 cancelled: Callable[[], bool]) -> None:
        self.index = index
        self.cols = index._cols
        self.on_rows = on_rows
        self.cancelled = cancelled
        self.waiting: dict[str, int] = {}  # custom_id -> input row with no result yet
        self.duplicates: dict[str, list[int]] = {}  # later input rows reusing a custom_id, in order
        self.code_numbers: dict[str, int] = {}
        self.latest: dict[str, int] = {}  # custom_id -> its row, once retries' results are read

    def attempt_of(self, kind: int) -> int:
        """The attempt a result file slot holds: 1 for the batch's own output and errors, 2 its first retry...
        (or as the files number them)."""
        pair = (kind - 1) // 2
        labels = self.index.files.attempts
        return labels[pair] if pair < len(labels) else pair + 1

    def run(self) -> None:
        bufs = self.index._bufs
        for kind, buf in enumerate(bufs):
            if buf is None:
                continue
            read_chunk = self._input_chunk if kind == 0 else self._result_chunk
            if kind > 2 and not self.latest:  # an unreadable row's "" is no custom_id to retry
                outcomes = self.cols.outcome
                self.latest = {cid: row for row, cid in reversed(list(enumerate(self.index._ids)))
                               if outcomes[row] != Outcome.UNREADABLE}
            for chunk in _line_chunks(buf, FIRST_REPORT if len(self.index) == 0 else REPORT_EVERY, kind > 0):
                read_chunk(kind, buf, chunk)
                self.index._n = len(self.index._ids)
                if kind == 0:
                    self.index._n_input = self.index._n
                _release(buf, chunk.starts[-1] + chunk.lengths[-1])
                self._report()
                if self.cancelled():
                    raise BuildCancelled("Building the result index was cancelled.")
        self.index.complete = True
        self._report()

    def _report(self) -> None:
        if self.on_rows is not None:
            self.on_rows(self.index)

    def _input_chunk(self, _: int, buf: bytes | mmap.mmap, chunk: _Chunk) -> None:
        cols, ids, waiting = self.cols, self.index._ids, self.waiting
        new = _decoded(chunk.ids) if chunk.ids is not None else None
        if new is None or len(set(new)) < len(new) or not waiting.keys().isdisjoint(new):
            self._input_lines(buf, chunk)
            return
        waiting.update(zip(new, range(len(ids), len(ids) + len(new)), strict=True))
        cols.in_off.extend(chunk.starts)
        cols.in_len.extend(chunk.lengths)
        cols.in_line.extend(range(chunk.number, chunk.number + len(new)))
        _fill(cols.result, -1, len(new))
        _fill(cols.attempt, 0, len(new))
        _fill(cols.outcome, Outcome.PENDING, len(new))
        ids.extend(new)

    def _input_lines(self, buf: bytes | mmap.mmap, chunk: _Chunk) -> None:
        cols, ids = self.cols, self.index._ids
        for line, start, length in zip(count(chunk.number), chunk.starts, chunk.lengths):
            end = start + length
            if not buf[start:end].strip():
                continue
            cid = _read_input(buf, start, end)
            if cid is not None:
                if cid in self.waiting:
                    self.duplicates.setdefault(cid, []).append(len(ids))
                else:
                    self.waiting[cid] = len(ids)
            cols.in_off.append(start)
            cols.in_len.append(length)
            cols.in_line.append(line)
            cols.result.append(-1)
            cols.attempt.append(0)
            cols.outcome.append(Outcome.PENDING if cid is not None else Outcome.UNREADABLE)
            ids.append(cid or "")

    def _result_chunk(self, kind: int, buf: bytes | mmap.mmap, chunk: _Chunk) -> None:
        new = _decoded(chunk.ids) if chunk.ids is not None and chunk.statuses is not None else None
        if new is None or len(set(new)) < len(new) or not self.duplicates.keys().isdisjoint(new):
            self._result_lines(kind, buf, chunk)
            return
        cols, first = self.cols, len(self.cols.off)
        _fill(cols.kind, kind, len(new))
        cols.off.extend(chunk.starts)
        cols.len.extend(chunk.lengths)
        cols.line.extend(range(chunk.number, chunk.number + len(new)))
        assert chunk.statuses is not None  # a chunk the scanner read whole has them
        cols.status.frombytes(chunk.statuses)
        _fill(cols.code, -1, len(new))
        _fill(cols.tokens, _TOKENS_UNREAD, len(new))
        rows = list(map(self.waiting.pop, new, repeat(None)) if kind <= 2 else map(self.latest.get, new))
        if None in rows:
            for k, (cid, row) in enumerate(zip(new, rows, strict=True), first):
                self._place(cid, row, k, Outcome.OK, kind)
            return
        result, attempt, outcome = cols.result, cols.attempt, cols.outcome
        attempt_number, ok = self.attempt_of(kind), int(Outcome.OK)
        for k, row in enumerate(cast("list[int]", rows), first):  # no None among them, as checked above
            result[row] = k
            attempt[row] = attempt_number
            outcome[row] = ok

    def _result_lines(self, kind: int, buf: bytes | mmap.mmap, chunk: _Chunk) -> None:
        cols = self.cols
        for line, start, length in zip(count(chunk.number), chunk.starts, chunk.lengths):
            end = start + length
            if not buf[start:end].strip():
                continue
            read = _read_result(buf, start, end)
            cid, outcome, status, code, tokens = read or ("", Outcome.UNREADABLE, 0, None, -1)
            cols.kind.append(kind)
            cols.off.append(start)
            cols.len.append(length)
            cols.line.append(line)
            cols.status.append(status)
            cols.code.append(-1 if code is None else self._code_number(code))
            cols.tokens.append(tokens)
            self._place(cid, None if read is None else self._claim(cid, kind), len(cols.off) - 1, outcome, kind)

    def _place(self, cid: str, row: int | None, k: int, outcome: Outcome, kind: int) -> None:
        """Point the row awaiting this result at it (a retry's result replaces an earlier attempt's), or add a
        row for a result with no input line."""
        cols = self.cols
        if row is None:
            for col in (cols.in_off, cols.in_len, cols.in_line):
                col.append(0)
            cols.result.append(k)
            cols.attempt.append(self.attempt_of(kind))
            cols.outcome.append(outcome)
            if self.latest and cid:
                self.latest.setdefault(cid, len(self.index._ids))
            self.index._ids.append(cid)
        else:
            cols.result[row] = k
            cols.attempt[row] = self.attempt_of(kind)
            cols.outcome[row] = outcome

    def _claim(self, cid: str, kind: int) -> int | None:
        """The row this result belongs to: for the batch's own files, the input row waiting for the custom_id
        (rows sharing an id are served in order); for a retry's, the custom_id's row whatever it holds."""
        if kind > 2:
            return self.latest.get(cid)
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
    names = [str(Path(p).absolute()) if p else "" for p in files.paths()]
    return store_dir / (hashlib.sha256("\0".join(names).encode()).hexdigest()[:32] + ".idx")


def build_index(
    files: ResultFiles,
    *,
    store_dir: Path | None = None,
    on_rows: Callable[[ResultIndex], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    batch_ended: bool = False,
) -> ResultIndex:
    """Index the files (blocking: run it in a thread), or load the stored index when they are unchanged.
    `batch_ended` says the batch has ended (see ResultIndex.batch_ended).

    Rows follow the input file; result lines with no input row follow, output file first. `on_rows(index)`
    is called every REPORT_EVERY lines and at the end, so a viewer can show rows while they arrive. When
    `cancelled()` returns True, or the index is closed (from another thread), the build stops, closes the index and
    raises BuildCancelled. A missing or unreadable file raises ResultFileError.
    """
    index = ResultIndex(files)
    index.batch_ended = batch_ended
    try:
        stored = store_path(store_dir, files) if store_dir is not None else None
        if stored is not None and index._load(stored):
            if on_rows is not None:
                on_rows(index)
            return index
        with index._guard:
            index._building = True
        try:
            _Builder(index, on_rows, lambda: index._closing or cancelled()).run()
        finally:
            with index._guard:
                index._building = False
        if index._closing:  # closed while its last lines were read
            raise BuildCancelled("The result index was closed while it was built.")
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

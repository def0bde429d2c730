"""Exporting result rows to CSV (prompt and answer as text) or JSONL (request and response as JSON).

A file is written whole or not at all: rows go to a temp file beside the destination, which replaces
it only once every row is on disk, so a failure or a cancel leaves any earlier export as it was.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from batchtui.core.atomic import atomic_file
from batchtui.core.domain import Cancelled, ProgressCallback
from batchtui.core.errors import BatchtuiError, file_errors
from batchtui.core.results.index import Outcome, ResultIndex
from batchtui.core.results.records import answer_text, error_text, prompt_text

CSV_COLUMNS = ("custom_id", "status", "error", "prompt", "answer", "tokens")
DATA_RESULT_COLUMNS = ("status", "answer", "tokens")
"""What a CSV joined to the batch's data adds after the data's own columns."""
_PROGRESS_EVERY = 500


class ExportError(BatchtuiError):
    """The export file could not be written."""


class ExportCancelled(Cancelled):
    """The export was cancelled before the end; nothing was written."""


@dataclass(frozen=True)
class ExportRow:
    """One result row as the viewer holds it: the raw input and output lines, not parsed."""

    custom_id: str
    status: str
    error: str
    input_line: bytes | None
    output_line: bytes | None
    tokens: int | None


@dataclass(frozen=True)
class DataJoin:
    """The data file a batch file was made from (make-batch-file's manifest): its columns and each
    custom_id's values, so an export can give the researcher's table back with the answers beside it."""

    columns: list[str]
    values: Mapping[str, Mapping[str, Any]]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def formula_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run as a formula: text starting with =, +, -, @, a tab or a CR gets a
    leading ' (OWASP's rule for CSV injection), except a plain signed number such as -5 or +1.5e3."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def export_rows(index: ResultIndex, rows: Iterable[int]) -> Iterator[ExportRow]:
    """The rows of an index as exports take them (lines are read as the export goes); a row that did not succeed
    carries why, as `code: message`."""
    for row in rows:
        output = index.output_line(row)
        error = error_text(output) if index.outcome(row) != Outcome.OK else ""
        yield ExportRow(index.custom_id(row), index.status_label(row), error, index.input_line(row), output,
                        index.tokens(row))


def export_csv(
    rows: Iterable[ExportRow],
    dest: Path,
    *,
    total: int,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    data: DataJoin | None = None,
) -> int:
    """Write rows as CSV (UTF-8, a header, full prompt and answer text); returns the rows written.

    With `data`, each row is the data file's row for its custom_id (empty cells if it has none) followed by
    status, answer and tokens; a result column whose name the data already uses is prefixed "batch_"."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def encode(values: Iterable[Any]) -> bytes:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([formula_safe(value) for value in values])
        return buffer.getvalue().encode("utf-8", errors="replace")

    def line(row: ExportRow) -> bytes:
        tokens = "" if row.tokens is None else row.tokens
        return encode((row.custom_id, row.status, row.error, *_texts(row), tokens))

    def joined_line(row: ExportRow) -> bytes:
        assert data is not None
        values = data.values.get(row.custom_id, {})
        cells = [_cell(values.get(column)) for column in data.columns]
        return encode((*cells, row.status, answer_text(row.output_line), "" if row.tokens is None else row.tokens))

    if data is None:
        return _write(rows, dest, encode(CSV_COLUMNS), line, total, progress, cancelled)
    header = [*data.columns, *(f"batch_{c}" if c in data.columns else c for c in DATA_RESULT_COLUMNS)]
    return _write(rows, dest, encode(header), joined_line, total, progress, cancelled)


def export_jsonl(
    rows: Iterable[ExportRow],
    dest: Path,
    *,
    total: int,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> int:
    """Write one object per row: custom_id, status, and the request and response lines embedded as
    JSON (as a string when a line is not JSON, null when there is none); returns the rows written."""

    def line(row: ExportRow) -> bytes:
        record = {
            "custom_id": row.custom_id,
            "status": row.status,
            "request": _embedded(row.input_line),
            "response": _embedded(row.output_line),
        }
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)

    return _write(rows, dest, b"", line, total, progress, cancelled)


def wants_data(dest: Path) -> bool:
    """Whether an export to `dest` takes the data file's columns: a CSV does, a .jsonl does not."""
    return dest.suffix.lower() != ".jsonl"


def check_export_dest(dest: Path, own: Iterable[Path | None]) -> None:
    """Refuse a `dest` that is one of the batch's `own` files (its results, data, input or manifest), which an
    export would otherwise replace; checked before any work starts."""
    if any(dest.resolve() == path.resolve() for path in own if path is not None):
        raise BatchtuiError(f"{dest}: is a file of the batch itself (its data, input or manifest); "
                            "export to another file")


def export_results(
    index: ResultIndex,
    rows: Sequence[int],
    dest: Path,
    *,
    data: DataJoin | None = None,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> int:
    """Write `rows` of `index` to `dest`, as JSONL when it ends .jsonl, else as CSV (joined to `data` when given);
    returns the rows written."""
    if not wants_data(dest):
        return export_jsonl(export_rows(index, rows), dest, total=len(rows), progress=progress, cancelled=cancelled)
    return export_csv(export_rows(index, rows), dest, total=len(rows), progress=progress, cancelled=cancelled,
                      data=data)


def export_table_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]], dest: Path) -> int:
    """Write a query's columns and rows as CSV (NULL as an empty cell, bytes as hex), whole or not at all;
    returns the rows written."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    written = 0
    with file_errors(ExportError, "write", dest), atomic_file(dest) as out:
        writer.writerow([formula_safe(name) for name in columns])
        for row in rows:
            writer.writerow([formula_safe("" if v is None else v.hex() if isinstance(v, bytes) else v) for v in row])
            written += 1
            if buffer.tell() > 1 << 20:
                out.write(buffer.getvalue().encode("utf-8", errors="replace"))
                buffer.seek(0)
                buffer.truncate()
        out.write(buffer.getvalue().encode("utf-8", errors="replace"))
    return written


def _cell(value: Any) -> str:
    """A data value as a CSV cell: text as it is, other JSON values (numbers, lists) as JSON, none as empty."""
    if value is None:
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _texts(row: ExportRow) -> tuple[str, str]:
    return prompt_text(row.input_line), answer_text(row.output_line)


def _embedded(line: bytes | None) -> Any:
    """A valid JSON line as is (line breaks, only ever whitespace there, made spaces), else its text."""
    if line is None:
        return None
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return line.decode("utf-8", errors="replace")
    return orjson.Fragment(line.strip().replace(b"\r", b" ").replace(b"\n", b" "))


def _write(
    rows: Iterable[ExportRow],
    dest: Path,
    header: bytes,
    line: Callable[[ExportRow], bytes],
    total: int,
    progress: ProgressCallback | None,
    cancelled: Callable[[], bool],
) -> int:
    written = 0
    with file_errors(ExportError, "write", dest), atomic_file(dest) as out:
        out.write(header)
        for row in rows:
            if cancelled():
                raise ExportCancelled(f"Export to {dest} cancelled; nothing was written.")
            out.write(line(row))
            written += 1
            if progress and written % _PROGRESS_EVERY == 0:
                progress(written, total)
    if progress:
        progress(written, total)
    return written


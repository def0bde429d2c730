"""Reading the rows of a data file (CSV, JSONL or XLSX) one at a time, numbered as the user sees them.

Rows stream from the file, so a large file never sits in memory whole, nor does a row longer than a batch
file may be (MAX_BYTES). A row the reader could not make sense of (a JSONL line that is not an object, a CSV
row with more fields than the header) still comes back, with `error` saying why, so the caller decides whether
it stops the run or is skipped. A CSV whose quoting is broken is an error naming the line where the quote opened:
a reader that went on would take the rest of the file for one field.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from batchtui.core.errors import BatchtuiError, file_errors

CSV_SUFFIXES = (".csv",)
JSONL_SUFFIXES = (".jsonl", ".ndjson")
XLSX_SUFFIXES = (".xlsx",)
XLSX_HINT = "pip install 'batchtui[xlsx]'"
_ESCAPED = re.compile("[\udc80-\udcff]")
_FIELD_END = re.compile("[,\r\n]")
_CHUNK = 1 << 20
MAX_BYTES = 200 * 1024 * 1024
"""OpenAI's limit on a batch input file, so also on any one request line, and on any data row to make one from."""


class DataFileError(BatchtuiError):
    """The data file cannot be read at all; the message names the file and, when known, the line."""


class RowError(BatchtuiError):
    """One row cannot become a request; the message is the reason alone, without the file or row."""


@dataclass(frozen=True, slots=True)
class DataRow:
    """One data row: `number` as the user sees it (CSV: 1 = the first row after the header; JSONL: the
    line; XLSX: the sheet row) and its values by column."""

    number: int
    values: dict[str, Any]
    line: int | None = None
    """CSV only: the physical line where the row starts (quoted fields may span lines)."""
    error: str | None = None
    """Why the reader could not use this row, if it could not."""


def read_columns(path: Path) -> list[str]:
    """The data's column names: the CSV or XLSX header, or every key the JSONL objects use, in order."""
    if _kind(path) in JSONL_SUFFIXES:
        keys: dict[str, None] = {}
        for row in _jsonl_rows(path):
            keys.update(dict.fromkeys(row.values))
        return list(keys)
    with _table(path) as table:
        return [name for name in _header(path, table) if name]


def read_rows(path: Path) -> Iterator[DataRow]:
    """Each data row in file order; blank lines and empty sheet rows are not rows."""
    if _kind(path) in JSONL_SUFFIXES:
        yield from _jsonl_rows(path)
        return
    with _table(path) as table:
        header = _header(path, table)
        width = len(header)
        for number, line, cells in table:
            values = {name: cell for name, cell in zip(header, cells, strict=False) if name}
            error = None
            if len(cells) > width and any(cell != "" for cell in cells[width:]):
                error = f"{len(cells)} fields, but the header has {width}"
            yield DataRow(number, values, line, error)


def default_id_column(columns: Iterable[str]) -> str | None:
    """The column custom_ids come from when none is named: `id`, else `ID`, else none (row numbers)."""
    names = set(columns)
    return next((name for name in ("id", "ID") if name in names), None)


def id_text(row: DataRow, id_column: str | None) -> str:
    """The row's id as written in the data (the row number when there is no id column); may be empty."""
    if id_column is None:
        return str(row.number)
    value = row.values.get(id_column)
    return "" if value is None else as_text(value)


def custom_id_for(row: DataRow, id_column: str | None) -> str:
    """The row's custom_id, `id_<value>`; raises RowError when the id is missing or blank."""
    text = id_text(row, id_column)
    if not text.strip():
        raise RowError(f"empty id in column {id_column!r}")
    return f"id_{text}"


def as_text(value: Any) -> str:
    """A value as text: a string as is, anything else as its compact JSON."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES + JSONL_SUFFIXES + XLSX_SUFFIXES:
        raise DataFileError(f"{path.name}: unknown data file type {path.suffix!r}; use .csv, .jsonl, .ndjson or .xlsx.")
    return suffix


Table = Generator[tuple[int, int | None, list[Any]], None, None]
"""Non-blank rows of a CSV or XLSX file as (row number, CSV start line, cells), the header first."""


@contextmanager
def _table(path: Path) -> Iterator[Table]:
    rows = _csv_table(path) if path.suffix.lower() in CSV_SUFFIXES else _xlsx_table(path)
    try:
        with file_errors(DataFileError, "read", path):
            yield rows
    finally:
        rows.close()


def _header(path: Path, table: Table) -> list[str]:
    """The header's names, stripped ("" for an unnamed column); a name used twice is an error."""
    first = next(table, None)
    if first is None:
        raise DataFileError(f"{path.name}: the file is empty; the first row must name the columns.")
    names = [as_text(cell).strip() for cell in first[2]]
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            raise DataFileError(f"{path.name} header: column {name!r} appears twice.")
        seen.add(name)
    return names


def _csv_table(path: Path) -> Table:
    """Rows as a strict CSV reader sees them: a quoted field must end with its quote, then a comma or the line's
    end. A row may not run past MAX_BYTES, so a quote that never closes in a large file is caught early too."""
    csv.field_size_limit(MAX_BYTES)
    start, number, fed = 1, 0, 0

    def lines(fh: Iterator[str]) -> Iterator[str]:
        nonlocal fed
        for line in fh:
            fed += len(line)
            if fed > MAX_BYTES:
                raise DataFileError(_too_long(path, start, reader.line_num + 1))
            yield line

    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(lines(iter(lambda: fh.readline(MAX_BYTES + 1), "")), strict=True)
        try:
            for cells in reader:
                line, start, fed = start, reader.line_num + 1, 0
                if cells:
                    yield number, line, cells
                    number += 1
        except UnicodeDecodeError:
            line = _first_non_utf8_line(path)
            raise DataFileError(f"{path.name} line {line}: not UTF-8 text; save it as UTF-8.") from None
        except csv.Error as exc:
            opened, closed = _quoted_field(path, start, reader.line_num)
            if opened is None:
                raise DataFileError(f"{path.name} line {reader.line_num}: cannot read the CSV ({exc}).") from None
            if closed is None:
                raise DataFileError(f"{path.name} line {opened}: a quote opens a field here and never closes (the "
                                    "file ends inside it).") from None
            on = "" if closed == opened else f" on line {closed}"
            raise DataFileError(f"{path.name} line {opened}: a quoted field starts here, and its closing quote{on} is "
                                'followed by text; a quote inside a quoted field is written twice ("").') from None


def _too_long(path: Path, start: int, end: int) -> str:
    """Why the row that starts on line `start` ran past MAX_BYTES by line `end`: most likely, an open quote."""
    opened, _ = _quoted_field(path, start, end)
    if opened is not None:
        return (f"{path.name} line {opened}: a quoted field starts here and runs on past {MAX_BYTES:,} bytes, "
                "more than a batch file may hold; does its quote close?")
    return f"{path.name} line {start}: the row starting here is longer than {MAX_BYTES:,} bytes, more than a batch " \
        "file may hold."


def _quoted_field(path: Path, start: int, end: int) -> tuple[int | None, int | None]:
    """Where the quoted field that upset the CSV reader opened, and where a quote followed by text closed it (None
    while it is still open at the end of line `end`); (None, None) if no quoted field is to blame. The row being
    read starts on line `start`; lines are counted as the reader counts them: ended by LF, CR or CRLF."""
    opened = None
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        for number, line in enumerate(iter(lambda: fh.readline(MAX_BYTES + 1), ""), start=1):
            if number > end:
                break
            at = 0
            while number >= start and at < len(line):
                if opened is None:  # at the start of a field
                    if line[at] == '"':
                        opened, at = number, at + 1
                    elif (end_of_field := _FIELD_END.search(line, at)) and end_of_field.group() == ",":
                        at = end_of_field.end()
                    else:
                        break
                elif (quote := line.find('"', at)) < 0:
                    break
                elif line.startswith('"', quote + 1):
                    at = quote + 2
                elif quote + 1 < len(line) and line[quote + 1] not in ",\r\n":
                    return opened, number
                else:
                    opened, at = None, quote + 2
                    if line[quote + 1 : quote + 2] != ",":
                        break
    return opened, None


def _first_non_utf8_line(path: Path) -> int:
    """The line of the first byte that is not UTF-8 (text is decoded in blocks, so the reader cannot tell),
    counted as the CSV reader counts lines: ended by LF, CR or CRLF. Such a byte is decoded as a lone surrogate."""
    with open(path, encoding="utf-8", errors="surrogateescape") as fh:
        for number, line in enumerate(fh, start=1):
            if _ESCAPED.search(line):
                return number
    return 0


def _xlsx_table(path: Path) -> Table:
    try:
        import openpyxl
    except ImportError:
        raise DataFileError(f"Reading {path.name} needs openpyxl: {XLSX_HINT}") from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except OSError:
        raise
    except Exception as exc:
        raise DataFileError(f"{path.name}: not a readable Excel workbook ({exc}).") from None
    number = 0
    try:
        for number, cells in enumerate(book.worksheets[0].iter_rows(min_row=1, values_only=True), start=1):
            if any(cell is not None for cell in cells):
                yield number, None, [_cell(cell) for cell in cells]
    except Exception as exc:  # the sheet is parsed as it is read: a damaged one fails here, not on opening
        raise DataFileError(f"{path.name} row {number + 1}: not a readable Excel sheet ({exc}).") from None
    finally:
        book.close()


def _cell(value: Any) -> Any:
    """A sheet cell as JSON data: empty as "", dates and times as ISO 8601 text, durations as "1 day, 2:30:00",
    integers too long for JSON's 64 bits as the float Excel holds, other values as they are."""
    if value is None:
        return ""
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, int) and value.bit_length() > 63:
        return float(value)
    return value


def _jsonl_rows(path: Path) -> Iterator[DataRow]:
    with file_errors(DataFileError, "read", path), open(path, "rb") as fh:
        for number, line in enumerate(bounded_lines(fh, MAX_BYTES), start=1):
            if isinstance(line, int):
                yield DataRow(number, {}, error=f"the line is {line:,} bytes, more than a whole batch file may hold")
                continue
            if not line.strip():
                continue
            try:
                values = orjson.loads(line.removeprefix(codecs.BOM_UTF8) if number == 1 else line)
            except orjson.JSONDecodeError as exc:
                yield DataRow(number, {}, error=f"not valid JSON ({exc.msg})")
                continue
            if isinstance(values, dict):
                yield DataRow(number, values)
            else:
                yield DataRow(number, {}, error=f"not a JSON object but {_json_kind(values)}")


def _json_kind(value: Any) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")


def bounded_lines(fh: BinaryIO, limit: int, *, stop_after: int | None = None) -> Iterator[bytes | int]:
    """Each line of `fh`, or for a line over `limit` bytes its length alone: such a line is read in chunks and
    dropped, never held whole. With `stop_after`, reading ends once more than that many bytes were read, the last
    line then cut short: a stream such as /dev/zero or a pipe has no size to check first, and may have no end."""
    left = 1 << 62 if stop_after is None else stop_after + 1
    while left > 0 and (piece := fh.readline(min(_CHUNK, left))):
        left -= len(piece)
        if piece.endswith(b"\n") and len(piece) <= limit:  # a whole line in one read: most lines
            yield piece
            continue
        size, pieces = len(piece), [piece]
        while not piece.endswith(b"\n") and left > 0 and (piece := fh.readline(min(_CHUNK, left))):
            left -= len(piece)
            size += len(piece)
            if size <= limit:
                pieces.append(piece)
            else:
                pieces.clear()
        if size > limit:
            yield size
        else:
            yield pieces[0] if len(pieces) == 1 else b"".join(pieces)

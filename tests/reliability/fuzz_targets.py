"""Hostile and broken input for every reader of user files: the properties `make test` and the fuzz run share.

A target is a hypothesis strategy and a check. A check raises AssertionError when the code under test raised
anything but its documented error, gave an error that does not name the file and the place, left a file half
written, or gave output that is not well formed. `MAKE_TEST` is how many cases each runs in the test suite.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import openpyxl
import orjson
from hypothesis import strategies as st

from batchtui.core.authoring.batch_file import BadRowError, load_manifest, make_batch_file
from batchtui.core.authoring.datasets import DataFileError, RowError, as_text, custom_id_for, read_columns, read_rows
from batchtui.core.authoring.split import SplitError, split_file
from batchtui.core.authoring.templates import TemplateError, parse_template
from batchtui.core.authoring.validate import embedding_inputs, validate_file
from batchtui.core.config import resolve_profile
from batchtui.core.domain import BATCH_ENDPOINTS
from batchtui.core.errors import BatchtuiError, ConfigError
from batchtui.core.results import index as results
from batchtui.core.results.index import Outcome, ResultFiles, ResultIndex, build_index


@dataclass(frozen=True)
class Target:
    name: str
    strategy: st.SearchStrategy[Any]
    check: Callable[[Any], None]


@contextmanager
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def listing(path: Path) -> dict[str, bytes]:
    """Every file in the folder with its bytes, to tell that nothing was written or left behind."""
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}


# --- Lines of JSONL files: requests, results, and everything that is not quite either ------------------------

IDS = st.sampled_from(["a", "b", "c", "", "a\\\"b", "é", "a\nb"])
SCALARS = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
           | st.text(max_size=6) | st.sampled_from(["POST", "user", "text", "gpt-4o-mini", *BATCH_ENDPOINTS]))
KEYS = st.sampled_from(["custom_id", "method", "url", "body", "model", "messages", "role", "content", "type",
                        "text", "input", "stream", "max_tokens", "n", "response", "error", "status_code", "usage",
                        "total_tokens", "code"]) | st.text(max_size=4)
JSON = st.recursive(SCALARS, lambda x: st.lists(x, max_size=3) | st.dictionaries(KEYS, x, max_size=4), max_leaves=8)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the good value, sometimes any JSON at all."""
    return st.one_of(strategy, strategy, JSON)


PART = st.fixed_dictionaries({}, optional={
    "type": maybe(st.sampled_from(["text", "image_url", "input_audio", "refusal", "video"])),
    "text": maybe(st.text(max_size=10)), "image_url": maybe(st.fixed_dictionaries({"url": maybe(st.just("x"))}))})
MESSAGE = st.fixed_dictionaries({}, optional={
    "role": maybe(st.sampled_from(["system", "user", "assistant", "tool", "robot"])),
    "content": st.text(max_size=20) | st.lists(PART, max_size=3) | JSON, "tool_call_id": maybe(st.just("t"))})
BODY = st.fixed_dictionaries({}, optional={
    "model": maybe(st.sampled_from(["gpt-4o-mini", "text-embedding-3-small", "no-such-model"])),
    "messages": maybe(st.lists(MESSAGE, max_size=3)),
    "input": maybe(st.text(max_size=8) | st.lists(st.text(), max_size=4)),
    "stream": JSON, "max_tokens": maybe(st.integers(0, 10**6)), "n": JSON})
REQUEST = st.fixed_dictionaries({}, optional={
    "custom_id": maybe(IDS), "method": maybe(st.just("POST")), "url": maybe(st.sampled_from(BATCH_ENDPOINTS)),
    "body": maybe(BODY)})
RESPONSE = st.one_of(
    st.builds(lambda s, t: {"status_code": s, "request_id": "r", "body": {"usage": {"total_tokens": t}}},
              st.sampled_from([200, 201, 299, 300, 400, 500, 2000]) | JSON, st.integers(0, 99) | JSON),
    st.builds(lambda code: {"status_code": 400, "body": {"error": {"code": code}}}, st.text(max_size=5) | JSON))
RESULT = st.builds(lambda cid, response, error: {"id": "batch_req_1", "custom_id": cid, "response": response,
                                                 "error": error},
                   maybe(IDS), maybe(RESPONSE) | st.none(),
                   st.none() | st.sampled_from([{"code": "batch_expired"}, {"code": "batch_cancelled"}]) | JSON)


def dumped(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """JSON bytes as orjson writes them (the layout the quick scan knows) or as json.dumps does (spaces)."""
    return st.builds(lambda value, spaced: json.dumps(value).encode() if spaced else orjson.dumps(value),
                     strategy, st.booleans())


@st.composite
def broken(draw: st.DrawFn, line: bytes) -> bytes:
    """A good line cut short, with bytes flipped, or with bytes that are not UTF-8 put in."""
    at = draw(st.integers(0, len(line)))
    how = draw(st.sampled_from(["cut", "flip", "utf8", "bom", "cr"]))
    if how == "cut":
        return line[:at]
    if how == "flip":
        return (line[:at] + bytes([draw(st.integers(0, 255))]) + line[at + 1 :]).replace(b"\n", b" ")
    if how == "utf8":
        return line[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"])) + line[at:]
    return b"\xef\xbb\xbf" + line if how == "bom" else line + b"\r"


GOOD_LINE = dumped(REQUEST) | dumped(RESULT)
LINE = st.one_of(
    GOOD_LINE, GOOD_LINE, GOOD_LINE.flatmap(broken),
    dumped(JSON),
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),
    st.sampled_from([b"", b" ", b"\t\r", b"\x0b", b"{", b"}", b"[]", b"null", b'{"custom_id":"a"}', b"\xef\xbb\xbf",
                     b'{"custom_id": "a", "custom_id": 5}', b'{"custom_id":"a",}']),
    st.builds(lambda n, cid: b'{"custom_id":"' + cid + b'","body":{"t":"' + b"x" * n + b'"}}',
              st.sampled_from([1 << 12, 1 << 17]), st.sampled_from([b"a", b"big"])),
)
EOL = st.sampled_from([b"\n", b"\r\n"])


@st.composite
def jsonl_files(draw: st.DrawFn, count: int, max_lines: int = 12) -> list[bytes]:
    """`count` files of hostile lines, LF or CRLF, with or without a last newline."""
    files = []
    for _ in range(count):
        lines = draw(st.lists(LINE, max_size=max_lines))
        eol = draw(EOL)
        files.append(eol.join(lines) + (eol if lines and draw(st.booleans()) else b""))
    return files


def split_lines(data: bytes) -> list[bytes]:
    """A file's lines as the index numbers them: split at LF, a first BOM skipped."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    lines = data.split(b"\n")
    return lines[:-1] if lines[-1] == b"" else lines


# --- The result index ----------------------------------------------------------------------------------------


def snapshot(index: ResultIndex) -> list[tuple[Any, ...]]:
    """Everything the index says about every row, to compare two indexes."""
    return [
        (index.custom_id(r), index.outcome(r), index.status_code(r), index.error_code(r), index.status_label(r),
         index.tokens(r), index.attempt(r), index.input_line(r), index.output_line(r), index.unreadable_where(r),
         *(index.line_number(r, kind) for kind in ("input", "output", "error")))
        for r in range(len(index))
    ]


def _lone_id(line: bytes) -> tuple[bool, str | None] | None:
    """What any reader must make of a line: (True, id) when it is a JSON object with a string custom_id, (False,
    None) when it is plainly not one; None when it is for the quick scan to judge (a key given twice)."""
    if line.count(b"custom_id") > 1:
        return None
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return (False, None) if b"custom_id" not in line else None
    if isinstance(value, dict) and isinstance(value.get("custom_id"), str):
        return True, value["custom_id"]
    return False, None


def check_index(case: tuple[list[bytes], int, list[int]]) -> None:
    """Any files: no exception; every line is on one row, or a later attempt replaced it; each row's lines read
    back as they are in the files; unreadable lines are UNREADABLE rows at their line; the quick chunk scan, the
    line-by-line reading and the stored index all agree, and a damaged stored index is never trusted."""
    contents, retries, damage = case
    with folder() as where:
        paths = []
        for n, data in enumerate(contents):
            paths.append(where / f"{n}.jsonl")
            paths[-1].write_bytes(data)
        files = ResultFiles(paths[0], paths[1], paths[2],
                            tuple(ResultFiles(None, paths[3 + 2 * k], paths[4 + 2 * k]) for k in range(retries)))
        index = build_index(files, store_dir=where / "store")
        rows = snapshot(index)
        _check_rows(index, files, contents)
        index.close()
        with mock.patch.object(results, "_linescan", None):
            assert _snapshot_of(files) == rows, "the line-by-line reading differs from the quick scan"
        with mock.patch.object(results, "FIRST_REPORT", 2), mock.patch.object(results, "REPORT_EVERY", 3):
            assert _snapshot_of(files) == rows, "chunks of 3 lines differ from one chunk"
        stored = results.store_path(where / "store", files)
        assert stored.exists() and _snapshot_of(files, where / "store", loaded=True) == rows
        data = bytearray(stored.read_bytes())
        for at in damage:
            data[at % len(data)] ^= 0xFF
        stored.write_bytes(bytes(data))
        assert _snapshot_of(files, where / "store") == rows, "a damaged stored index was trusted"


def _snapshot_of(files: ResultFiles, store: Path | None = None, loaded: bool = False) -> list[tuple[Any, ...]]:
    index = build_index(files, store_dir=store)
    try:
        assert index.loaded_from_store or not loaded
        return snapshot(index)
    finally:
        index.close()


def _check_rows(index: ResultIndex, files: ResultFiles, contents: list[bytes]) -> None:
    lines = [split_lines(data) for data in contents]
    slots = {"input": 0, "output": 1, "error": 2}
    on_row: dict[tuple[int, int], int] = {}
    for row in range(len(index)):
        attempt = index.attempt(row)
        for kind, slot in slots.items():
            number = index.line_number(row, kind)
            if number is None:
                continue
            if kind != "input":
                slot += 2 * (attempt - 1)
            assert (slot, number) not in on_row, f"{kind} line {number} is on two rows"
            on_row[slot, number] = row
            line = lines[slot][number - 1]
            read = index.input_line(row) if kind == "input" else index.output_line(row)
            assert read == line, f"row {row} reads {read!r}, not {kind} line {number}"
            judged = _lone_id(line)
            if judged is not None:
                readable, cid = judged
                assert (index.outcome(row) != Outcome.UNREADABLE) == readable, f"{kind} line {number}: {line!r}"
                assert not readable or index.custom_id(row) == cid
        where = index.unreadable_where(row)
        assert (where is None) == (index.outcome(row) != Outcome.UNREADABLE)
        if where is not None:
            assert index.line_number(row, where[0]) == where[1]
    latest: dict[str, int] = {}  # custom_id -> the latest attempt any of its rows holds
    for r in range(len(index)):
        if index.outcome(r) != Outcome.UNREADABLE:
            latest[index.custom_id(r)] = max(latest.get(index.custom_id(r), 0), index.attempt(r))
    for slot, file_lines in enumerate(lines):
        attempt = 0 if slot == 0 else (slot - 1) // 2 + 1
        for number, line in enumerate(file_lines, 1):
            judged = _lone_id(line)
            if not line.strip() or (slot, number) in on_row or judged is None:
                continue
            replaced = slot > 0 and judged[0] and latest.get(judged[1], 0) >= max(attempt, 2)
            assert replaced, f"line {number} of file {slot} ({line!r}) is on no row and no retry replaced it"
    assert len(index.rows("succeeded")) + len(index.rows("failed")) + len(index.rows("stopped")) + sum(
        index.outcome(r) == Outcome.PENDING for r in range(len(index))) == len(index)
    assert index.complete


INDEX_CASES = st.integers(0, 2).flatmap(lambda retries: st.tuples(
    jsonl_files(3 + 2 * retries), st.just(retries), st.lists(st.integers(0, 1 << 20), min_size=1, max_size=3)))


# --- validate ------------------------------------------------------------------------------------------------

FILE_PROBLEMS = {"file_too_large", "empty_file"}


def check_validate(case: tuple[bytes, int, int, int]) -> None:
    """Any bytes: a report, never an exception; every problem has a line in the file (or is about the whole
    file), they come in line order, and reading from memory finds the same."""
    data, max_lines, max_bytes, max_inputs = case
    with folder() as where:
        path = where / "in.jsonl"
        path.write_bytes(data)
        limits = {"max_lines": max_lines, "max_embedding_inputs": max_inputs, "max_problems": 50}
        report = validate_file(path, max_bytes=max_bytes, **limits)
    raw = io.BytesIO(data).readlines()
    assert report.lines == len(raw) and report.requests == sum(not line.isspace() for line in raw)
    assert report.ok == (report.problems_total == 0) and len(report.problems) == min(report.problems_total, 50)
    numbers = [p.line for p in report.problems if p.line is not None]
    assert numbers == sorted(numbers) and all(1 <= n <= report.lines for n in numbers)
    for problem in report.problems:
        assert problem.line is not None or problem.code in FILE_PROBLEMS
        where = "in.jsonl" if problem.line is None else f"in.jsonl line {problem.line}:"
        assert problem.describe(path).startswith(where)
    orjson.dumps(report.to_dict())


VALIDATE_CASES = st.tuples(jsonl_files(1, 15).map(lambda files: files[0]), st.integers(1, 20),
                           st.integers(1, 2000), st.integers(1, 20))


# --- templates -----------------------------------------------------------------------------------------------

NAMES = ["x", "y", "model", "id"]
TEMPLATE_PIECES = st.sampled_from([
    "{", "}", "[", "]", ",", ":", '"', '"k"', '"k": ', " ", "\n", "-", "1", "0.", "e5", "true", "null", "\\", '\\"',
    "{{x}}", "{{ y }}", "{{", "}}", "{{}}", "{{x\n}}", "{{{x}}}", '"{{x}}"', "{{x}}{{y}}", "é", "\ud800", "\x00",
    "\\u0000batchtui:text:3\\u0000", '"\\u0000batchtui:bare:0\\u0000"', "\\u0000batchtui:text:0\\u0000",
])
PLACED = st.sampled_from(["{{x}}", "{{ y }}", "{{model}}", "{{id}}"])
NEIGHBOUR = st.sampled_from(["", "", "", "", "-", "1", "0.", "e5", ".5", "true", '""', " "])
TEXT_WITH_SLOTS = st.lists(st.text(st.characters(exclude_characters='"\\{}'), max_size=4) | PLACED, max_size=4)


@st.composite
def good_templates(draw: st.DrawFn) -> str:
    """A body or a request line whose values are literals, text with placeholders, or bare placeholders."""
    def value(depth: int) -> str:
        kind = draw(st.integers(0, 4 if depth < 2 else 2))
        if kind == 0:
            return json.dumps(draw(SCALARS))
        if kind == 1:
            return '"' + "".join(draw(TEXT_WITH_SLOTS)) + '"'
        if kind == 2:  # sometimes with a neighbour that a stand-in could join into one JSON token
            return draw(NEIGHBOUR) + draw(PLACED) + draw(NEIGHBOUR)
        if kind == 3:
            return "[" + ", ".join(value(depth + 1) for _ in range(draw(st.integers(0, 3)))) + "]"
        return obj(depth + 1)

    def obj(depth: int) -> str:
        keys = draw(st.lists(st.sampled_from(["model", "messages", "input", "prompt", "max_tokens", "k", "model"]),
                             max_size=4, unique=True))
        return "{" + ", ".join(f'"{k}": {value(depth)}' for k in keys) + "}"

    body = obj(0)
    if draw(st.booleans()):
        return body
    return ('{"custom_id": "{{id}}", "method": "POST", "url": ' + json.dumps(draw(st.sampled_from(BATCH_ENDPOINTS)))
            + ', "body": ' + body + "}")


@st.composite
def hostile_templates(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return "".join(draw(st.lists(TEMPLATE_PIECES, max_size=20)))
    text = draw(good_templates())
    if kind == 1:
        return text
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(TEMPLATE_PIECES) + text[at:]


VALUE = st.one_of(
    st.text(max_size=10), st.sampled_from(["0", " -1.5e3 ", "true", "null", "1e999", "nan", "", " ", "5\u00a0",
                                           "[1]", '"x"', "{{x}}", "\ud800"]),
    JSON, st.integers(-(2**70), 2**70), st.floats(), st.just(dt.timedelta(hours=1)),
)
VALUES = st.fixed_dictionaries({}, optional=dict.fromkeys(NAMES, VALUE))


def check_template(case: tuple[str, dict[str, Any], str | None]) -> None:
    """Any template and values: TemplateError naming the template and a line in it, or a template that renders
    each row to a compact JSON object, or says which placeholder's value it cannot take (RowError)."""
    text, values, model = case
    try:
        template = parse_template(text, "t.json")
    except TemplateError as exc:
        message = str(exc)
        assert message.startswith("t.json"), message
        if m := re.match(r"t\.json line (\d+), column (\d+): ", message):
            assert 1 <= int(m[1]) <= text.count("\n") + 1, message
        return
    for renderer in (template, template.body(model)):
        try:
            line = renderer.render(values)
        except RowError as exc:
            assert any(str(slot) in str(exc) for slot in template.slots), str(exc)
            continue
        parsed = orjson.loads(line)
        assert isinstance(parsed, dict)
        if renderer is not template and model is not None:
            assert parsed["model"] == model
    try:
        template.check_columns(list(values), "data.csv")
    except TemplateError as exc:
        assert re.match(r"t\.json line \d+, column \d+: unknown placeholder \{\{.+\}\}; data\.csv has", str(exc))
    assert template.model is None or isinstance(template.model, str)


TEMPLATE_CASES = st.tuples(hostile_templates(), VALUES, st.none() | st.sampled_from(["gpt-4.1", "m\n\"\\"]))


# --- data files: CSV, JSONL, XLSX ----------------------------------------------------------------------------

CELL = st.text(st.characters(codec="utf-8"), max_size=8) | st.sampled_from(["", "id", "x", '"', "a,b", "\r\n", "\x00"])


@st.composite
def csv_bytes(draw: st.DrawFn) -> bytes:
    """A CSV as a writer makes it, then perhaps broken; or any bytes at all."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.binary(max_size=80))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])),
                        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])))
    writer.writerows(draw(st.lists(st.lists(CELL, max_size=4), max_size=6)))
    data = draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + out.getvalue().encode("utf-8", "surrogatepass")
    return draw(broken(data)) if draw(st.booleans()) else data


def xlsx(rows: list[list[Any]], mutation: tuple[str, int, bytes]) -> bytes:
    """A workbook of these rows, then kept, with bytes overwritten, a sheet value replaced, or its XML cut."""
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    how, at, junk = mutation
    data = out.getvalue()
    if how == "keep":
        return data
    if how == "flip":
        return data[:at % len(data)] + junk + data[at % len(data) + len(junk):]
    sheet = "xl/worksheets/sheet1.xml"
    redone = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(redone, "w") as new:
        for name in old.namelist():
            xml = old.read(name)
            if name == sheet:
                values = [m.span(1) for m in re.finditer(rb"<v>([^<]*)</v>", xml)]
                if how == "value" and values:
                    start, end = values[at % len(values)]
                    xml = xml[:start] + junk + xml[end:]
                elif how == "xml":
                    xml = xml[: at % (len(xml) + 1)] + junk
            new.writestr(name, xml)
    return redone.getvalue()


XLSX_CELL = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=6),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(2100, 1, 1)),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2100, 1, 1)), st.times(),
    st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=9)),
)
XLSX_BYTES = st.builds(
    xlsx, st.lists(st.lists(XLSX_CELL, max_size=4), max_size=5),
    st.tuples(st.sampled_from(["keep", "keep", "flip", "value", "xml"]), st.integers(0, 1 << 16),
              st.sampled_from([b"nan", b"inf", b"1e999", b"1" * 30, b"abc", b"", b"-", b"<", b"\xff", b"</row>x"])))
DATA_FILES = st.one_of(
    st.tuples(st.just(".csv"), csv_bytes()),
    st.tuples(st.sampled_from([".jsonl", ".ndjson"]), jsonl_files(1, 8).map(lambda files: files[0])),
    st.tuples(st.just(".jsonl"), st.lists(dumped(st.dictionaries(st.sampled_from(NAMES), VALUE.filter(
        lambda v: not isinstance(v, dt.timedelta) and not (isinstance(v, int) and abs(v) >= 2**63)
        and not (isinstance(v, str) and "\ud800" in v)), max_size=4)), max_size=6).map(b"\n".join)),
    st.tuples(st.just(".xlsx"), XLSX_BYTES),
)


DATASET_CASES = st.tuples(st.just(".csv"), csv_bytes()) | DATA_FILES


def _data_error(exc: DataFileError, name: str) -> None:
    message = str(exc)
    assert name in message, message
    if m := re.match(rf"{re.escape(name)} (line|row) (\d+)", message):
        assert int(m[2]) >= 1, message


def _utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def check_dataset(case: tuple[str, bytes]) -> None:
    """Any CSV, JSONL or XLSX bytes: DataFileError naming the file (and the line, when it is about one), or rows
    numbered in order whose values can all be written as JSON, each bad row saying why."""
    suffix, data = case
    with folder() as where:
        path = where / f"d{suffix}"
        path.write_bytes(data)
        try:
            columns = read_columns(path)
            rows = list(read_rows(path))
        except DataFileError as exc:
            _data_error(exc, path.name)
            if m := re.search(r" line (\d+): not UTF-8", str(exc)):  # lines end at LF, CR or CRLF, as for csv
                lines = data.splitlines()
                assert all(_utf8(line) for line in lines[: int(m[1]) - 1]) and not _utf8(lines[int(m[1]) - 1])
            return
    assert all(isinstance(c, str) for c in columns)
    numbers = [row.number for row in rows]
    assert numbers == sorted(set(numbers)) and all(n >= 1 for n in numbers)
    if suffix == ".csv":
        assert numbers == list(range(1, len(rows) + 1))
        starts = [row.line for row in rows]
        assert all(isinstance(n, int) and n >= 2 for n in starts) and starts == sorted(starts)
    else:
        assert all(row.line is None for row in rows)
    for row in rows:
        assert set(row.values) <= set(columns) or row.error is not None
        assert row.error is None or isinstance(row.error, str) and row.error
        orjson.dumps(row.values)
        for value in row.values.values():
            as_text(value)
        try:
            custom_id_for(row, columns[0] if columns else None)
        except RowError as exc:
            assert "empty id" in str(exc)


# --- make_batch_file end to end ------------------------------------------------------------------------------

BATCH_CASES = st.tuples(
    DATA_FILES, hostile_templates() | good_templates(), st.sampled_from([None, "id", "x", "nope"]),
    st.sampled_from([None, *BATCH_ENDPOINTS]), st.none() | st.just("gpt-4o-mini"), st.booleans(), st.booleans())


def check_batch_file(case: tuple[tuple[str, bytes], str, str | None, str | None, str | None, bool, bool]) -> None:
    """Any template and data: a batch file of request lines and its manifest, both whole, or an error naming
    the template or the data file (and the row) with the folder exactly as it was."""
    (suffix, data), template, id_column, endpoint, model, skip, earlier = case
    with folder() as where:
        source, out = where / f"d{suffix}", where / "out.jsonl"
        source.write_bytes(data)
        if earlier:
            out.write_bytes(b"an earlier batch file\n")
        before = listing(where)
        try:
            made = make_batch_file(None, source, out, template_text=template, id_column=id_column,
                                   endpoint=endpoint, model=model, skip_bad_rows=skip)
        except BatchtuiError as exc:
            assert listing(where) == before, f"{exc} but the folder changed"
            message = str(exc)
            assert source.name in message or message.startswith("template") or "out.jsonl" in message, message
            if isinstance(exc, BadRowError):
                assert message.startswith(f"{source.name} row {exc.row}"), message
            return
        written = out.read_bytes()
        lines = [orjson.loads(line) for line in written.splitlines()]
        assert len(lines) == made.rows > 0
        assert all(list(line) == ["custom_id", "method", "url", "body"] and isinstance(line["body"], dict)
                   for line in lines)
        assert len({line["custom_id"] for line in lines}) == len(lines)
        report = validate_file(out)
        assert not {p.code for p in report.problems} & {"invalid_json_line", "duplicate_custom_id"}, report.problems
        assert {line["url"] for line in lines} == {made.endpoint}
        manifest = load_manifest(made.manifest)
        assert manifest.output_sha256 == hashlib.sha256(written).hexdigest() and manifest.rows == made.rows
        assert made.rows + len(made.skipped) == sum(1 for _ in read_rows(source))
        assert sorted(listing(where)) == sorted([source.name, out.name, made.manifest.name])


# --- the config file -----------------------------------------------------------------------------------------

TOML_KEY = st.sampled_from(["kind", "base_url", "api_key", "api_key_env", "organization", "project",
                            "azure_endpoint", "api_version", "base_ur"]) | st.text(max_size=4)
TOML_STRING = st.sampled_from(["openai", "azure", "gcp", "FUZZ_KEY_SET", "FUZZ_KEY_UNSET", "http://x", ""]) | st.text(
    max_size=5)
PROFILE_NAMES = st.sampled_from(["a", "b", "default", "work"]) | st.text(max_size=4)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


TOML_VALUE = TOML_STRING | st.integers(-5, 5) | st.booleans() | st.lists(TOML_STRING, max_size=2) | st.dictionaries(
    TOML_KEY, TOML_STRING, max_size=2)


@st.composite
def config_bytes(draw: st.DrawFn) -> bytes:
    """A config.toml: tables of profiles with known, unknown and mistyped fields; or broken TOML; or any bytes."""
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return draw(st.binary(max_size=60))
    lines = []
    if draw(st.booleans()):
        lines.append(f"default_profile = {toml_value(draw(PROFILE_NAMES | TOML_VALUE))}")
    if draw(st.integers(0, 5)) == 0:
        lines.append(f"profiles = {toml_value(draw(TOML_VALUE))}")
    for name in draw(st.lists(PROFILE_NAMES, max_size=3, unique=True)):
        lines.append(f"[profiles.{json.dumps(name)}]")
        lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in draw(st.dictionaries(TOML_KEY, TOML_VALUE,
                                                                                         max_size=4)).items()]
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    return draw(broken(data)) if kind == 1 else data


def check_config(case: tuple[bytes, str | None]) -> None:
    """Any bytes as config.toml: a profile, or a ConfigError of one line naming the file."""
    data, name = case
    with folder() as where, mock.patch.dict(os.environ, {"FUZZ_KEY_SET": "sk-fuzz"}):
        path = where / "config.toml"
        path.write_bytes(data)
        try:
            profile = resolve_profile(name, config_path=path)
        except ConfigError as exc:
            message = str(exc)
            assert message.startswith(f"{path}: ") and "\n" not in message, message
            return
    assert profile.kind in ("openai", "azure") and isinstance(profile.name, str)


CONFIG_CASES = st.tuples(config_bytes(), st.none() | PROFILE_NAMES)


# --- split ---------------------------------------------------------------------------------------------------


def check_split(case: tuple[bytes, int, int, int]) -> None:
    """Any bytes: parts that put together are the file, each within the limits; or a SplitError naming the line
    that cannot fit, with nothing written."""
    data, max_lines, max_bytes, max_inputs = case
    with folder() as where:
        path = where / "in.jsonl"
        path.write_bytes(data)
        try:
            parts = split_file(path, max_lines=max_lines, max_bytes=max_bytes, max_embedding_inputs=max_inputs)
        except SplitError as exc:
            assert re.match(r"in\.jsonl line [1-9]\d*: ", str(exc)), str(exc)
            assert listing(where) == {"in.jsonl": data}
            return
        assert b"".join(part.read_bytes() for part in parts) == data
        assert parts == [path] or sorted(listing(where)) == sorted(["in.jsonl", *(p.name for p in parts)])
        for part in parts:
            lines = io.BytesIO(part.read_bytes()).readlines()
            assert sum(not line.isspace() for line in lines) <= max_lines and part.stat().st_size <= max_bytes
            assert sum(_inputs(line) for line in lines) <= max_inputs


def _inputs(line: bytes) -> int:
    try:
        request = orjson.loads(line)
    except orjson.JSONDecodeError:
        return 0
    if isinstance(request, dict) and request.get("url") == "/v1/embeddings" and isinstance(request.get("body"), dict):
        return embedding_inputs(request["body"])
    return 0


SPLIT_CASES = st.tuples(jsonl_files(1, 10).map(lambda files: files[0]), st.integers(1, 5), st.integers(1, 400),
                        st.integers(1, 5))


TARGETS = [
    Target("result index", INDEX_CASES, check_index),
    Target("validate", VALIDATE_CASES, check_validate),
    Target("templates", TEMPLATE_CASES, check_template),
    Target("data files", DATASET_CASES, check_dataset),
    Target("make_batch_file", BATCH_CASES, check_batch_file),
    Target("config", CONFIG_CASES, check_config),
    Target("split", SPLIT_CASES, check_split),
]
MAKE_TEST = {"result index": 250, "validate": 300, "templates": 800, "data files": 400, "make_batch_file": 400,
             "config": 600, "split": 300}
"""Cases each target runs in `make test`, chosen so the module takes about a minute on two cores."""

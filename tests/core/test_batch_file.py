"""Batch files from a template and CSV, JSONL or XLSX data: every row accounted for, written whole or not at all."""

from __future__ import annotations

import csv
import fcntl
import hashlib
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import orjson
import pytest

from batchtui.core.authoring.batch_file import (
    MANIFEST_FORMAT,
    BadRowError,
    BatchFileCancelled,
    BatchFileError,
    DataChangedError,
    ManifestError,
    SkippedRow,
    data_rows_by_custom_id,
    infer_endpoint,
    load_manifest,
    make_batch_file,
    manifest_path,
)
from batchtui.core.authoring.datasets import (
    DataFileError,
    DataRow,
    custom_id_for,
    default_id_column,
    read_columns,
    read_rows,
)
from batchtui.core.authoring.templates import TemplateError
from batchtui.core.errors import BatchtuiError

EXAMPLES = Path(__file__).parents[2] / "examples" / "reviews"
BODY = '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "{{text}}"}], "max_tokens": {{n}}}'


@pytest.fixture
def work(tmp_path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def write_csv(path: Path, rows: list[list[object]], *, bom: bool = False) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def write_jsonl(path: Path, lines: list[object]) -> Path:
    path.write_bytes(b"".join((line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines))
    return path


def requests(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def make(work: Path, data: Path, template: str = BODY, **options):
    return make_batch_file(None, data, work / "out.jsonl", template_text=template, **options)


def test_the_example_makes_a_valid_batch_file(tmp_path):
    out = tmp_path / "reviews.jsonl"
    made = make_batch_file(EXAMPLES / "template.json", EXAMPLES / "reviews.csv", out)
    assert (made.rows, made.skipped, made.endpoint, made.model) == (8, (), "/v1/chat/completions", "gpt-4o-mini")
    lines = requests(out)
    assert [line["custom_id"] for line in lines] == [f"id_r00{i}" for i in range(1, 9)]
    for line in lines:
        assert list(line) == ["custom_id", "method", "url", "body"]
        assert (line["method"], line["url"]) == ("POST", "/v1/chat/completions")
        assert line["body"]["model"] == "gpt-4o-mini" and isinstance(line["body"]["max_tokens"], int)
        assert [m["role"] for m in line["body"]["messages"]] == ["system", "user"]
    tricky = lines[2]["body"]["messages"][1]["content"]
    assert '"drilling"' in tricky and "6 am.\nSecond line" in tricky and "great, but" in tricky
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reviews.jsonl", "reviews.manifest.json"]


def test_the_manifest_has_the_agreed_shape(work):
    data = write_csv(work / "data.csv", [["id", "text", "n"], ["a", "hello", "5"], ["b", "bye", ""]])
    template = work / "t.json"
    template.write_text(BODY)
    made = make_batch_file(template, data, work / "out.jsonl", model="gpt-4.1", skip_bad_rows=True)
    assert made.manifest == manifest_path(work / "out.jsonl") == work / "out.manifest.json"
    raw = orjson.loads(made.manifest.read_bytes())
    created_at = raw.pop("created_at")
    assert raw == {
        "format": MANIFEST_FORMAT,
        "template": BODY,
        "template_file": str(template.resolve()),
        "data_file": str(data.resolve()),
        "data_sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
        "id_column": "id",
        "rows": 1,
        "skipped": [{"row": 2, "id": "b", "reason": "empty value for {{n}}"}],
        "endpoint": "/v1/chat/completions",
        "model": "gpt-4.1",
        "output_sha256": hashlib.sha256((work / "out.jsonl").read_bytes()).hexdigest(),
    }
    assert created_at.endswith("+00:00")
    manifest = load_manifest(made.manifest)
    assert manifest.skipped == (SkippedRow(2, "b", "empty value for {{n}}"),)
    assert manifest.template_file == template.resolve()
    assert manifest.created_at.isoformat(timespec="seconds") == created_at


def test_results_join_back_to_data_rows_and_a_changed_file_is_refused(work):
    data = write_csv(work / "data.csv", [["ID", "text", "n"], ["7", "a", "1"], ["7", "dup", "1"], ["9", "b", "x"],
                                         ["10", "c", "2"]])
    made = make(work, data, skip_bad_rows=True)
    custom_ids = [line["custom_id"] for line in requests(made.out)]
    assert custom_ids == ["id_7", "id_10"]
    manifest = load_manifest(made.manifest)
    assert manifest.id_column == "ID" and manifest.template_file is None and manifest.model == "gpt-4o-mini"
    columns, rows = data_rows_by_custom_id(manifest)
    assert columns == ["ID", "text", "n"]
    assert sorted(rows) == ["id_10", "id_7"] and rows["id_7"].values["text"] == "a" and rows["id_7"].number == 1
    moved = work / "moved.csv"
    shutil.move(data, moved)
    assert data_rows_by_custom_id(manifest, moved)[1].keys() == rows.keys()
    moved.write_text(moved.read_text() + "11,d,3\n")
    with pytest.raises(DataChangedError, match=r"moved\.csv changed since the batch file was made"):
        data_rows_by_custom_id(manifest, moved)


def test_custom_ids_can_be_recomputed_from_rows():
    assert default_id_column(["text", "ID"]) == "ID" and default_id_column(["id", "ID"]) == "id"
    assert default_id_column(["text", "Id"]) is None
    row = DataRow(4, {"id": 17, "key": "k-1", "blank": " "})
    assert [custom_id_for(row, column) for column in ("id", "key", None)] == ["id_17", "id_k-1", "id_4"]
    for column in ("blank", "missing"):
        with pytest.raises(BatchtuiError, match="empty id"):
            custom_id_for(row, column)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not json", "is not a batchtui manifest (not JSON"),
        ("[1]", "is not a batchtui manifest (no format field)"),
        ('{"format": "batchtui-manifest/9"}', "unknown manifest format 'batchtui-manifest/9'"),
        ('{"format": "batchtui-manifest/1", "template": "{}"}', "is damaged: 'skipped' is missing"),
    ],
)
def test_a_bad_manifest_says_what_is_wrong(tmp_path, text, expected):
    path = tmp_path / "x.manifest.json"
    path.write_text(text)
    with pytest.raises(ManifestError, match=re.escape(expected)):
        load_manifest(path)


def test_a_missing_manifest_says_where_it_was_looked_for(tmp_path):
    with pytest.raises(ManifestError, match=r"No manifest at .*x\.manifest\.json"):
        load_manifest(tmp_path / "x.manifest.json")


BAD_ROWS = [
    # (data file name, rows, id_column, expected message, good custom_ids)
    ("d.csv", [["id", "text", "n"], ["a", "ok", "1"], ["b", "ok", ""], ["c", "ok", "2"]], None,
     "d.csv row 2 (id b): empty value for {{n}} (line 3)", ["id_a", "id_c"]),
    ("d.csv", [["id", "text", "n"], ["a", "ok", "1"], ["b", "ok", "abc"]], None,
     "d.csv row 2 (id b): 'abc' for {{n}} is not a JSON number, true, false or null (line 3)", ["id_a"]),
    ("d.csv", [["id", "text", "n"], ["", "ok", "1"], ["c", "ok", "2"]], None,
     "d.csv row 1: empty id in column 'id' (line 2)", ["id_c"]),
    ("d.csv", [["id", "text", "n"], ["a", "ok", "1"], ["a", "again", "2"]], None,
     "d.csv row 2 (id a): duplicate id (first on row 1) (line 3)", ["id_a"]),
    ("d.csv", [["id", "text", "n"], ["a", "ok", "1", "stray"], ["b", "ok", "2", ""]], None,
     "d.csv row 1 (id a): 4 fields, but the header has 3 (line 2)", ["id_b"]),
    ("d.jsonl", [{"key": 1, "text": "t", "n": 1}, {"key": 2, "n": 1}, {"key": 3, "text": "t", "n": 1}], "key",
     "d.jsonl row 2 (id 2): no value for {{text}}", ["id_1", "id_3"]),
    ("d.jsonl", [{"text": "t", "n": 1}, [1, 2], {"text": "u", "n": 2}], None,
     "d.jsonl row 2: not a JSON object but an array", ["id_1", "id_3"]),
    ("d.jsonl", [{"text": "t", "n": 1}, b"{oops", {"text": "u", "n": 2}], None,
     "d.jsonl row 2: not valid JSON (", ["id_1", "id_3"]),
]


@pytest.mark.parametrize(("name", "rows", "id_column", "message", "good"), BAD_ROWS)
def test_a_bad_row_stops_the_run_and_nothing_is_written(work, name, rows, id_column, message, good):
    data = write_csv(work / name, rows) if name.endswith(".csv") else write_jsonl(work / name, rows)
    with pytest.raises(BadRowError) as caught:
        make(work, data, id_column=id_column)
    assert str(caught.value).startswith(message)
    assert [p.name for p in work.iterdir()] == [name]


@pytest.mark.parametrize(("name", "rows", "id_column", "message", "good"), BAD_ROWS)
def test_skipped_bad_rows_are_listed_and_counted(work, name, rows, id_column, message, good):
    data = write_csv(work / name, rows) if name.endswith(".csv") else write_jsonl(work / name, rows)
    made = make(work, data, id_column=id_column, skip_bad_rows=True)
    assert [line["custom_id"] for line in requests(made.out)] == good
    assert made.rows == len(good) and len(made.skipped) == 1
    skipped = made.skipped[0]
    assert message.startswith(f"{name} row {skipped.row}")
    assert skipped.reason.startswith(message.split(": ", 1)[1].split(" (line ")[0])
    assert load_manifest(made.manifest).skipped == made.skipped


def test_a_bad_row_leaves_an_earlier_batch_file_as_it_was(work):
    out = work / "out.jsonl"
    out.write_text("earlier")
    data = write_csv(work / "d.csv", [["text", "n"], *[["t", "1"]] * 1500, ["t", "x"]])
    with pytest.raises(BadRowError, match=r"^d\.csv row 1501: "):
        make(work, data)
    assert out.read_text() == "earlier" and sorted(p.name for p in work.iterdir()) == ["d.csv", "out.jsonl"]


def test_when_every_row_is_skipped_nothing_is_written(work):
    data = write_csv(work / "d.csv", [["text", "n"], ["a", ""], ["b", "no"]])
    with pytest.raises(BatchFileError, match=r"d\.csv gave no requests: all 2 rows were skipped \(the first, row 1: "):
        make(work, data, skip_bad_rows=True)
    write_csv(work / "d.csv", [["text", "n"]])
    with pytest.raises(BatchFileError, match="it has no data rows"):
        make(work, data)
    assert [p.name for p in work.iterdir()] == ["d.csv"]


def test_an_unknown_placeholder_is_a_template_error_before_any_row(work):
    data = write_csv(work / "d.csv", [["id", "text", "N"], ["a", "t", "1"]])
    with pytest.raises(TemplateError, match=r"^template line 1, column 95: unknown placeholder \{\{n\}\}; "
                                            r"d\.csv has the columns id, text, N\.$"):
        make(work, data)
    assert [p.name for p in work.iterdir()] == ["d.csv"]


def test_csv_with_a_bom_and_multiline_fields_keeps_row_and_line_numbers(work):
    rows = [["id", "text", "n"], ["a", "one\ntwo\nthree", "1"], ["b", 'say "hi",\r\nthen go', "2"], ["c", "x", "?"]]
    data = write_csv(work / "d.csv", rows, bom=True)
    assert read_columns(data) == ["id", "text", "n"]
    assert [(row.number, row.line) for row in read_rows(data)] == [(1, 2), (2, 5), (3, 7)]
    with pytest.raises(BadRowError, match=r"^d\.csv row 3 \(id c\): '\?' for \{\{n\}\} .* \(line 7\)$"):
        make(work, data)
    made = make(work, data, skip_bad_rows=True)
    texts = [line["body"]["messages"][0]["content"] for line in requests(made.out)]
    assert texts == ["one\ntwo\nthree", 'say "hi",\r\nthen go']


def test_blank_lines_are_not_rows(work):
    data = work / "d.csv"
    data.write_text("text,n\n\na,1\n\n\nb,2\n")
    assert [(row.number, row.line, row.values) for row in read_rows(data)] == [
        (1, 3, {"text": "a", "n": "1"}),
        (2, 6, {"text": "b", "n": "2"}),
    ]


def test_xlsx_data(work):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "text", "n", None])
    sheet.append([101, 'quote " and\nnewline', 3, None])
    sheet.append([None, None, None, None])
    sheet.append([102, "second", 0.5, None])
    sheet.append([103, True, "high", None])
    book.save(work / "d.xlsx")
    assert read_columns(work / "d.xlsx") == ["id", "text", "n"]
    with pytest.raises(BadRowError, match=r"^d\.xlsx row 5 \(id 103\): 'high' for \{\{n\}\} is not a JSON number"):
        make(work, work / "d.xlsx")
    made = make(work, work / "d.xlsx", skip_bad_rows=True)
    lines = requests(made.out)
    assert [line["custom_id"] for line in lines] == ["id_101", "id_102"]
    assert [line["body"]["max_tokens"] for line in lines] == [3, 0.5]
    assert lines[0]["body"]["messages"][0]["content"] == 'quote " and\nnewline'
    assert made.skipped == (SkippedRow(5, "103", "'high' for {{n}} is not a JSON number, true, false or null"),)


def test_jsonl_columns_are_every_key_used_and_a_bom_is_allowed(work):
    data = write_jsonl(work / "d.ndjson", [{"a": 1}, {"b": 2, "a": 3}, "x", {"c": None}])
    data.write_bytes(b"\xef\xbb\xbf" + data.read_bytes())
    assert read_columns(data) == ["a", "b", "c"]
    rows = [(row.number, row.error) for row in read_rows(data)]
    assert rows[::2] == [(1, None), (3, "not a JSON object but a string")]


@pytest.mark.parametrize(
    ("setup", "error", "message"),
    [
        (lambda p: p.with_suffix(".tsv").write_text("a\tb\n"), DataFileError, r"unknown data file type '\.tsv'"),
        (lambda p: None, DataFileError, r"Cannot read .*d\.csv: No such file"),
        (lambda p: p.write_bytes(b"text,n\n\xff\xfe,1\n"), DataFileError, r"^d\.csv line 2: not UTF-8 text"),
        (lambda p: p.write_text("text,text\na,b\n"), DataFileError, r"^d\.csv header: column 'text' appears twice"),
        (lambda p: p.write_text(""), DataFileError, r"^d\.csv: the file is empty"),
        (lambda p: p.with_suffix(".xlsx").write_text("no zip"), DataFileError, r"^d\.xlsx: not a readable Excel"),
    ],
)
def test_unreadable_data_files_are_named(work, setup, error, message):
    path = work / "d.csv"
    setup(path)
    target = next(iter(work.iterdir()), path)
    with pytest.raises(error, match=message):
        make(work, target)


@pytest.mark.parametrize(
    ("body", "model", "endpoint"),
    [
        ({"messages": []}, None, "/v1/chat/completions"),
        ({"input": "x", "model": "gpt-4.1"}, None, "/v1/responses"),
        ({"input": "x", "model": "text-embedding-3-small"}, None, "/v1/embeddings"),
        ({"input": "x", "model": "gpt-4.1"}, "text-embedding-3-large", "/v1/embeddings"),
        ({"input": "x"}, None, "/v1/responses"),
        ({"prompt": "x", "model": "gpt-3.5-turbo-instruct"}, None, "/v1/completions"),
    ],
)
def test_endpoint_inference(body, model, endpoint):
    assert infer_endpoint(body, model) == endpoint


def test_endpoint_and_model_options(work):
    data = write_csv(work / "d.csv", [["text"], ["hello"]])
    made = make(work, data, '{"input": "{{text}}"}', model="text-embedding-3-small")
    assert (made.endpoint, made.model) == ("/v1/embeddings", "text-embedding-3-small")
    assert requests(made.out)[0]["body"] == {"model": "text-embedding-3-small", "input": "hello"}
    made = make(work, data, '{"input": "{{text}}"}', endpoint="/v1/moderations")
    assert made.endpoint == "/v1/moderations" and made.model is None
    with pytest.raises(BatchFileError, match=r"^template: Cannot tell the endpoint .*no messages, input or prompt"):
        make(work, data, '{"text": "{{text}}"}')


def test_a_request_line_template_gives_url_and_method_and_the_row_gives_the_custom_id(work):
    data = write_csv(work / "d.csv", [["id", "text"], ["x1", "hi"]])
    template = (
        '{"custom_id": "{{id}}", "method": "POST", "url": "/v1/responses", '
        '"body": {"model": "o3", "input": "{{text}}"}}'
    )
    made = make(work, data, template)
    assert requests(made.out) == [
        {"custom_id": "id_x1", "method": "POST", "url": "/v1/responses", "body": {"model": "o3", "input": "hi"}}
    ]
    assert make(work, data, template, endpoint="/v1/responses").endpoint == "/v1/responses"
    with pytest.raises(BatchFileError, match=r"^template is a request line for /v1/responses, not /v1/chat/"):
        make(work, data, template, endpoint="/v1/chat/completions")


def test_id_columns(work):
    data = write_csv(work / "d.csv", [["key", "text", "n"], ["k1", "a", "1"], ["k2", "b", "2"]])
    assert [line["custom_id"] for line in requests(make(work, data).out)] == ["id_1", "id_2"]
    assert load_manifest(work / "out.manifest.json").id_column is None
    assert [line["custom_id"] for line in requests(make(work, data, id_column="key").out)] == ["id_k1", "id_k2"]
    with pytest.raises(BatchFileError, match=r"^d\.csv has no id column 'id'; its columns: key, text, n\.$"):
        make(work, data, id_column="id")


def test_progress_and_cancel(work):
    data = write_csv(work / "d.csv", [["text", "n"], *[["t", "1"]] * 2500])
    seen: list[tuple[int, int]] = []
    make(work, data, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1000, 0), (2000, 0), (2500, 2500)]
    (work / "out.jsonl").unlink()
    (work / "out.manifest.json").unlink()
    with pytest.raises(BatchFileCancelled, match="nothing was written"):
        make(work, data, progress=lambda done, total: seen.append((done, total)), cancelled=lambda: len(seen) > 3)
    assert [p.name for p in work.iterdir()] == ["d.csv"]


def test_an_unwritable_destination_is_named(work):
    data = write_csv(work / "d.csv", [["text", "n"], ["t", "1"]])
    with pytest.raises(BatchFileError, match=r"Cannot write .*missing/out\.jsonl"):
        make_batch_file(None, data, work / "missing" / "out.jsonl", template_text=BODY)


def sparse_line(path: Path, head: bytes, size: int, tail: bytes) -> Path:
    """A file with a line of `size` NUL bytes between `head` and `tail`, kept as a hole: no disk is used."""
    with path.open("wb") as fh:
        fh.write(head)
        fh.seek(size, 1)
        fh.write(tail)
    return path


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize(
    ("rows", "message"),
    [
        # The file ends inside a quoted field: every row after it would be folded into one request.
        (["id,text", '1,"unterminated', "2,ok", "3,ok"], r"line 2: a quote opens a field here and never closes"),
        (["id,text", "1,a", '2,"x', "y", "3,z"], r"line 3: a quote opens a field here and never closes"),
        (["id,text", '1,"a', 'b","c', "d"], r"line 3: a quote opens a field here and never closes"),
        # A later quote closes it, followed by text: the reader would take two rows for one.
        (["id,text", '1,"un', '2,"ok"', "3,ok"], r"line 2: a quoted field starts here, and its closing quote on line 3 "
                                                 r"is followed by text"),
        (["id,text", '1,"a"b', "2,ok"], r"line 2: a quoted field starts here, and its closing quote is followed"),
    ],
)
def test_a_csv_quote_that_does_not_close_is_an_error_at_its_line_and_nothing_is_written(work, rows, message, end):
    data = work / "d.csv"
    data.write_bytes(end.join(rows).encode())
    with pytest.raises(DataFileError, match="^d\\.csv " + message):
        make(work, data, '{"input": "{{text}}"}', skip_bad_rows=True)
    assert [p.name for p in work.iterdir()] == ["d.csv"]


def test_quotes_that_close_are_still_read_across_lines(work):
    data = work / "d.csv"
    data.write_bytes(b'id,text\r\n1,"two\r\nlines"\r\n2,a"b\r\n3,"say ""hi"""\r\n')
    assert [(row.number, row.line, row.values["text"]) for row in read_rows(data)] == [
        (1, 2, "two\r\nlines"), (2, 4, 'a"b'), (3, 5, 'say "hi"')]


def test_a_data_row_longer_than_a_batch_file_is_a_bad_row_or_stops_the_run(work):
    jsonl = sparse_line(work / "d.jsonl", b'{"text": "a"}\n', 201 << 20, b'\n{"text": "b"}\n')
    with pytest.raises(BadRowError, match=r"^d\.jsonl row 2: the line is 210,763,777 bytes, more than a whole batch"):
        make(work, jsonl, '{"input": "{{text}}"}')
    made = make(work, jsonl, '{"input": "{{text}}"}', skip_bad_rows=True)
    assert [line["body"]["input"] for line in requests(made.out)] == ["a", "b"]
    data = sparse_line(work / "d.csv", b"text\na\n", 201 << 20, b"\nb\n")
    with pytest.raises(DataFileError, match=r"^d\.csv line 3: the row starting here is longer than 209,715,200 bytes"):
        make(work, data, '{"input": "{{text}}"}')
    unclosed = sparse_line(work / "u.csv", b'text\na\n"b', 201 << 20, b"\nc\n")
    with pytest.raises(DataFileError, match=r"^u\.csv line 3: a quoted field starts here and runs on past"):
        make(work, unclosed, '{"input": "{{text}}"}')


def test_a_template_longer_than_a_batch_file_is_refused_unread(work):
    data = write_csv(work / "d.csv", [["text"], ["a"]])
    template = sparse_line(work / "t.json", b'{"input": "', 201 << 20, b'"}')
    with pytest.raises(TemplateError, match=r"^t\.json: more than 209,715,200 bytes"):
        make_batch_file(template, data, work / "out.jsonl")


@pytest.mark.parametrize(("template_name", "out_name"), [("x.manifest.json", "x.jsonl"), ("x.json", "x.json")])
def test_no_output_replaces_the_template_or_the_data(work, template_name, out_name):
    template = work / template_name
    template.write_text('{"input": "{{text}}"}')
    data = write_csv(work / "d.csv", [["text"], ["a"]])
    before = {p.name: p.read_bytes() for p in work.iterdir()}
    with pytest.raises(BatchFileError, match=rf"^{re.escape(template_name)}, .* would replace the template "):
        make_batch_file(template, data, work / out_name)
    with pytest.raises(BatchFileError, match=r"^d\.csv, the output, would replace the data file d\.csv"):
        make_batch_file(template, data, data)
    assert {p.name: p.read_bytes() for p in work.iterdir()} == before


def test_the_temp_file_of_a_killed_run_is_removed_by_the_next_but_not_one_still_written(work):
    data = write_csv(work / "d.csv", [["text", "n"], *[["t" * 50, "1"]] * 300_000])
    template = work / "t.json"
    template.write_text(BODY)
    out = work / "out.jsonl"
    run = subprocess.Popen([sys.executable, "-m", "batchtui", "make-batch-file", str(template), str(data), "-o",
                            str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not list(work.glob(".out.jsonl.*.part")) and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        run.kill()
        run.wait()
    [left] = work.glob(".out.jsonl.*.part")
    live = work / ".out.jsonl.abcd_123.part"
    live.write_bytes(b"another process is writing this")
    with live.open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        make_batch_file(template, write_csv(work / "small.csv", [["text", "n"], ["t", "1"]]), out)
        assert not left.exists() and live.exists() and len(requests(out)) == 1
    make_batch_file(template, work / "small.csv", out)
    assert sorted(p.name for p in work.iterdir()) == ["d.csv", "out.jsonl", "out.manifest.json", "small.csv", "t.json"]

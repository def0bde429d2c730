"""Exports read back equal to what went in, and a failed or cancelled export leaves nothing behind."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from batchtui.core.errors import BatchtuiError
from batchtui.core.results.export import (
    CSV_COLUMNS,
    ExportCancelled,
    ExportError,
    ExportRow,
    export_csv,
    export_jsonl,
)

PROMPTS = [
    "plain",
    'commas, "quotes", and\nnewlines\r\nand more',
    "مرحبا 🙂 \u202e",
    "\x1b[31m[b]x[/]\x1b]52;c;AA==\x07",
    "",
]


def row(i: int, prompt: str) -> ExportRow:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}
    request = {"custom_id": f"row-{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}
    choice = {"index": 0, "message": {"role": "assistant", "content": f"answer: {prompt}"}, "finish_reason": "stop"}
    response = {"status_code": 200, "request_id": "req_1", "body": {"object": "chat.completion", "choices": [choice]}}
    output = {"id": f"batch_req_{i}", "custom_id": f"row-{i}", "response": response, "error": None}
    return ExportRow(f"row-{i}", "ok", "", orjson.dumps(request), orjson.dumps(output), 10 + i)


ROWS = [row(i, p) for i, p in enumerate(PROMPTS)] + [
    ExportRow("broken", "failed", 'invalid_json_line, "bad"', b"{not json \xff", None, None),
    ExportRow(
        "expired", "expired", "batch_expired", None, b'{"response": null, "error": {"code": "batch_expired"}}', None
    ),
]


def test_csv_reads_back_equal(tmp_path):
    dest = tmp_path / "out.csv"
    seen = []
    assert export_csv(ROWS, dest, total=len(ROWS), progress=lambda done, total: seen.append((done, total))) == 7
    with dest.open(newline="", encoding="utf-8") as f:
        table = list(csv.reader(f))
    assert tuple(table[0]) == CSV_COLUMNS
    for i, prompt in enumerate(PROMPTS):
        assert table[i + 1] == [f"row-{i}", "ok", "", prompt, f"answer: {prompt}", str(10 + i)]
    assert table[6] == ["broken", "failed", 'invalid_json_line, "bad"', "", "", ""]
    assert table[7] == ["expired", "expired", "batch_expired", "", "", ""]
    assert seen == [(7, 7)]
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_jsonl_embeds_lines_as_json(tmp_path):
    dest = tmp_path / "out.jsonl"
    assert export_jsonl(iter(ROWS), dest, total=len(ROWS)) == 7
    records = [orjson.loads(line) for line in dest.read_bytes().splitlines()]
    assert len(records) == 7
    for record, source in zip(records[:5], ROWS, strict=False):
        assert record == {
            "custom_id": source.custom_id,
            "status": "ok",
            "request": orjson.loads(source.input_line),
            "response": orjson.loads(source.output_line),
        }
    assert records[5]["request"] == "{not json \ufffd" and records[5]["response"] is None
    assert records[6]["request"] is None and records[6]["response"]["error"]["code"] == "batch_expired"


def test_jsonl_keeps_one_record_per_line_when_a_line_holds_line_breaks(tmp_path):
    dest = tmp_path / "out.jsonl"
    spread = ExportRow("a", "ok", "", b'{"custom_id":\r\n"a",\n"n": 1.50}\n', None, None)
    export_jsonl([spread, spread], dest, total=2)
    lines = dest.read_bytes().split(b"\n")
    assert len(lines) == 3 and lines[2] == b"" and b"\r" not in dest.read_bytes()
    assert orjson.loads(lines[0])["request"] == {"custom_id": "a", "n": 1.5}
    assert b'"n": 1.50' in lines[0]


def failing_rows() -> Iterator[ExportRow]:
    yield from ROWS[:3]
    raise RuntimeError("the results file went away")


@pytest.mark.parametrize("export", [export_csv, export_jsonl])
def test_a_failure_midway_leaves_the_old_file(tmp_path, export):
    dest = tmp_path / "out.file"
    dest.write_text("earlier export")
    with pytest.raises(RuntimeError, match="went away"):
        export(failing_rows(), dest, total=7)
    assert dest.read_text() == "earlier export"
    assert [p.name for p in tmp_path.iterdir()] == ["out.file"]


@pytest.mark.parametrize("export", [export_csv, export_jsonl])
def test_cancel_leaves_no_file(tmp_path, export):
    dest = tmp_path / "out.file"
    done = []
    with pytest.raises(ExportCancelled):
        export((done.append(r) or r for r in ROWS), dest, total=7, cancelled=lambda: len(done) >= 2)
    assert not dest.exists() and list(tmp_path.iterdir()) == []


def test_progress_is_reported_as_rows_go(tmp_path):
    seen = []
    rows = [ROWS[0]] * 1200
    export_csv(rows, tmp_path / "big.csv", total=1200, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(500, 1200), (1000, 1200), (1200, 1200)]


@pytest.mark.parametrize("export", [export_csv, export_jsonl])
def test_unwritable_places_name_the_path(tmp_path, export):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    for dest in (not_a_folder / "out.csv", tmp_path / "missing" / "out.csv"):
        with pytest.raises(ExportError, match=str(dest.parent)) as caught:
            export(ROWS, dest, total=7)
        assert isinstance(caught.value, BatchtuiError) and "\n" not in str(caught.value)
    (tmp_path / "folder").mkdir()
    with pytest.raises(ExportError, match="folder"):
        export(ROWS, tmp_path / "folder", total=7)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder"]
    assert list((tmp_path / "folder").iterdir()) == []


def test_a_large_export_round_trips(tmp_path: Path):
    big = "x," * 60_000 + '"\n'
    dest = tmp_path / "big.csv"
    export_csv([row(0, big)], dest, total=1)
    with dest.open(newline="", encoding="utf-8") as f:
        assert list(csv.reader(f))[1][3] == big

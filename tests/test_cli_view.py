"""`batchtui view --export`: every row written as the viewer's `e` writes it, with no app and no account; files
taken for what their lines hold, whichever way they were named."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import orjson
import pytest
from cli_helpers import batchtui

ANSWER = '```json\n{"label": "positive"}\n```'


def lines(path: Path, records: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    return path


@pytest.fixture
def files(tmp_path) -> tuple[Path, Path, Path]:
    requests = lines(tmp_path / "input.jsonl", [
        {"custom_id": cid, "method": "POST", "url": "/v1/chat/completions",
         "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Rate {cid}"}]}}
        for cid in ("r-1", "r-2")
    ])
    body = {"object": "chat.completion", "usage": {"total_tokens": 9},
            "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}]}
    output = lines(tmp_path / "output.jsonl", [
        {"id": "batch_req_1", "custom_id": "r-1", "response": {"status_code": 200, "body": body}, "error": None},
    ])
    errors = lines(tmp_path / "errors.jsonl", [
        {"id": "batch_req_2", "custom_id": "r-2", "error": None, "response": {"status_code": 400, "body": {
            "error": {"message": "Invalid 'messages': too long.", "type": "invalid_request_error", "code": None}}}},
    ])
    return requests, output, errors


@pytest.fixture
def env(isolated_home) -> dict[str, str]:
    return {**os.environ, "BATCHTUI_HOME": str(isolated_home)}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_view_export_writes_every_row_and_names_the_file(files, env, tmp_path):
    requests, output, errors = files
    dest = tmp_path / "rows.csv"
    done = batchtui("view", str(output), "--input", str(requests), "--errors", str(errors), "--export", str(dest),
                    env=env)
    assert done.stdout == f"{dest}: 2 rows\n" and done.stderr == ""
    rows = read_csv(dest)
    assert [(r["custom_id"], r["status"], r["prompt"], r["answer"]) for r in rows] == [
        ("r-1", "ok", "Rate r-1", ANSWER), ("r-2", "400", "Rate r-2", ""),
    ]
    assert rows[1]["error"] == "Invalid 'messages': too long."
    jsonl = tmp_path / "rows.jsonl"
    done = batchtui("view", str(output), "-i", str(requests), "-e", str(errors), "--export", str(jsonl), env=env)
    assert done.stdout == f"{jsonl}: 2 rows\n"
    assert [orjson.loads(line)["request"]["custom_id"] for line in jsonl.read_bytes().splitlines()] == ["r-1", "r-2"]


def test_view_takes_swapped_files_for_what_they_hold(files, env, tmp_path):
    requests, output, _ = files
    dest = tmp_path / "rows.csv"
    batchtui("view", str(requests), "--input", str(output), "--export", str(dest), env=env)
    assert [(r["custom_id"], r["status"], r["prompt"]) for r in read_csv(dest)] == [
        ("r-1", "ok", "Rate r-1"), ("r-2", "pending", "Rate r-2"),
    ]
    batchtui("view", str(requests), "--export", str(dest), env=env)
    assert [r["status"] for r in read_csv(dest)] == ["pending", "pending"]


@pytest.mark.parametrize(("args", "says"), [
    (["--export", "{tmp}/rows.txt"], "--export {tmp}/rows.txt: name a .csv or .jsonl file"),
    (["--export", "{tmp}/output.jsonl"], "{tmp}/output.jsonl: is a file of the batch itself"),
    (["--export", "{tmp}/no/such/rows.csv"], "{tmp}/no/such/rows.csv"),
    (["--input", "{tmp}/input.jsonl", "--errors", "{tmp}/input.jsonl", "--export", "{tmp}/rows.csv"],
     "both hold requests"),
])
def test_view_export_problems_are_one_line(files, env, tmp_path, args, says):
    _, output, _ = files
    done = batchtui("view", str(output), *(a.format(tmp=tmp_path) for a in args), env=env, check=False)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("batchtui: ") and done.stderr.count("\n") == 1
    assert says.format(tmp=tmp_path) in done.stderr
    assert not (tmp_path / "rows.csv").exists()

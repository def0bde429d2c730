"""What a viewer makes of real files named or merged the wrong way: files taken for what their lines hold,
repeated custom_ids marked as duplicates, why a request failed kept whole in exports, and a one-line preview of
JSON answers."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
import pytest

from batchtui.core.results.export import export_results
from batchtui.core.results.index import ResultFileError, ResultFiles, arrange_files, build_index, file_holds
from batchtui.core.results.records import answer_preview, error_text


def request(cid: str, text: str = "Hi") -> dict:
    return {"custom_id": cid, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}}


def result(cid: str, answer: str = "Hello") -> dict:
    choice = {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
    body = {"object": "chat.completion", "choices": [choice], "usage": {"total_tokens": 7}}
    return {"id": f"batch_req_{cid}", "custom_id": cid, "response": {"status_code": 200, "body": body}, "error": None}


def write(path: Path, lines: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


@pytest.fixture
def pair(tmp_path) -> tuple[Path, Path]:
    requests = write(tmp_path / "input.jsonl", [request("a"), request("b")])
    results = write(tmp_path / "output.jsonl", [result("a"), result("b")])
    return requests, results


def test_files_are_told_by_their_lines(pair, tmp_path):
    requests, results = pair
    (tmp_path / "blank.jsonl").write_text("\n\nnot json\n")
    assert file_holds(requests) == "requests" and file_holds(results) == "results"
    assert file_holds(tmp_path / "blank.jsonl") is None


def test_an_input_named_as_output_alone_or_swapped_is_taken_as_the_input(pair):
    requests, results = pair
    assert arrange_files(ResultFiles(output=requests)) == ResultFiles(input=requests)
    assert arrange_files(ResultFiles(input=results, output=requests)) == ResultFiles(input=requests, output=results)
    assert arrange_files(ResultFiles(input=results)) == ResultFiles(output=results)
    right = ResultFiles(input=requests, output=results)
    assert arrange_files(right) == right
    index = build_index(arrange_files(ResultFiles(input=results, output=requests)))
    try:
        assert [index.status_label(row) for row in range(len(index))] == ["ok", "ok"]
    finally:
        index.close()


def test_files_that_cannot_be_placed_are_named_in_one_line(pair, tmp_path):
    requests, results = pair
    other = write(tmp_path / "more.jsonl", [request("c")])
    with pytest.raises(ResultFileError, match=r"more.jsonl and .*input.jsonl both hold requests") as caught:
        arrange_files(ResultFiles(input=other, output=requests))
    assert "\n" not in str(caught.value)
    third = write(tmp_path / "third.jsonl", [result("c")])
    with pytest.raises(ResultFileError, match="name at most two result files"):
        arrange_files(ResultFiles(input=third, output=results, errors=results))


def test_repeated_custom_ids_of_a_hand_merged_output_are_duplicates(tmp_path):
    merged = write(tmp_path / "merged.jsonl", [result("a"), result("b"), result("a", "again"), result("a", "thrice")])
    index = build_index(ResultFiles(output=merged))
    try:
        assert [index.status_label(row) for row in range(len(index))] == ["ok", "ok", "ok duplicate", "ok duplicate"]
        assert [index.duplicate_of(row) for row in range(len(index))] == [None, None, 0, 0]
    finally:
        index.close()


def test_a_repeated_result_for_one_request_is_a_duplicate(pair, tmp_path):
    requests, _ = pair
    merged = write(tmp_path / "merged.jsonl", [result("a"), result("b"), result("b", "again")])
    index = build_index(ResultFiles(input=requests, output=merged))
    try:
        assert [index.status_label(row) for row in range(len(index))] == ["ok", "ok", "ok duplicate"]
        assert index.duplicate_of(2) == 1
    finally:
        index.close()


EMBEDDING_ERROR = {  # as OpenAI wrote it in a real embeddings error file: the code is null
    "id": "batch_req_1", "custom_id": "post-5897",
    "response": {"status_code": 400, "request_id": "req_1", "body": {"error": {
        "message": "This model's maximum context length is 8192 tokens, however you requested 9000 tokens.",
        "type": "invalid_request_error", "param": None, "code": None}}},
    "error": None,
}
CODED_ERROR = {"id": "batch_req_2", "custom_id": "r-2", "response": None,
               "error": {"code": "batch_expired", "message": "This request could not be executed before the "
                                                            "completion window expired."}}


def test_error_text_keeps_why_a_request_failed():
    assert error_text(orjson.dumps(EMBEDDING_ERROR)) == EMBEDDING_ERROR["response"]["body"]["error"]["message"]
    assert error_text(orjson.dumps(CODED_ERROR)) == ("batch_expired: This request could not be executed before the "
                                                     "completion window expired.")
    assert error_text(orjson.dumps(result("a"))) == ""
    assert error_text(b"not json") == ""


def test_csv_export_error_column_holds_code_and_message(tmp_path):
    errors = write(tmp_path / "errors.jsonl", [EMBEDDING_ERROR, CODED_ERROR, result("fine")])
    index = build_index(ResultFiles(errors=errors))
    try:
        export_results(index, range(len(index)), tmp_path / "out.csv")
    finally:
        index.close()
    with (tmp_path / "out.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["error"] for row in rows] == [
        "This model's maximum context length is 8192 tokens, however you requested 9000 tokens.",
        "batch_expired: This request could not be executed before the completion window expired.",
        "",
    ]


@pytest.mark.parametrize(("answer", "preview"), [
    ('```json\n{\n  "label": "positive",\n  "score": 0.9\n}\n```', '{"label":"positive","score":0.9}'),
    ('[\n  {"id": 1},\n  {"id": 2}\n]', '[{"id":1},{"id":2}]'),
    ('```json\n{"a": 1}\n```\nThat is all.', '{"a":1}'),
    ('```json\n{"cut": "off', '{"cut": "off'),
    ("```python\nprint(1)\n```", "print(1)"),
    ("\nPlain text\nsecond line", "Plain text"),
    ("", ""),
])
def test_answer_preview_is_one_useful_line(answer, preview):
    assert answer_preview(answer) == preview

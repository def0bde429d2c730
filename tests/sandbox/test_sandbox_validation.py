"""Input-file validation (failed batches naming the first bad line) and create-time 400/404s."""

from __future__ import annotations

import openai
import pytest
from sandbox_helpers import jsonl, request_line, start_batch, upload, wait_for


def _good(n: int = 5) -> list:
    return [request_line(i) for i in range(n)]


def _with(line_no: int, bad, n: int = 5) -> list:
    lines = _good(n)
    lines[line_no - 1] = bad
    return lines


def _without(key: str) -> dict:
    line = request_line(2)
    del line[key]
    return line


BAD_FILES = {
    "invalid_json": (_with(3, b'{"custom_id": "req-2", "method": "POST",'), "invalid_json_line", 3, None),
    "not_an_object": (_with(2, b"[1, 2, 3]"), "invalid_json_line", 2, None),
    "missing_custom_id": (_with(3, _without("custom_id")), "missing_required_parameter", 3, "custom_id"),
    "missing_method": (_with(3, _without("method")), "missing_required_parameter", 3, "method"),
    "missing_url": (_with(3, _without("url")), "missing_required_parameter", 3, "url"),
    "missing_body": (_with(3, _without("body")), "missing_required_parameter", 3, "body"),
    "duplicate_custom_id": (_with(4, request_line(1)), "duplicate_custom_id", 4, "custom_id"),
    "url_mismatch": (_with(2, request_line(1, url="/v1/embeddings")), "invalid_url", 2, "url"),
    "model_mismatch": (
        _with(5, request_line(4, body={"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]})),
        "mismatched_model",
        5,
        "body.model",
    ),
    "streaming": (
        _with(2, request_line(1, body={"model": "gpt-4o-mini", "messages": [], "stream": True})),
        "streaming_unsupported",
        2,
        "body.stream",
    ),
    "missing_model": (
        _with(3, request_line(2, body={"messages": [{"role": "user", "content": "hi"}]})),
        "invalid_request",
        3,
        "body.model",
    ),
    "empty_file": ([], "empty_file", None, None),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
async def test_a_bad_input_file_fails_the_batch_naming_the_first_bad_line(client, case):
    lines, code, line_no, param = BAD_FILES[case]
    batch = await start_batch(client, lines)
    done = await wait_for(client, batch.id)

    assert done.status == "failed" and done.failed_at is not None
    assert done.in_progress_at is None and done.completed_at is None
    assert done.errors.object == "list" and len(done.errors.data) == 1
    error = done.errors.data[0]
    assert (error.code, error.line, error.param) == (code, line_no, param)
    assert error.message
    assert done.request_counts.model_dump() == {"total": 0, "completed": 0, "failed": 0}
    assert done.output_file_id is None and done.error_file_id is None


async def test_more_than_50000_requests_fails_at_line_50001(client):
    lines = [b'{"custom_id":"r%d","method":"POST","url":"/v1/embeddings","body":{"model":"m","input":"x"}}' % i
             for i in range(50_001)]  # fmt: skip
    batch = await start_batch(client, lines, endpoint="/v1/embeddings")
    done = await wait_for(client, batch.id, within=60)
    assert done.status == "failed"
    assert (done.errors.data[0].code, done.errors.data[0].line) == ("too_many_tasks", 50_001)


async def test_uploading_a_non_jsonl_file_for_batch_is_a_400(client):
    with pytest.raises(openai.BadRequestError) as err:
        await upload(client, jsonl(_good()), name="requests.csv")
    assert err.value.body["message"] == "Invalid file format for Batch API. Must be .jsonl"
    assert err.value.body["type"] == "invalid_request_error"
    ok = await upload(client, b"a,b\n", name="notes.csv", purpose="user_data")
    assert ok.purpose == "user_data"


async def test_create_with_a_missing_input_file_is_a_404_naming_input_file_id(client):
    with pytest.raises(openai.NotFoundError) as err:
        await client.batches.create(
            input_file_id="file-doesnotexist", endpoint="/v1/chat/completions", completion_window="24h"
        )
    assert err.value.param == "input_file_id"
    assert err.value.body["message"] == "No such File object: file-doesnotexist"


async def test_create_with_a_file_not_for_batch_is_a_400(client):
    f = await upload(client, jsonl(_good()), purpose="user_data")
    with pytest.raises(openai.BadRequestError) as err:
        await client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert err.value.param == "input_file_id"


@pytest.mark.parametrize(
    ("override", "param", "code"),
    [
        ({"endpoint": "/v1/audio/speech"}, "endpoint", "invalid_value"),
        ({"completion_window": "48h"}, "completion_window", "invalid_value"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", "object_above_max_properties"),
        ({"metadata": {"k" * 65: "v"}}, "metadata", "string_above_max_length"),
        ({"metadata": {"note": "v" * 513}}, "metadata.note", "string_above_max_length"),
        (
            {"output_expires_after": {"anchor": "created_at", "seconds": 60}},
            "output_expires_after.seconds",
            "integer_below_min_value",
        ),
    ],  # fmt: skip
)
async def test_bad_create_params_are_400s_naming_the_param(client, override, param, code):
    f = await upload(client, jsonl(_good()))
    args = {"input_file_id": f.id, "endpoint": "/v1/chat/completions", "completion_window": "24h", **override}
    with pytest.raises(openai.BadRequestError) as err:
        await client.batches.create(**args)
    assert (err.value.param, err.value.code) == (param, code)


async def test_sixteen_metadata_pairs_at_the_limits_are_accepted(client):
    f = await upload(client, jsonl(_good()))
    metadata = {f"{i:02d}" + "k" * 62: "v" * 512 for i in range(16)}
    batch = await client.batches.create(
        input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h", metadata=metadata
    )
    assert batch.metadata == metadata

"""Input-file validation (failed batches naming every bad line, unknown models) and create-time 400/404s."""

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


async def test_every_bad_line_is_listed_once_in_line_order(client):
    lines = _good(10)
    lines[1] = _without("body")
    lines[3] = b"not json"
    lines[4] = _without("custom_id")
    lines[6] = request_line(6, url="/v1/embeddings")
    lines[8] = request_line(0)  # custom_id req-0 again
    lines[9] = request_line(9, method="GET", url="/v1/embeddings")  # two faults: the first one checked is named
    done = await wait_for(client, (await start_batch(client, lines)).id)

    assert done.status == "failed"
    assert [(e.code, e.line, e.param) for e in done.errors.data] == [
        ("missing_required_parameter", 2, "body"),
        ("invalid_json_line", 4, None),
        ("missing_required_parameter", 5, "custom_id"),
        ("invalid_url", 7, "url"),
        ("duplicate_custom_id", 9, "custom_id"),
        ("invalid_request", 10, "method"),
    ]
    assert done.request_counts.total == 0 and done.output_file_id is None


async def test_more_than_1000_bad_lines_list_the_first_1000_and_the_last_says_how_many(client):
    lines = [request_line(i) if i % 2 else _without("body") for i in range(2_600)]
    done = await wait_for(client, (await start_batch(client, lines)).id)

    errors = done.errors.data
    assert len(errors) == 1_000
    assert [e.line for e in errors] == list(range(1, 2_000, 2))
    assert {e.code for e in errors} == {"missing_required_parameter"}
    assert errors[0].message == "Missing required parameter: 'body'."
    assert errors[-1].message == (
        "Missing required parameter: 'body'. This file has 1,300 lines with errors; only the first 1,000 are listed."
    )


async def test_a_whole_file_error_is_the_only_error(client):
    lines = [b"not json"] * 3 + [request_line(i) for i in range(3, 50_001)]
    done = await wait_for(client, (await start_batch(client, lines)).id, within=60)
    assert [(e.code, e.line) for e in done.errors.data] == [("too_many_tasks", 50_001)]


UNKNOWN = "The provided model '{}' is not supported by the Batch API."


async def test_an_unknown_model_fails_the_batch_with_model_not_found(client):
    chat = [{"role": "user", "content": "hi"}]
    lines = [request_line(0, body={"messages": chat})] + [
        request_line(i, body={"model": "gpt-4o-mini-typo", "messages": chat}) for i in range(1, 4)
    ]
    done = await wait_for(client, (await start_batch(client, lines)).id)

    assert done.status == "failed" and done.in_progress_at is None
    assert [(e.code, e.line, e.param, e.message) for e in done.errors.data] == [
        ("invalid_request", 1, "body.model", "Missing required parameter: 'model'."),
        ("model_not_found", 2, "body.model", UNKNOWN.format("gpt-4o-mini-typo")),
    ]  # one error for the model, at the line that names it first


@pytest.mark.parametrize(
    ("endpoint", "model", "body"),
    [
        ("/v1/chat/completions", "gpt-4o-mini-2024-07-18", {"messages": [{"role": "user", "content": "hi"}]}),
        ("/v1/chat/completions", "o3", {"messages": [{"role": "user", "content": "hi"}]}),
        ("/v1/responses", "gpt-5-mini", {"input": "hi"}),
        ("/v1/embeddings", "text-embedding-3-large", {"input": "hi"}),
        ("/v1/moderations", "omni-moderation-latest", {"input": "hi"}),
        ("/v1/images/generations", "gpt-image-1", {"prompt": "a cat"}),
        ("/v1/images/generations", "dall-e-3", {"prompt": "a cat"}),
        ("/v1/videos", "sora-2-pro", {"prompt": "a cat"}),
    ],
)
async def test_known_models_and_their_dated_snapshots_are_served(client, endpoint, model, body):
    lines = [request_line(i, url=endpoint, body={"model": model, **body}) for i in range(2)]
    done = await wait_for(client, (await start_batch(client, lines, endpoint=endpoint)).id)
    assert done.status == "completed", done.errors


async def test_a_server_serves_the_models_it_is_given_besides_the_catalogue(make_server, client_for):
    client = client_for(make_server(models=("acme-llm-1",)))
    chat = [{"role": "user", "content": "hi"}]
    own = await start_batch(client, [request_line(i, body={"model": "acme-llm-1", "messages": chat}) for i in range(2)])
    other = await start_batch(client, [request_line(0, body={"model": "acme-llm-2", "messages": chat})])
    assert (await wait_for(client, own.id)).status == "completed"
    refused = await wait_for(client, other.id)
    assert [(e.code, e.line, e.message) for e in refused.errors.data] == [
        ("model_not_found", 1, UNKNOWN.format("acme-llm-2"))
    ]
    await client.close()


async def test_more_than_50000_requests_fails_at_line_50001(client):
    lines = [b'{"custom_id":"r%d","method":"POST","url":"/v1/embeddings","body":{"model":"text-embedding-3-small",'
             b'"input":"x"}}' % i for i in range(50_001)]  # fmt: skip
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

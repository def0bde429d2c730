"""The fake model's answers parse into the SDK's own types, are deterministic, and read plausibly."""

from __future__ import annotations

import pytest
from openai.types import Completion, CreateEmbeddingResponse, ImagesResponse, ModerationCreateResponse, Video
from openai.types.chat import ChatCompletion
from openai.types.responses import Response
from sandbox_helpers import read_lines, request_line, start_batch, wait_for

CASES = {
    "/v1/chat/completions": (
        ChatCompletion,
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Summarize the plot of Hamlet briefly."}]},
    ),
    "/v1/responses": (Response, {"model": "gpt-4.1", "input": "Explain why the sky looks blue at noon."}),
    "/v1/embeddings": (CreateEmbeddingResponse, {"model": "text-embedding-3-small", "input": ["a red apple", "pear"]}),
    "/v1/completions": (Completion, {"model": "gpt-3.5-turbo-instruct", "prompt": "Write a tagline for coffee"}),
    "/v1/moderations": (ModerationCreateResponse, {"model": "omni-moderation-latest", "input": "I will hurt you"}),
    "/v1/images/generations": (ImagesResponse, {"model": "gpt-image-1", "prompt": "a lighthouse at dusk"}),
    "/v1/videos": (Video, {"model": "sora-2", "prompt": "waves on a beach"}),
}
VOLATILE = {"created", "created_at", "completed_at", "expires_at"}


def _stable(body):
    if isinstance(body, dict):
        return {k: _stable(v) for k, v in body.items() if k not in VOLATILE}
    if isinstance(body, list):
        return [_stable(v) for v in body]
    return body


@pytest.mark.parametrize("endpoint", CASES)
async def test_each_endpoint_answers_bodies_of_the_sdk_type(client, endpoint):
    sdk_type, body = CASES[endpoint]
    lines = [request_line(i, url=endpoint, body=body) for i in range(3)]
    done = await wait_for(client, (await start_batch(client, lines, endpoint=endpoint)).id)
    assert done.status == "completed" and done.request_counts.completed == 3
    outputs = await read_lines(client, done.output_file_id)
    for line in outputs:
        parsed = sdk_type.model_validate(line["response"]["body"])
        assert parsed is not None
    again = await wait_for(client, (await start_batch(client, lines, endpoint=endpoint)).id)
    by_id = {line["custom_id"]: _stable(line["response"]["body"]) for line in outputs}
    assert {
        line["custom_id"]: _stable(line["response"]["body"]) for line in await read_lines(client, again.output_file_id)
    } == by_id  # noqa: E501


async def test_chat_answers_echo_the_prompt_with_plausible_usage(client):
    prompt = "Summarize the customer complaint about the delayed espresso machine delivery"
    body = {"model": "gpt-4.1", "messages": [{"role": "user", "content": prompt}], "max_tokens": 400}
    done = await wait_for(client, (await start_batch(client, [request_line(0, body=body)])).id)
    (line,) = await read_lines(client, done.output_file_id)
    completion = ChatCompletion.model_validate(line["response"]["body"])
    text = completion.choices[0].message.content
    assert any(word in text for word in ("customer", "complaint", "espresso", "delivery", "delayed"))
    assert completion.model.startswith("gpt-4.1")
    assert 10 <= completion.usage.prompt_tokens <= 30
    assert completion.usage.completion_tokens == done.usage.output_tokens


async def test_moderation_flags_an_insult(client):
    body = {"model": "omni-moderation-latest", "input": "Shut up, you idiot"}
    lines = [request_line(0, url="/v1/moderations", body=body)]
    done = await wait_for(client, (await start_batch(client, lines, endpoint="/v1/moderations")).id)
    (line,) = await read_lines(client, done.output_file_id)
    result = ModerationCreateResponse.model_validate(line["response"]["body"]).results[0]
    assert result.flagged and result.categories.harassment


async def test_a_retried_request_fails_again_only_at_the_fail_rate_with_a_new_request_id(make_server, client_for):
    client = client_for(make_server(fail_rate=0.5))
    lines = [request_line(i) for i in range(200)]
    first = await wait_for(client, (await start_batch(client, lines)).id)
    failed = {line["custom_id"] for line in await read_lines(client, first.error_file_id)}
    assert 60 <= len(failed) <= 140
    retry = await wait_for(client, (await start_batch(client, [li for li in lines if li["custom_id"] in failed])).id)
    assert retry.request_counts.total == len(failed)
    assert 0 < retry.request_counts.failed < len(failed) * 0.8, "a retry must be able to succeed"
    request_ids = {}
    for done in (first, retry):
        for line in await read_lines(client, done.output_file_id) + await read_lines(client, done.error_file_id):
            request_ids.setdefault(line["custom_id"], []).append(line["response"]["request_id"])
    assert all(len(set(ids)) == len(ids) for ids in request_ids.values())
    assert all(i.startswith("req_") and len(i) == 36 for ids in request_ids.values() for i in ids)


async def test_random_failures_are_openais_500s_and_safety_400s(make_server, client_for):
    client = client_for(make_server(fail_rate=1.0))
    done = await wait_for(client, (await start_batch(client, [request_line(i) for i in range(60)])).id)
    assert done.status == "completed" and done.request_counts.failed == 60
    errors = [line["response"] for line in await read_lines(client, done.error_file_id)]
    by_status = {}
    for response in errors:
        by_status.setdefault(response["status_code"], []).append(response["body"]["error"])
    assert set(by_status) == {400, 500}
    assert {(e["type"], e["code"], e["param"]) for e in by_status[400]} == {
        ("invalid_request_error", "content_policy_violation", None)
    }
    assert {(e["type"], e["code"], e["param"], e["message"]) for e in by_status[500]} == {
        ("server_error", None, None, "The server had an error while processing your request. Sorry about that!")
    }


async def test_embeddings_and_moderations_fail_at_random_only_with_500s(make_server, client_for):
    client = client_for(make_server(fail_rate=1.0))
    body = {"model": "text-embedding-3-small", "input": "a red apple"}
    lines = [request_line(i, url="/v1/embeddings", body=body) for i in range(30)]
    done = await wait_for(client, (await start_batch(client, lines, endpoint="/v1/embeddings")).id)
    assert {line["response"]["status_code"] for line in await read_lines(client, done.error_file_id)} == {500}


def _chat(content: str, **params) -> dict:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **params}


async def test_requests_openai_refuses_fail_with_its_error_even_at_fail_rate_zero(client):
    long_prompt = " ".join(["word"] * 100_000)  # 130,000 tokens as the sandbox counts them, +7 for the message
    bodies = [
        _chat("What is the capital of France?", temperature=5),
        _chat("What is the capital of France?", top_p=-0.5),
        _chat("What is the capital of France?", temperature=-1),
        _chat(long_prompt),
        _chat("What is the capital of France?", temperature=0.7),
    ]
    lines = [request_line(i, body=body) for i, body in enumerate(bodies)]
    done = await wait_for(client, (await start_batch(client, lines)).id, within=60)
    errors = {line["custom_id"]: line["response"] for line in await read_lines(client, done.error_file_id)}
    assert done.request_counts.failed == 4 and set(errors) == {"req-0", "req-1", "req-2", "req-3"}
    assert {(r["status_code"], r["body"]["error"]["type"]) for r in errors.values()} == {(400, "invalid_request_error")}
    found = {cid: r["body"]["error"] for cid, r in errors.items()}
    assert found["req-0"] == {
        "message": "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 5 instead.",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": "decimal_above_max_value",
    }
    assert (found["req-1"]["param"], found["req-1"]["code"]) == ("top_p", "decimal_below_min_value")
    assert "got -0.5 instead" in found["req-1"]["message"]
    assert (found["req-2"]["param"], found["req-2"]["code"]) == ("temperature", "decimal_below_min_value")
    assert found["req-3"] == {
        "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in "
        "130007 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }


async def test_a_reasoning_model_refuses_a_temperature_other_than_1(client):
    body = {"model": "o4-mini", "messages": [{"role": "user", "content": "What is a photon?"}]}
    lines = [request_line(0, body={**body, "temperature": 0.2}), request_line(1, body={**body, "temperature": 1})]
    done = await wait_for(client, (await start_batch(client, lines)).id)
    (line,) = await read_lines(client, done.error_file_id)
    assert line["custom_id"] == "req-0" and done.request_counts.completed == 1
    assert line["response"]["body"]["error"] == {
        "message": "Unsupported value: 'temperature' does not support 0.2 with this model. "
        "Only the default (1) value is supported.",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": "unsupported_value",
    }


async def test_context_length_is_judged_per_model_and_endpoint(client):
    long_text = " ".join(["word"] * 7_000)  # 9,100 tokens: past an embedding model's 8,192, far inside gpt-4.1's
    embed = [request_line(0, url="/v1/embeddings", body={"model": "text-embedding-3-small", "input": long_text})]
    done = await wait_for(client, (await start_batch(client, embed, endpoint="/v1/embeddings")).id)
    (line,) = await read_lines(client, done.error_file_id)
    assert line["response"]["body"]["error"]["message"] == (
        "This model's maximum context length is 8192 tokens, however you requested 9100 tokens (9100 in your "
        "prompt; 0 for the completion). Please reduce your prompt; or completion length."
    )
    chat = [request_line(0, body={"model": "gpt-4.1", "messages": [{"role": "user", "content": long_text}]})]
    done = await wait_for(client, (await start_batch(client, chat)).id)
    assert done.request_counts.completed == 1

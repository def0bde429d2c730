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

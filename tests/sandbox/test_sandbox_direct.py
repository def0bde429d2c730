"""The synchronous endpoints answer with the fake model through the official SDK, with OpenAI's errors, and a
`curl` copied from the result viewer replays a batch request against the sandbox."""

from __future__ import annotations

import os
import shutil
import subprocess

import httpx2
import openai
import orjson
import pytest
from openai.types import Completion, CreateEmbeddingResponse, ModerationCreateResponse
from openai.types.chat import ChatCompletion
from openai.types.responses import Response
from sandbox_helpers import read_lines, request_line, start_batch, wait_for

from batchtui.core.results.curl import curl_command

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Summarize the plot of Hamlet briefly."}]}


async def test_each_endpoint_answers_through_the_sdk(client):
    chat = await client.chat.completions.create(**CHAT)
    assert isinstance(chat, ChatCompletion) and chat.object == "chat.completion"
    assert chat.model == "gpt-4o-mini-2024-07-18" and chat.choices[0].finish_reason == "stop"
    assert "Hamlet" in chat.choices[0].message.content and chat.usage.prompt_tokens > 0

    response = await client.responses.create(model="gpt-4.1", input="Explain why the sky looks blue at noon.")
    assert isinstance(response, Response) and response.status == "completed"
    assert "sky" in response.output_text and response.usage.input_tokens > 0

    embedded = await client.embeddings.create(model="text-embedding-3-small", input=["a red apple", "pear"])
    assert isinstance(embedded, CreateEmbeddingResponse) and len(embedded.data) == 2
    assert len(embedded.data[0].embedding) == 1536  # the SDK asks for base64 and decodes it

    completion = await client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Write a tagline for coffee")
    assert isinstance(completion, Completion) and completion.choices[0].text.strip()

    moderation = await client.moderations.create(input="Shut up, you idiot")
    assert isinstance(moderation, ModerationCreateResponse) and moderation.results[0].categories.harassment


async def test_a_direct_answer_has_the_body_of_a_batch_line(client):
    direct = await client.chat.completions.with_raw_response.create(**CHAT)
    assert direct.headers["x-request-id"].startswith("req_")
    body = orjson.loads(direct.content)
    done = await wait_for(client, (await start_batch(client, [request_line(0, body=CHAT)])).id)
    (line,) = await read_lines(client, done.output_file_id)
    batched = line["response"]["body"]
    assert body.keys() == batched.keys() and body["usage"] == batched["usage"]
    assert body["choices"][0].keys() == batched["choices"][0].keys()
    again = orjson.loads((await client.chat.completions.with_raw_response.create(**CHAT)).content)
    assert again["choices"] == body["choices"], "the same request gets the same answer"


async def test_errors_come_with_openais_status_and_body(client, sandbox):
    with pytest.raises(openai.BadRequestError) as bad:
        await client.chat.completions.create(**CHAT, temperature=5)
    assert bad.value.status_code == 400 and bad.value.code == "decimal_above_max_value"
    assert bad.value.param == "temperature" and "got 5 instead" in bad.value.message

    with pytest.raises(openai.BadRequestError) as reasoning:
        await client.responses.create(model="o4-mini", input="What is a photon?", temperature=0.2)
    assert (reasoning.value.code, reasoning.value.param) == ("unsupported_parameter", "temperature")

    with pytest.raises(openai.BadRequestError) as streaming:
        await client.chat.completions.create(**CHAT, stream=True)
    assert "Streaming is not supported by the sandbox" in streaming.value.message and streaming.value.param == "stream"

    with pytest.raises(openai.BadRequestError) as missing:
        await client.embeddings.create(model="text-embedding-3-small", input=None)  # type: ignore[arg-type]
    assert missing.value.code == "missing_required_parameter" and missing.value.param == "input"

    stats = httpx2.get(sandbox.base_url.removesuffix("/v1") + "/_sandbox/stats").json()
    assert stats["chat.completions.create"] >= 2 and stats["embeddings.create"] >= 1


async def test_fail_rate_applies_to_direct_requests(make_server, client_for):
    client = client_for(make_server(fail_rate=1.0))
    statuses = set()
    for _ in range(40):
        with pytest.raises((openai.InternalServerError, openai.BadRequestError)) as failed:
            await client.chat.completions.create(**CHAT)
        statuses.add(failed.value.status_code)
        assert failed.value.response.headers["x-request-id"].startswith("req_")
    assert statuses == {400, 500}


def test_a_curl_copied_from_a_result_replays_against_the_sandbox(sandbox):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed, so the copied command cannot be run")
    line = orjson.dumps(request_line(7, body={**CHAT, "temperature": 0.3}))
    command = curl_command(line, sandbox.base_url) + " -w '\\n%{http_code}'"
    env = {**os.environ, "OPENAI_API_KEY": "sk-test"}
    run = subprocess.run(command, shell=True, env=env, capture_output=True, text=True, timeout=30, check=False)
    assert run.returncode == 0, run.stderr
    body, status = run.stdout.rsplit("\n", 1)
    assert status == "200"
    assert ChatCompletion.model_validate_json(body).choices[0].message.content

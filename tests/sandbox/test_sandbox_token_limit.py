"""The enqueued-token limit as OpenAI applies it: the input tokens of an organization's queued and running batches
of one model are capped, and a batch past the cap fails at validation with token_limit_exceeded; the cap is set at
start or through /_sandbox/limits, and /_sandbox/stats counts the batches it failed."""

from __future__ import annotations

import httpx2
import pytest
from sandbox_helpers import request_line, start_batch, wait_for

LIMIT_MESSAGE = (
    "Enqueued token limit reached for {model} in organization org-sandbox. Limit: {limit:,} enqueued tokens. "
    "Please try submitting your batch again later."
)


def lines_of(model: str, n: int = 40) -> list[dict]:
    chat = [{"role": "user", "content": f"Describe the history of item {i}."} for i in range(n)]
    return [request_line(i, body={"model": model, "messages": [chat[i]]}) for i in range(n)]


async def test_a_batch_past_the_limit_of_its_model_fails_until_the_running_one_ends(client, make_server, client_for):
    done = await wait_for(client, (await start_batch(client, lines_of("gpt-4o-mini"))).id)
    tokens = done.usage.input_tokens  # as the fake model counts them for usage
    server = make_server(speed=8.0, enqueued_token_limit=tokens)  # 40 lines stay in progress for 2.5 s
    slow = client_for(server)

    running = await start_batch(slow, lines_of("gpt-4o-mini"))  # exactly at the limit: it runs
    await wait_for(slow, running.id, until=lambda b: b.status == "in_progress")
    over = await start_batch(slow, lines_of("gpt-4o-mini"))
    dated = await start_batch(slow, lines_of("gpt-4o-mini-2024-07-18"))  # the same model by its snapshot's name
    other = await start_batch(slow, lines_of("gpt-4.1"))  # another model has a limit of its own

    failed = await wait_for(slow, over.id)
    assert failed.status == "failed" and failed.in_progress_at is None
    assert [e.model_dump() for e in failed.errors.data] == [{
        "code": "token_limit_exceeded", "line": None, "param": None,
        "message": LIMIT_MESSAGE.format(model="gpt-4o-mini", limit=tokens),
    }]  # fmt: skip
    assert (await wait_for(slow, dated.id)).errors.data[0].code == "token_limit_exceeded"
    assert (await wait_for(slow, other.id, until=lambda b: b.status != "validating")).status == "in_progress"
    assert server.stats()["batches_failed.token_limit_exceeded"] == 2

    await slow.batches.cancel(running.id)
    await wait_for(slow, running.id)
    again = await start_batch(slow, lines_of("gpt-4o-mini"))
    assert (await wait_for(slow, again.id, until=lambda b: b.status != "validating")).status == "in_progress"
    await slow.close()


async def test_the_limit_is_set_and_lifted_through_the_admin_routes(make_server, client_for):
    server = make_server()
    client = client_for(server)
    admin = server.base_url.removesuffix("/v1") + "/_sandbox/limits"
    async with httpx2.AsyncClient() as http:
        assert (await http.get(admin)).json() == {"enqueued_token_limit": None}
        assert (await http.post(admin, json={"enqueued_token_limit": 5})).json() == {"enqueued_token_limit": 5}
        failed = await wait_for(client, (await start_batch(client, lines_of("gpt-4o-mini", 2))).id)
        assert failed.errors.data[0].message == LIMIT_MESSAGE.format(model="gpt-4o-mini", limit=5)
        assert (await http.post(admin, json={"enqueued_token_limit": None})).json() == {"enqueued_token_limit": None}
        assert (await http.get(admin)).json() == {"enqueued_token_limit": None}
    done = await wait_for(client, (await start_batch(client, lines_of("gpt-4o-mini", 2))).id)
    assert done.status == "completed"
    stats = server.stats()
    assert (stats["batches.create"], stats["batches_failed.token_limit_exceeded"]) == (2, 1)  # beside route counts
    await client.close()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"enqueued_token_limit": 0}, "enqueued_token_limit must be a whole number >= 1 or null, got 0"),
        ({"enqueued_token_limit": "9"}, "enqueued_token_limit must be a whole number >= 1 or null, got '9'"),
        ({"enqueued_token_limit": True}, "enqueued_token_limit must be a whole number >= 1 or null, got True"),
        ({"tokens": 9}, "bad limit field 'tokens': expected enqueued_token_limit"),
    ],
)
async def test_a_bad_limit_is_a_400_naming_the_field(make_server, body, message):
    server = make_server(enqueued_token_limit=100)
    admin = server.base_url.removesuffix("/v1") + "/_sandbox/limits"
    async with httpx2.AsyncClient() as http:
        refused = await http.post(admin, json=body)
        assert refused.status_code == 400
        assert refused.json()["error"]["message"] == message
        assert (await http.get(admin)).json() == {"enqueued_token_limit": 100}


async def test_a_request_the_model_refuses_counts_no_tokens_and_the_batch_runs(make_server, client_for):
    client = client_for(make_server(enqueued_token_limit=100))
    too_long = {"model": "gpt-3.5-turbo-instruct", "prompt": "word " * 5_000}  # past its 4,096-token context
    lines = [request_line(0, url="/v1/completions", body=too_long),
             request_line(1, url="/v1/completions", body={"model": "gpt-3.5-turbo-instruct", "prompt": "Say hi."})]
    done = await wait_for(client, (await start_batch(client, lines, endpoint="/v1/completions")).id)
    assert done.status == "completed", done.errors
    assert (done.request_counts.completed, done.request_counts.failed) == (1, 1)
    await client.close()

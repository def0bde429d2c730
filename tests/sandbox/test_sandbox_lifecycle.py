"""A batch's life through the official SDK: progress, results, cancel, expiry, per-line failures."""

from __future__ import annotations

import httpx2
import openai
import pytest
from sandbox_helpers import TERMINAL, read_lines, request_line, start_batch, wait_for


async def test_good_batch_runs_from_validating_to_completed_with_all_results(client):
    lines = [request_line(i) for i in range(1000)]
    created = await start_batch(client, lines, metadata={"description": "whole life"})
    assert created.status == "validating"
    assert created.expires_at == created.created_at + 86400
    seen = []
    done = await wait_for(client, created.id, seen=seen)

    assert done.status == "completed", done.errors
    statuses = [b.status for b in seen]
    assert "in_progress" in statuses
    progress = [b.request_counts.completed for b in seen if b.status == "in_progress"]
    assert len(set(progress)) > 1 and progress == sorted(progress)
    assert done.request_counts.model_dump() == {"total": 1000, "completed": 1000, "failed": 0}
    assert done.model == "gpt-4o-mini-2024-07-18"  # the dated snapshot, as OpenAI names it
    assert done.metadata == {"description": "whole life"}
    usage = done.usage
    assert usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    stamps = [done.created_at, done.in_progress_at, done.finalizing_at, done.completed_at]
    assert None not in stamps and stamps == sorted(stamps)
    assert done.failed_at is done.cancelled_at is done.expired_at is None
    assert done.error_file_id is None

    out_file = await client.files.retrieve(done.output_file_id)
    assert out_file.purpose == "batch_output"
    assert out_file.filename == f"{done.id}_output.jsonl"
    out = await read_lines(client, done.output_file_id)
    ids = [line["custom_id"] for line in out]
    assert sorted(ids) == sorted(f"req-{i}" for i in range(1000))
    assert ids != [f"req-{i}" for i in range(1000)], "output must not keep input order"
    first = out[0]
    assert first["id"].startswith("batch_req_") and first["error"] is None
    assert first["response"]["status_code"] == 200
    assert first["response"]["request_id"].startswith("req_")
    assert first["response"]["body"]["object"] == "chat.completion"
    assert sum(line["response"]["body"]["usage"]["prompt_tokens"] for line in out) == usage.input_tokens


async def test_fail_rate_sends_a_share_of_lines_to_the_error_file_and_still_completes(make_server, client_for):
    client = client_for(make_server(fail_rate=0.3))
    batch = await start_batch(client, [request_line(i) for i in range(200)])
    done = await wait_for(client, batch.id)

    counts = done.request_counts
    assert done.status == "completed"
    assert counts.total == 200 and counts.completed + counts.failed == 200
    assert 30 <= counts.failed <= 90
    errors = await read_lines(client, done.error_file_id)
    outputs = await read_lines(client, done.output_file_id)
    assert len(errors) == counts.failed and len(outputs) == counts.completed
    for line in errors:
        assert line["error"] is None
        status, error = line["response"]["status_code"], line["response"]["body"]["error"]
        assert (status, error["type"]) in ((400, "invalid_request_error"), (500, "server_error"))
        assert set(error) == {"message", "type", "param", "code"}
    assert {line["custom_id"] for line in errors}.isdisjoint(line["custom_id"] for line in outputs)


async def test_cancel_keeps_finished_lines_and_marks_the_rest_batch_cancelled(client):
    batch = await start_batch(client, [request_line(i) for i in range(4000)])
    await wait_for(client, batch.id, until=lambda b: b.request_counts.completed >= 100)

    cancelling = await client.batches.cancel(batch.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
    done = await wait_for(client, batch.id)

    assert done.status == "cancelled" and done.cancelled_at >= done.cancelling_at
    outputs = await read_lines(client, done.output_file_id)
    errors = await read_lines(client, done.error_file_id)
    assert 100 <= len(outputs) < 4000
    assert len(outputs) == done.request_counts.completed
    assert len(outputs) + len(errors) == 4000
    assert {e["error"]["code"] for e in errors} == {"batch_cancelled"}
    assert all(e["response"] is None for e in errors)
    assert len({line["custom_id"] for line in outputs + errors}) == 4000


async def test_cancelling_a_finished_batch_is_a_409_as_on_openai(client):
    batch = await start_batch(client, [request_line(i) for i in range(3)])
    await wait_for(client, batch.id)
    with pytest.raises(openai.ConflictError) as err:
        await client.batches.cancel(batch.id)
    assert err.value.status_code == 409
    assert err.value.body == {"message": "Cannot cancel a batch with status 'completed'.",
                              "type": "invalid_request_error", "param": None, "code": None}


async def test_expire_now_keeps_finished_lines_and_marks_the_rest_batch_expired(sandbox, client):
    batch = await start_batch(client, [request_line(i) for i in range(4000)])
    await wait_for(client, batch.id, until=lambda b: b.request_counts.completed >= 50)

    sandbox.expire_now(batch.id)
    done = await client.batches.retrieve(batch.id)

    assert done.status == "expired" and done.expired_at is not None
    outputs = await read_lines(client, done.output_file_id)
    errors = await read_lines(client, done.error_file_id)
    assert len(outputs) == done.request_counts.completed >= 50
    assert len(outputs) + len(errors) == 4000
    expected = {
        "code": "batch_expired",
        "message": "This request could not be executed before the completion window expired.",
    }
    assert all(e["error"] == expected and e["response"] is None for e in errors)


async def test_expire_through_the_admin_route(sandbox, client):
    batch = await start_batch(client, [request_line(i) for i in range(4000)])
    async with httpx2.AsyncClient() as http:
        answer = await http.post(sandbox.base_url.removesuffix("/v1") + f"/_sandbox/batches/{batch.id}/expire")
    assert answer.status_code == 200 and answer.json()["status"] == "expired"
    assert (await client.batches.retrieve(batch.id)).status == "expired"


async def test_listing_more_than_100_batches_pages_newest_first(make_server, client_for):
    client = client_for(make_server())
    f = await client.files.create(file=("one.jsonl", b""), purpose="batch")
    created = [
        (await client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")).id
        for _ in range(130)
    ]

    first = await client.batches.list()
    assert len(first.data) == 20 and first.has_more
    page = await client.batches.list(limit=100)
    assert page.has_more and page.first_id == created[-1] and page.last_id == page.data[-1].id
    listed = [b.id async for b in client.batches.list(limit=100)]
    assert listed == created[::-1]
    last = await client.batches.list(limit=100, after=page.last_id)
    assert len(last.data) == 30 and not last.has_more and last.last_id == created[0]
    for limit in (0, 101):
        with pytest.raises(openai.BadRequestError) as err:
            await client.batches.list(limit=limit)
        assert err.value.param == "limit"


async def test_a_batch_progresses_without_being_polled(client):
    batch = await start_batch(client, [request_line(i) for i in range(50)])
    import asyncio

    await asyncio.sleep(1.0)
    done = await client.batches.retrieve(batch.id)
    assert done.status in TERMINAL and done.status == "completed"

"""The demo account, and state that survives a restart with data_dir (including mid-batch)."""

from __future__ import annotations

from collections import Counter

from openai.types.chat import ChatCompletion
from sandbox_helpers import read_lines, request_line, start_batch, wait_for

STATUSES = {"validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling", "cancelled"}


async def test_seed_demo_has_every_status_with_real_files(make_server, client_for):
    client = client_for(make_server(speed=1.0, seed_demo=True))
    batches = [b async for b in client.batches.list(limit=100)]

    statuses = Counter(b.status for b in batches)
    assert set(statuses) == STATUSES
    assert 25 <= len(batches) <= 40 and statuses["completed"] >= len(batches) // 2
    assert len({b.endpoint for b in batches}) >= 4 and len({b.model for b in batches}) >= 4
    created = [b.created_at for b in batches]
    assert created == sorted(created, reverse=True) and created[0] - created[-1] > 14 * 86400
    assert all(b.metadata and b.metadata["description"] for b in batches)
    for b in batches:
        if b.status == "failed":
            assert b.errors.data[0].code and b.errors.data[0].line
    done = next(b for b in batches if b.status == "completed" and b.endpoint == "/v1/chat/completions")
    outputs = await read_lines(client, done.output_file_id)
    assert len(outputs) == done.request_counts.completed
    ChatCompletion.model_validate(outputs[0]["response"]["body"])
    stopped = next(b for b in batches if b.status == "cancelled")
    codes = {line["error"]["code"] for line in await read_lines(client, stopped.error_file_id) if line["error"]}
    assert codes == {"batch_cancelled"}
    live = next(b for b in batches if b.status == "in_progress")
    assert 0 < live.request_counts.completed < live.request_counts.total


async def test_seed_demo_is_deterministic(make_server, client_for):
    first = [b async for b in client_for(make_server(seed_demo=True)).batches.list(limit=100)]
    second = [b async for b in client_for(make_server(seed_demo=True)).batches.list(limit=100)]
    assert [b.id for b in first] == [b.id for b in second]
    assert [b.metadata for b in first] == [b.metadata for b in second]


async def test_state_persists_across_restart(make_server, client_for, tmp_path):
    first = make_server(data_dir=tmp_path)
    client = client_for(first)
    done = await wait_for(client, (await start_batch(client, [request_line(i) for i in range(20)])).id)
    outputs = await read_lines(client, done.output_file_id)
    first.stop()

    client = client_for(make_server(data_dir=tmp_path))
    assert await client.batches.retrieve(done.id) == done
    assert await read_lines(client, done.output_file_id) == outputs
    assert [b.id async for b in client.batches.list()] == [done.id]
    assert {f.id for f in (await client.files.list()).data} == {done.input_file_id, done.output_file_id}


async def test_a_batch_interrupted_by_a_restart_resumes_without_losing_or_repeating_lines(
    make_server, client_for, tmp_path
):
    first = make_server(data_dir=tmp_path, speed=200.0)
    client = client_for(first)
    batch = await start_batch(client, [request_line(i) for i in range(1500)])
    await wait_for(client, batch.id, until=lambda b: b.request_counts.completed >= 300)
    first.stop()

    client = client_for(make_server(data_dir=tmp_path, speed=5000.0))
    resumed = await client.batches.retrieve(batch.id)
    assert resumed.status in ("in_progress", "finalizing", "completed")
    assert resumed.request_counts.completed >= 300
    done = await wait_for(client, batch.id)
    ids = [line["custom_id"] for line in await read_lines(client, done.output_file_id)]
    assert sorted(ids) == sorted(f"req-{i}" for i in range(1500))

"""Files expire as OpenAI's do: an asked-for expiry (upload's expires_after, a batch's output_expires_after)
passes on the sandbox's clock and the file is then gone (404, unlisted), the default 30 days pass on the wall
clock; purpose `evals` is taken, and an upload over 512 MiB gets OpenAI's 413."""

from __future__ import annotations

import asyncio
import time

import openai
import pytest
from sandbox_helpers import jsonl, request_line, start_batch, wait_for

from batchtui.sandbox.params import MAX_UPLOAD_BYTES
from batchtui.sandbox.store import BatchRecord, FileRecord, Store

SPEED = 2000.0  # an hour on the sandbox's clock is 1.8 s
HOUR = {"anchor": "created_at", "seconds": 3600}


async def gone(client: openai.AsyncOpenAI, file_id: str, within: float = 10.0) -> None:
    """Wait until the file answers 404, as OpenAI's does once deleted at its expiry."""
    deadline = time.monotonic() + within
    while True:
        try:
            await client.files.retrieve(file_id)
        except openai.NotFoundError:
            return
        assert time.monotonic() < deadline, f"{file_id} still there after {within} s"
        await asyncio.sleep(0.1)


async def test_an_upload_given_an_expiry_is_gone_after_it_on_the_sandboxs_clock(make_server, client_for):
    client = client_for(make_server(speed=SPEED))
    content = jsonl([request_line(0)])
    asked = await client.files.create(file=("soon.jsonl", content), purpose="batch", expires_after=HOUR)
    kept = await client.files.create(file=("kept.jsonl", content), purpose="batch")
    assert asked.expires_at == asked.created_at + 3600 and kept.expires_at == kept.created_at + 30 * 86400
    assert (await client.files.content(asked.id)).content == content

    await gone(client, asked.id)
    with pytest.raises(openai.NotFoundError) as err:
        await client.files.content(asked.id)
    assert err.value.body["message"] == f"No such File object: {asked.id}"
    with pytest.raises(openai.NotFoundError):
        await client.files.delete(asked.id)
    with pytest.raises(openai.NotFoundError) as err:
        await client.batches.create(input_file_id=asked.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert err.value.body["param"] == "input_file_id"
    assert [f.id for f in (await client.files.list()).data] == [kept.id], "the default 30 days pass on the wall clock"
    assert (await client.files.content(kept.id)).content == content


async def test_output_expires_after_sets_the_result_files_expiry_and_they_go(make_server, client_for):
    client = client_for(make_server(speed=SPEED, fail_rate=0.5))
    batch = await start_batch(client, [request_line(i) for i in range(60)], output_expires_after=HOUR)
    done = await wait_for(client, batch.id)
    assert done.status == "completed" and done.output_file_id and done.error_file_id
    for file_id in (done.output_file_id, done.error_file_id):
        info = await client.files.retrieve(file_id)
        assert info.expires_at == info.created_at + 3600
    for file_id in (done.output_file_id, done.error_file_id):
        await gone(client, file_id)
    after = await client.batches.retrieve(batch.id)
    assert (after.output_file_id, after.error_file_id) == (done.output_file_id, done.error_file_id)
    assert (await client.files.retrieve(batch.input_file_id)).id == batch.input_file_id


def test_a_running_batchs_input_outlives_its_expiry_until_the_batch_ends(tmp_path):
    store = Store(tmp_path)
    now = time.time()
    for name in ("running", "idle"):
        store.add_file(FileRecord(id=f"file-{name}", bytes=0, created_at=int(now), filename=f"{name}.jsonl",
                                  purpose="batch", expires_at=int(now) + 3600, gone_at=now - 1))
    running = BatchRecord(id="batch_1", endpoint="/v1/chat/completions", input_file_id="file-running",
                          completion_window="24h", status="in_progress", created_at=int(now))
    store.add_batch(running)
    store.drop_expired(now)
    assert list(store.files) == ["file-running"]
    running.status = "completed"
    store.drop_expired(now)
    assert not store.files and not list((tmp_path / "meta/files").iterdir())
    assert Store(tmp_path).files == {}, "the deletion is on disk, not only in memory"


async def test_purpose_evals_is_taken(client):
    uploaded = await client.files.create(file=("cases.jsonl", b'{"item": {"q": "2+2"}}\n'), purpose="evals")
    assert uploaded.purpose == "evals" and uploaded.expires_at is None


async def test_an_upload_over_512_mib_is_refused_as_openai_refuses_it(client, tmp_path):
    sparse = tmp_path / "huge.jsonl"
    with sparse.open("wb") as out:
        out.truncate(MAX_UPLOAD_BYTES + 1)  # no disk used; the SDK streams it
    with sparse.open("rb") as body, pytest.raises(openai.APIStatusError) as err:
        await client.files.create(file=body, purpose="batch")
    assert err.value.status_code == 413 and err.value.body["type"] == "server_error"
    read = int(err.value.response.request.headers["content-length"])
    assert err.value.body["message"] == f"Maximum content size limit ({MAX_UPLOAD_BYTES}) exceeded ({read} bytes read)"
    assert not any(f.filename == "huge.jsonl" for f in (await client.files.list()).data)


async def test_a_direct_request_for_an_unknown_model_is_model_not_found(client):
    with pytest.raises(openai.NotFoundError) as err:
        await client.chat.completions.create(model="gpt-9-imaginary", messages=[{"role": "user", "content": "hi"}])
    assert err.value.body == {
        "message": "The model `gpt-9-imaginary` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }
    answered = await client.chat.completions.create(model="gpt-4o-mini-2024-07-18",
                                                    messages=[{"role": "user", "content": "hi"}])
    assert answered.choices[0].message.content

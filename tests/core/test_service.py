"""The API service and incremental sync against a real sandbox server, through the official SDK."""

from __future__ import annotations

import openai
import pytest

from batchtui.core.api.client import BatchService, make_openai_client
from batchtui.core.config import Profile
from batchtui.core.errors import AuthError, NotFoundError, RateLimitedError, UnreachableError
from batchtui.core.workspace import Workspace
from batchtui.sandbox import FaultConfig, SandboxConfig, SandboxServer


async def start(workspace: Workspace, path, **kwargs):
    uploaded = await workspace.service.upload(path)
    return await workspace.service.create(uploaded.id, "/v1/chat/completions", **kwargs)


@pytest.fixture
async def workspace(sandbox_profile, tmp_path):
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "cache") as ws:
        yield ws


async def test_upload_create_and_fetch_results(workspace, write_batch_file, tmp_path):
    seen = []
    path = write_batch_file(20)
    uploaded = await workspace.service.upload(path, progress=lambda done, total: seen.append((done, total)))
    assert uploaded.purpose == "batch" and uploaded.bytes == path.stat().st_size
    assert seen and seen[-1] == (uploaded.bytes, uploaded.bytes)
    batch = await workspace.service.create(uploaded.id, "/v1/chat/completions", metadata={"description": "t"})
    done = await workspace.wait_for(batch.id, 1)
    assert done.status == "completed" and done.request_counts.completed == 20
    files = await workspace.fetch_results(done, tmp_path / "out")
    assert [f.kind for f in files] == ["output"]
    output = files[0].path.read_text().splitlines()
    assert len(output) == 20
    assert await workspace.cache.get_download(done.output_file_id) == files[0]
    again = await workspace.fetch_results(done, tmp_path / "out")
    assert again == files


@pytest.fixture
async def watcher(sandbox_profile, tmp_path):
    """A second workspace on the same sandbox: it waits for batches, so the one under test learns of them only by
    syncing."""
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "watcher") as ws:
        yield ws


async def test_incremental_sync_costs_calls_for_new_and_active_batches_only(workspace, watcher, fresh_sandbox,
                                                                            write_batch_file):
    small = await workspace.service.upload(write_batch_file(1, name="one.jsonl"))
    first = [await workspace.service.create(small.id, "/v1/chat/completions") for _ in range(150)]
    for batch in first:
        await watcher.wait_for(batch.id, 1)

    fresh_sandbox.reset_stats()
    result = await workspace.refresh()
    assert len(result.changed) == 150 and result.listed == 150
    assert fresh_sandbox.stats().get("batches.list") == 2  # 100 + 50, the whole account once
    assert not fresh_sandbox.stats().get("batches.retrieve")
    assert len(await workspace.cache.list_batches()) == 150

    fresh_sandbox.reset_stats()
    result = await workspace.refresh()
    assert result.changed == [] and result.listed == 0
    assert fresh_sandbox.stats() == {"batches.list": 1}

    big = await workspace.service.upload(write_batch_file(20_000, name="big.jsonl"))
    slow = await workspace.service.create(big.id, "/v1/chat/completions")
    quick = await workspace.service.create(small.id, "/v1/chat/completions")
    await watcher.wait_for(quick.id, 1)
    fresh_sandbox.reset_stats()
    result = await workspace.refresh()
    assert set(result.changed) == {slow.id, quick.id} and result.active == 1
    assert fresh_sandbox.stats() == {"batches.list": 1}

    newer = await workspace.service.create(small.id, "/v1/chat/completions")
    await watcher.wait_for(newer.id, 1)
    fresh_sandbox.reset_stats()
    result = await workspace.refresh()
    assert newer.id in result.changed and result.refreshed == 1
    assert fresh_sandbox.stats() == {"batches.list": 1, "batches.retrieve": 1}
    observations = await workspace.cache.observations(slow.id)
    assert len(observations) >= 2 and observations[-1].total == 20_000
    await workspace.service.cancel(slow.id)


async def test_interrupted_download_leaves_no_file(workspace, fresh_sandbox, write_batch_file, tmp_path):
    batch = await workspace.wait_for((await start(workspace, write_batch_file(2000))).id, 1)
    info = await workspace.service.retrieve_file(batch.output_file_id)
    dest = tmp_path / "dl" / "out.jsonl"
    fresh_sandbox.set_faults(FaultConfig(rate_drop=1.0))
    with pytest.raises(UnreachableError):
        await workspace.service.download(batch.output_file_id, dest, size=info.bytes)
    fresh_sandbox.set_faults(FaultConfig())
    assert list(dest.parent.iterdir()) == []
    await workspace.service.download(batch.output_file_id, dest, size=info.bytes)
    assert dest.stat().st_size == info.bytes


async def test_api_failures_become_typed_errors_with_a_sentence(fresh_sandbox, tmp_path):
    no_key = Profile(name="t", base_url=fresh_sandbox.base_url)
    async with await Workspace.open(no_key, cache_dir=tmp_path / "a") as ws:
        assert await ws.batches() == []  # the cache opens without a key
        with pytest.raises(AuthError, match="No API key for profile 't'"):
            await ws.refresh()
    with SandboxServer(SandboxConfig(speed=1000, api_key="sk-right")) as guarded:
        wrong = Profile(name="t", base_url=guarded.base_url, api_key="sk-wrong-key-123")
        async with await Workspace.open(wrong, cache_dir=tmp_path / "w") as ws:
            with pytest.raises(AuthError, match="refused") as caught:
                await ws.service.retrieve("batch_nope")
            assert "sk-wrong-key-123" not in str(caught.value)
    good = Profile(name="t", base_url=fresh_sandbox.base_url, api_key="sk-test")
    async with await Workspace.open(good, cache_dir=tmp_path / "b", max_retries=0) as ws:
        with pytest.raises(NotFoundError, match="batch_nope"):
            await ws.service.retrieve("batch_nope")
        fresh_sandbox.set_faults(FaultConfig(rate_429=1.0))
        with pytest.raises(RateLimitedError) as limited:
            await ws.service.retrieve("batch_nope")
        assert limited.value.retry_after == 0.1  # retry-after-ms: 100 wins over retry-after: 1
    fresh_sandbox.stop()
    async with await Workspace.open(good, cache_dir=tmp_path / "c", max_retries=0) as ws:
        with pytest.raises(UnreachableError, match="Cannot reach"):
            await ws.refresh()


async def test_files_list_and_delete(workspace, write_batch_file):
    uploaded = await workspace.upload(write_batch_file(3))
    assert uploaded.id in [f.id for f in await workspace.service.list_files(purpose="batch")]
    assert await workspace.cache.get_file(uploaded.id) == uploaded
    await workspace.delete_file(uploaded.id)
    assert await workspace.cache.get_file(uploaded.id) is None
    assert uploaded.id not in [f.id for f in await workspace.service.list_files()]
    with pytest.raises(NotFoundError, match=uploaded.id):
        await workspace.service.retrieve_file(uploaded.id)


async def test_the_key_never_reaches_the_cache(fresh_sandbox, write_batch_file, tmp_path):
    secret = "sk-proj-SECRETvalue1234567890"
    profile = Profile(name="t", base_url=fresh_sandbox.base_url, api_key=secret)
    async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
        batch = await ws.start_batch((await ws.upload(write_batch_file(5))).id, "/v1/chat/completions")
        await ws.fetch_results(await ws.wait_for(batch.id, 1))
        await ws.refresh()
    stored = [p.read_bytes() for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert stored and not any(secret.encode() in data for data in stored)


async def test_slow_api_is_a_timeout_sentence(fresh_sandbox):
    fresh_sandbox.set_faults(FaultConfig(rate_slow=1.0, slow_seconds=2))
    profile = Profile(name="t", base_url=fresh_sandbox.base_url, api_key="sk-test", timeout=0.3, max_retries=0)
    async with BatchService(profile) as service:
        with pytest.raises(UnreachableError, match="did not answer in time"):
            await service.retrieve("batch_x")


def test_azure_profiles_use_the_azure_client():
    profile = Profile(name="az", kind="azure", azure_endpoint="https://example.openai.azure.com",
                      api_version="2025-04-01-preview", api_key="az-key")
    client = make_openai_client(profile)
    assert isinstance(client, openai.AsyncAzureOpenAI)
    assert str(client.base_url).startswith("https://example.openai.azure.com/openai")


async def test_head_stops_at_lines_or_bytes_and_translates_errors(workspace, write_batch_file):
    path = write_batch_file(40)
    uploaded = await workspace.service.upload(path)
    content = path.read_bytes()
    head = await workspace.service.head(uploaded.id, max_lines=3, max_bytes=1 << 20)
    assert head.count(b"\n") >= 3 and content.startswith(head)
    assert await workspace.service.head(uploaded.id, max_lines=100, max_bytes=10) == content[:10]
    assert await workspace.service.head(uploaded.id, max_lines=100, max_bytes=1 << 20) == content
    lines = await workspace.preview_lines(uploaded.id, 3)
    assert lines == content.decode().splitlines()[:3]
    with pytest.raises(NotFoundError):
        await workspace.service.head("file-missing", max_lines=3, max_bytes=100)

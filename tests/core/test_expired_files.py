"""A file the API no longer has (expired, or deleted): a copy cached here still opens and is named as expired;
with no copy, one line says why it cannot be opened."""

from __future__ import annotations

import time

import pytest
from openai import AsyncOpenAI

from batchtui.core.api.models import FileObject
from batchtui.core.errors import NotFoundError
from batchtui.core.timetext import clock
from batchtui.core.workspace import Workspace


async def gone_on_the_api(ws: Workspace, tmp_path, *, expired: bool) -> FileObject:
    """A file uploaded from here, then deleted on the API behind the cache's back (as OpenAI deletes an expired
    one); the cache's copy of its object says it expired a minute ago, if `expired`."""
    path = tmp_path / "in.jsonl"
    path.write_text('{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {}}\n')
    uploaded = await ws.upload(path)
    sdk = AsyncOpenAI(base_url=ws.profile.base_url, api_key="sk-test")
    await sdk.files.delete(uploaded.id)
    if expired:
        uploaded = FileObject.from_dict({**uploaded.to_dict(), "expires_at": int(time.time()) - 60})
        await ws.cache.upsert_files([uploaded])
    return uploaded


@pytest.mark.parametrize("expired", [True, False])
async def test_a_file_in_neither_place_says_so_in_one_line(sandbox_profile, tmp_path, expired):
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "cache") as ws:
        file = await gone_on_the_api(ws, tmp_path, expired=expired)
        with pytest.raises(NotFoundError) as err:
            await ws.file_copy(file.id, "input")
    why = f"expired on the API at {clock(file.expires_at)}" if expired else "is no longer on the API"
    assert str(err.value) == f"The input file {file.id} {why}, and no copy of it is cached here."


async def test_a_cached_copy_still_opens_and_is_named_expired(sandbox_profile, tmp_path):
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "cache") as ws:
        path = tmp_path / "in.jsonl"
        path.write_text('{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {}}\n')
        uploaded = await ws.upload(path)
        copy = await ws.file_copy(uploaded.id, "input")
        await AsyncOpenAI(base_url=ws.profile.base_url, api_key="sk-test").files.delete(uploaded.id)
        expired = FileObject.from_dict({**uploaded.to_dict(), "expires_at": int(time.time()) - 60})
        await ws.cache.upsert_files([expired])
        assert await ws.file_copy(uploaded.id, "input") == copy and copy.read_text() == path.read_text()
        assert [f.id for f in await ws.expired_on_api([uploaded.id, "file-unknown"])] == [uploaded.id]

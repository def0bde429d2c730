"""A server that answers the Batch and Files API with wrong types and huge values, or pages without end: batchtui
keeps working through the official SDK, showing what it can, and a sync of many pages holds one page in memory."""

from __future__ import annotations

import asyncio
import os
import time
import tracemalloc

import pytest
from cli_helpers import batchtui
from fake_api import FakeApi, Request, fake_api

from batchtui.core.config import Profile
from batchtui.core.errors import BatchtuiError
from batchtui.core.insights.stats import batch_stats
from batchtui.core.listing import group_counts
from batchtui.core.workspace import Workspace
from batchtui.tui.app import BatchtuiApp
from batchtui.tui.widgets.batch_list import BatchList

NOW = 1_760_000_000
HUGE = "d" * 10_000_000


def good_batch(batch_id: str, created_at: int = NOW, status: str = "completed") -> dict:
    return {"id": batch_id, "object": "batch", "endpoint": "/v1/chat/completions", "errors": None,
            "input_file_id": "file-in", "completion_window": "24h", "status": status, "output_file_id": None,
            "error_file_id": None, "created_at": created_at, "in_progress_at": None, "expires_at": created_at + 86400,
            "completed_at": None, "failed_at": None, "expired_at": None, "cancelling_at": None, "cancelled_at": None,
            "request_counts": {"total": 3, "completed": 2, "failed": 1}, "metadata": {"description": "fine"}}


HOSTILE_BATCHES = [
    {**good_batch("batch_counts_null"), "request_counts": None},
    {**good_batch("batch_counts_bad"), "request_counts": {"total": "x", "completed": 1, "failed": 0}},
    {**good_batch("batch_created_x"), "created_at": "x", "expires_at": 1e300, "completed_at": -5},
    {**good_batch("batch_unknown_status"), "status": "paused_by_the_moon"},
    {**good_batch("batch_status_number"), "status": 7, "endpoint": None, "input_file_id": ["x"]},
    {**good_batch("batch_huge_metadata"), "metadata": {"description": HUGE, **{f"k{i}": str(i) for i in range(40)},
                                                     "n": 5, "k" * 100: "long key"}},
    {**good_batch("batch_bad_parts"), "errors": "oops", "usage": {"input_tokens": "many"}, "model": 4,
     "in_progress_at": "soon", "extra_field": HUGE},
    {**good_batch("batch_float_time"), "created_at": NOW - 0.5},
    {**good_batch("ignored"), "id": None},
    {**good_batch("ignored"), "id": {"a": 1}},
    "not even an object",
]
HOSTILE_FILES = [
    {"id": "file-bytes-x", "object": "file", "bytes": "x", "created_at": NOW, "filename": None, "purpose": "batch",
     "status": "processed"},
    {"id": "file-weird", "object": 3, "bytes": 10, "created_at": "yesterday", "filename": ["a"],
     "purpose": "telepathy", "status": None, "expires_at": "never", "status_details": {"a": 1}},
    {"id": 17, "bytes": 1},
]


def hostile(request: Request):
    if request.path == "/v1/batches":
        return 200, {"object": "list", "data": HOSTILE_BATCHES, "has_more": False}
    if request.path.startswith("/v1/batches/"):
        wanted = request.path.rsplit("/", 1)[-1]
        return 200, next(b for b in HOSTILE_BATCHES if isinstance(b, dict) and b["id"] == wanted)
    if request.path == "/v1/files":
        return 200, {"object": "list", "data": HOSTILE_FILES, "has_more": False}
    return 404, {"error": {"message": "no such thing", "type": "invalid_request_error"}}


@pytest.fixture
def hostile_api():
    with fake_api(hostile) as api:
        yield api


async def test_wrong_types_and_huge_values_leave_what_can_be_shown(hostile_api, tmp_path):
    profile = Profile(name="t", base_url=hostile_api.base_url, api_key="sk-test", max_retries=0)
    async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
        result = await ws.refresh()
        cached = {b.id: b for b in await ws.batches()}
        fetched = await ws.fetch_batch("batch_created_x")
        files = {f.id: f for f in await ws.refresh_files()}

    valid = [b["id"] for b in HOSTILE_BATCHES if isinstance(b, dict) and isinstance(b["id"], str)]
    assert result.listed == len(valid) and set(cached) == set(valid)
    assert cached["batch_counts_null"].request_counts is None
    assert cached["batch_counts_bad"].request_counts is None
    assert fetched.created_at == cached["batch_created_x"].created_at == 0
    assert fetched.expires_at is None and fetched.completed_at is None
    assert cached["batch_unknown_status"].status == "paused_by_the_moon"
    odd = cached["batch_status_number"]
    assert (odd.status, odd.endpoint, odd.input_file_id) == ("", "", "")
    metadata = cached["batch_huge_metadata"].metadata
    assert len(metadata) == 16 and metadata["description"] == "d" * 512
    assert all(isinstance(v, str) and len(k) <= 64 and len(v) <= 512 for k, v in metadata.items())
    bad = cached["batch_bad_parts"]
    assert (bad.errors, bad.usage, bad.model, bad.in_progress_at) == (None, None, None, None)
    assert "extra_field" not in bad.to_dict()
    assert cached["batch_float_time"].created_at == NOW - 1
    assert cached["batch_counts_null"] == cached["batch_counts_null"].from_dict(HOSTILE_BATCHES[0])

    assert set(files) == {"file-bytes-x", "file-weird"}
    assert (files["file-bytes-x"].bytes, files["file-bytes-x"].filename) == (0, "")
    weird = files["file-weird"]
    assert (weird.purpose, weird.created_at, weird.filename, weird.status, weird.expires_at) == (
        "telepathy", 0, "", "", None)

    # what the screens compute from them
    batches = list(cached.values())
    assert sum(group_counts(batches).values()) >= len(batches)
    assert batch_stats(batches, now=time.time()).finished >= 1


async def test_the_app_and_the_cli_show_the_batches_they_can(hostile_api, isolated_home, tmp_path):
    app = BatchtuiApp(Profile(name="t", base_url=hostile_api.base_url, api_key="sk-test", max_retries=0),
                      cache_dir=tmp_path / "cache")
    async with app.run_test() as pilot:
        for _ in range(100):
            if app.sync_status.state == "synced":
                break
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        assert app.sync_status.state == "synced", app.sync_status
        shown = {row.id for row in app.screen.query_one(BatchList).rows}
        assert "batch_unknown_status" in shown and "batch_created_x" in shown
        app.open_batch("batch_unknown_status")
        await pilot.pause(0.5)
        assert app.is_running
    env = {**os.environ, "OPENAI_BASE_URL": hostile_api.base_url, "OPENAI_API_KEY": "sk-test",
           "BATCHTUI_HOME": str(isolated_home)}
    listed = await asyncio.to_thread(batchtui, "list-batches", env=env)
    assert "batch_unknown_status" in listed.stdout and listed.stderr == ""


def paging(total: int, *, circle: bool = False):
    """A server listing `total` batches newest first in pages; with `circle`, its cursor never moves on."""
    template = good_batch("batch_{:07d}")

    def handle(request: Request):
        if request.path != "/v1/batches":
            return 404, {"error": {"message": "no"}}
        limit = int(request.query.get("limit", 20))
        after = request.query.get("after")
        start = 0 if after is None or circle else int(after.removeprefix("batch_")) + 1
        ids = range(start, min(total, start + limit))
        page = [{**template, "id": f"batch_{i:07d}", "created_at": NOW - i} for i in ids]
        return 200, {"object": "list", "data": page, "has_more": circle or start + limit < total}

    return handle


async def test_a_server_that_pages_in_a_circle_ends_the_listing(tmp_path):
    with fake_api(paging(250, circle=True)) as api:
        profile = Profile(name="t", base_url=api.base_url, api_key="sk-test", max_retries=0)
        async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
            result = await asyncio.wait_for(ws.refresh(), 30)
        assert result.listed <= 200 and api.count("GET", "/v1/batches") == 2


async def sync_many(api: FakeApi, cache_dir) -> tuple[int, float, int]:
    """(batches cached, seconds, peak bytes Python allocated) for a first sync of the whole account."""
    profile = Profile(name="t", base_url=api.base_url, api_key="sk-test", max_retries=0)
    async with await Workspace.open(profile, cache_dir=cache_dir) as ws:
        tracemalloc.start()
        started = time.perf_counter()
        await ws.refresh()
        took = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return len(await ws.cache.list_batches()), took, peak


async def test_a_sync_of_many_batches_holds_a_page_at_a_time(tmp_path):
    total = 5_000
    with fake_api(paging(total)) as api:
        count, took, peak = await sync_many(api, tmp_path / "cache")
    print(f"\nsync of {total:,} batches from a loopback server: {took:.1f} s (traced), peak {peak / 1e6:.1f} MB")
    assert count == total and api.count("GET", "/v1/batches") == total // 100
    assert peak < 8e6, peak  # one page of models and JSON, not the whole account


async def test_a_pass_cut_off_midway_reports_what_it_stored_the_next_time(tmp_path):
    pages = paging(250)
    broken = [True]

    def handle(request: Request):
        if broken[0] and "after" in request.query:
            return 500, {"error": {"message": "down", "type": "server_error"}}
        return pages(request)

    with fake_api(handle) as api:
        profile = Profile(name="t", base_url=api.base_url, api_key="sk-test", max_retries=0)
        async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
            with pytest.raises(BatchtuiError):
                await ws.refresh()
            assert len(await ws.cache.list_batches()) == 100  # the first page is stored, but no pass said so
            broken[0] = False
            first, second = await ws.refresh(), await ws.refresh()
    assert len(first.changed) == 250 and second.changed == []

"""A cache file of random bytes, cut in half, or from a newer batchtui: set aside (its bytes kept) and rebuilt."""

from __future__ import annotations

import json
import os
import random
import sqlite3
from pathlib import Path

import pytest
from cli_helpers import batchtui
from openai import OpenAI
from pilot_helpers import Notes

from batchtui.core.cache.store import SCHEMA_VERSION
from batchtui.core.config import resolve_profile
from batchtui.core.workspace import Workspace
from batchtui.tui.app import BatchtuiApp

BATCHES = 6
KINDS = ("random-bytes", "truncated", "newer-schema")


@pytest.fixture
def account(fresh_sandbox, monkeypatch, write_batch_file) -> list[str]:
    """The sandbox holds BATCHES batches; OPENAI_* point this process and the CLI's at it. Their ids."""
    monkeypatch.setenv("OPENAI_BASE_URL", fresh_sandbox.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    client = OpenAI(base_url=fresh_sandbox.base_url, api_key="sk-test")
    requests = write_batch_file(50)
    ids = []
    for _ in range(BATCHES):
        uploaded = client.files.create(file=requests, purpose="batch")
        ids.append(client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                         completion_window="24h").id)
    return ids


async def spoil(path: Path, kind: str) -> bytes:
    """Make a real, filled cache at `path` and spoil it the `kind` way; the spoiled bytes."""
    async with await Workspace.open(resolve_profile(None), cache_dir=path.parent) as workspace:
        await workspace.refresh()
        for batch in await workspace.batches():
            await workspace.import_batch(batch)
    if kind == "random-bytes":
        path.write_bytes(random.Random(7).randbytes(path.stat().st_size))
    elif kind == "truncated":
        with path.open("r+b") as handle:
            handle.truncate(path.stat().st_size // 2)
    else:
        with sqlite3.connect(path) as conn:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.close()
    return path.read_bytes()


def set_aside_copy(cache: Path, kind: str) -> Path:
    label = "newer-schema" if kind == "newer-schema" else "damaged"
    (aside,) = [p for p in cache.parent.iterdir() if p.name.startswith(f"cache.db.{label}-") and "-wal" not in p.name
                and "-shm" not in p.name]
    return aside


@pytest.mark.parametrize("kind", KINDS)
async def test_cli_sets_a_spoiled_cache_aside_and_rebuilds_it(account, isolated_home, kind):
    cache = resolve_profile(None).cache_dir() / "cache.db"
    spoiled = await spoil(cache, kind)

    done = batchtui("list-batches", "--json", env=dict(os.environ))

    aside = set_aside_copy(cache, kind)
    assert aside.read_bytes() == spoiled
    assert done.stderr.count("batchtui: The cache file") == 1 and f"moved it to {aside.name}" in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert sorted(b["id"] for b in json.loads(done.stdout)) == sorted(account)
    assert batchtui("list-batches", env=dict(os.environ)).stderr == ""  # said once, then the new cache is used
    print(f"\n{kind}: CLI set {len(spoiled):,} bytes aside as {aside.name} and listed {len(account)} batches")


@pytest.mark.parametrize("kind", KINDS)
async def test_app_sets_a_spoiled_cache_aside_and_rebuilds_it(account, tmp_path, kind):
    cache = tmp_path / "app" / "cache.db"
    spoiled = await spoil(cache, kind)

    app, shown = BatchtuiApp(resolve_profile(None), cache_dir=cache.parent), Notes()
    async with app.run_test(message_hook=shown.hear) as pilot:
        for _ in range(200):
            if len(app.batches) == BATCHES and app.sync_status.state == "synced":
                break
            await pilot.pause(0.05)
        assert sorted(b.id for b in app.batches) == sorted(account)
        notes = shown.messages
        aside = set_aside_copy(cache, kind)
        assert [n for n in notes if "cache" in n] == [
            f"The cache file {cache} {'was written by a newer batchtui' if kind == 'newer-schema' else 'was damaged'}; "
            f"moved it to {aside.name} and started a new one, filled from the API."
        ]
        assert app.sync_status.state == "synced"
    assert aside.read_bytes() == spoiled
    print(f"\n{kind}: app set {len(spoiled):,} bytes aside as {aside.name} and listed {len(account)} batches")

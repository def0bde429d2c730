"""Two copies on one cache for half a minute (a minute in the long form): the app polling fast while CLI processes
import every batch and sync.
No "database is locked" (or any error) reaches the user, and no write is lost."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time
from pathlib import Path

from long_runs import suite_or_long
from openai import AsyncOpenAI
from pilot_helpers import Notes

from batchtui.core.api.sync import PollSchedule
from batchtui.core.config import resolve_profile
from batchtui.sandbox import SandboxConfig, SandboxServer
from batchtui.tui.app import BatchtuiApp

DURATION_S = suite_or_long(25.0, 60.0)
TERMINAL = {"completed", "failed", "expired", "cancelled"}


async def cli_loop(args: list[str], until: float, runs: list[tuple[int, str, str]]) -> None:
    """Run `batchtui ARGS` again and again until `until`; each run's (exit code, stdout, stderr)."""
    while time.monotonic() < until:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "batchtui", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await process.communicate()
        runs.append((process.returncode, out.decode(), err.decode()))


async def start_batches(client: AsyncOpenAI, requests: Path, until: float, ids: list[str]) -> None:
    while time.monotonic() < until:
        file = await client.files.create(file=requests, purpose="batch")
        batch = await client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions",
                                            completion_window="24h")
        ids.append(batch.id)
        await asyncio.sleep(1.0)


async def test_app_and_cli_share_one_cache_under_load(monkeypatch, isolated_home, write_batch_file):
    with SandboxServer(SandboxConfig(speed=50.0)) as server:  # a 40-line batch runs through its statuses in ~0.6 s
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        profile = resolve_profile(None)
        client = AsyncOpenAI(base_url=server.base_url, api_key="sk-test")
        app = BatchtuiApp(profile)
        app.poll = PollSchedule(active=0.2, idle=0.2)
        imports: list[tuple[int, str, str]] = []
        syncs: list[tuple[int, str, str]] = []
        ids: list[str] = []
        states: set[str] = set()
        passes = 0
        shown = Notes()
        async with app.run_test(message_hook=shown.hear) as pilot:
            until = time.monotonic() + DURATION_S
            work = asyncio.gather(
                cli_loop(["import-batch", "--all", "--force", "--json"], until, imports),
                cli_loop(["list-batches", "--json"], until, syncs),
                start_batches(client, write_batch_file(40), until, ids),
            )
            last_synced = None
            while not work.done():
                states.add(app.sync_status.state)
                if app.sync_status.last_synced != last_synced:
                    passes, last_synced = passes + 1, app.sync_status.last_synced
                await pilot.pause(0.05)
            await work
            await cli_loop(["import-batch", "--all", "--json"], time.monotonic() + 0.001, imports)  # sees every batch
            for batch_id in ids:  # let the last batches finish, and the app see them finish
                for _ in range(300):
                    if (await client.batches.retrieve(batch_id)).status in TERMINAL:
                        break
                    await asyncio.sleep(0.1)
            server_side = {b.id: (b.status, b.request_counts.completed) async for b in client.batches.list(limit=100)}
            for _ in range(200):
                if {b.id: (b.status, b.request_counts.completed) for b in app.batches} == server_side:
                    break
                await pilot.pause(0.05)
            notes = [n.message for n in shown.shown if n.severity == "error" or "lock" in n.message]
        await client.close()

    with sqlite3.connect(profile.cache_dir() / "cache.db") as conn:
        cached = {row[0]: (row[1], row[2]) for row in conn.execute("SELECT id, status, completed FROM batches")}
        rows = dict(conn.execute("SELECT batch_id, count(*) FROM llm_log_rows GROUP BY batch_id").fetchall())
        imported = dict(conn.execute("SELECT batch_id, rows FROM llm_log_imports").fetchall())
        observations = conn.execute("SELECT count(*) FROM observations").fetchone()[0]
    conn.close()
    failures = [run for run in imports + syncs if run[0] != 0 or run[2]]
    lost = {batch_id for batch_id, seen in server_side.items() if cached.get(batch_id) != seen}
    written = sum(result["changed"] for run in imports for result in json.loads(run[1] or "[]"))
    print(f"\ntwo copies, {DURATION_S:.0f} s: {len(ids)} batches started; app sync passes {passes}; "
          f"CLI import runs {len(imports)} ({written:,} llm_logs rows written), CLI sync runs {len(syncs)}; "
          f"observations {observations:,}; failed runs {len(failures)}; error notes {len(notes)}; lost {len(lost)}")
    assert not failures, failures[:3]
    assert not notes, notes
    assert not states & {"error", "offline", "degraded"}, states
    assert not lost, lost
    assert len(server_side) == len(ids) and imports and syncs
    assert {batch_id: n for batch_id, n in imported.items() if n} == rows
    assert set(imported) == set(server_side)

"""Faults from the network: the app live-watching a sandbox that fails a fifth of its calls, cut-off and short
downloads, and a refused key, a key without access and a wrong base_url. Every test talks to a real sandbox.

The soak prints its figures (faults injected per kind, passes, back-off gaps, convergence) for docs/reliability.md."""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import stat
import time
from pathlib import Path

import httpx2
import openai
import pytest
from cli_helpers import batchtui
from long_runs import suite_or_long
from textual.worker import Worker, WorkerState

from batchtui.core.api.models import Batch
from batchtui.core.api.sync import PollSchedule
from batchtui.core.config import Profile
from batchtui.core.domain import TERMINAL_STATUSES
from batchtui.core.errors import ConnectionLostError
from batchtui.core.workspace import Workspace
from batchtui.sandbox import FaultConfig, SandboxConfig, SandboxServer
from batchtui.sandbox.faults import FaultInjector
from batchtui.tui.app import BatchtuiApp
from batchtui.tui.screens.batch_detail import BatchDetailScreen
from batchtui.tui.sync_status import SyncStatus
from batchtui.tui.widgets.batch_list import BatchList

SOAK_SECONDS = suite_or_long(50.0, 120.0)
TIME_SCALE = SOAK_SECONDS / 120.0
"""The soak's schedule is written for its long form (2 minutes); a shorter soak runs it faster in proportion."""
POLL_SECONDS = 0.2
MAX_BACKOFF_SECONDS = 3.2
CLIENT_TIMEOUT = 1.0
SOAK_FAULTS = FaultConfig(rate_429=0.05, rate_500=0.04, rate_503=0.04, rate_drop=0.04, rate_slow=0.03,
                          slow_seconds=2 * CLIENT_TIMEOUT, seed=20261125)
"""A fifth of the calls faulted; a slow answer comes after the client's timeout, so it is a timeout."""
SPEED = 10.0 / TIME_SCALE
"""The sandbox's clock: 20 request lines a second in the long form, so batches of a few hundred lines run for tens
of seconds, the same share of the soak at any length."""
NEW_BATCH_EVERY = 15.0 * TIME_SCALE
DEAD_URL = "http://127.0.0.1:9/v1"


def status_line(app: BatchtuiApp) -> str:
    return str(app.screen.query_one("#sync-status").render())


async def start_batch(client: openai.AsyncOpenAI, path: Path) -> Batch:
    with path.open("rb") as handle:
        uploaded = await client.files.create(file=(path.name, handle), purpose="batch")
    return await client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                       completion_window="24h")


async def all_batches(client: openai.AsyncOpenAI) -> list[Batch]:
    return [batch async for batch in client.batches.list(limit=100)]


def passes_from(events: list[tuple[float, SyncStatus]]) -> list[tuple[float, float, SyncStatus]]:
    """(start, end, outcome) of each sync pass, from the app's status changes."""
    passes, started = [], None
    for at, status in events:
        if status.state == "syncing" or (status.state in ("degraded", "offline") and status.retry_at is None):
            started = at
        elif started is not None:
            passes.append((started, at, status))
            started = None
    return passes


def waits_after_failures(passes: list[tuple[float, float, SyncStatus]]) -> list[tuple[int, float]]:
    """(failures in a row, seconds until the next pass started) after each failed pass."""
    waits, in_a_row = [], 0
    for (_, ended, outcome), (next_start, _, _) in zip(passes, passes[1:], strict=False):
        in_a_row = 0 if outcome.state == "synced" else in_a_row + 1
        if in_a_row:
            waits.append((in_a_row, next_start - ended))
    return waits


async def test_a_soak_of_network_faults_then_the_cache_converges(write_batch_file, tmp_path):
    with SandboxServer(SandboxConfig(speed=SPEED, fail_rate=0.05)) as server:
        admin = server.base_url.removesuffix("/v1") + "/_sandbox"
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=10, timeout=10)
        # the last new batch (at 75 s of 120) runs on after the faults stop, so the cache has to catch up with it
        sizes = iter([20, 400, 1500, 2000] + [100, 200, 300, 400, 1500])
        batches = [await start_batch(client, write_batch_file(next(sizes), f"b{i}.jsonl")) for i in range(4)]
        server.set_faults(SOAK_FAULTS)
        server.reset_stats()

        events: list[tuple[float, SyncStatus]] = []
        worker_errors: list[BaseException | None] = []
        lines_seen: set[str] = set()
        worst_lag = 0.0

        def on_message(message) -> None:
            if isinstance(message, Worker.StateChanged) and message.state == WorkerState.ERROR:
                worker_errors.append(message.worker.error)

        # the API client times out after CLIENT_TIMEOUT and does not retry by itself: every fault reaches the app
        profile = Profile(name="soak", base_url=server.base_url, api_key="sk-test", timeout=CLIENT_TIMEOUT,
                          max_retries=0)
        app = BatchtuiApp(profile, cache_dir=tmp_path / "c")
        app.poll = PollSchedule(POLL_SECONDS, POLL_SECONDS, MAX_BACKOFF_SECONDS)  # backs off to MAX_BACKOFF_SECONDS
        async with app.run_test(message_hook=on_message) as pilot:
            app.watch(app, "sync_status", lambda status: events.append((time.monotonic(), status)), init=False)
            began = time.monotonic()
            next_batch = began + NEW_BATCH_EVERY
            cancelled = False
            while (now := time.monotonic()) - began < SOAK_SECONDS:
                if now >= next_batch and now - began < SOAK_SECONDS - 30 * TIME_SCALE:
                    batches.append(await start_batch(client, write_batch_file(next(sizes), f"b{len(batches)}.jsonl")))
                    next_batch += NEW_BATCH_EVERY
                if now - began >= SOAK_SECONDS / 2 and not cancelled:
                    cancelled = bool(await client.batches.cancel(batches[2].id))
                lines_seen.add(status_line(app))
                before = time.monotonic()
                await pilot.pause(0.25)
                worst_lag = max(worst_lag, time.monotonic() - before - 0.25)

            injected = server.runtime.faults.injected()
            calls = server.stats()
            async with httpx2.AsyncClient() as http:
                assert (await http.post(admin + "/faults", json={})).status_code == 200
            faults_off = time.monotonic()
            soak_passes = passes_from(events)
            running_at_faults_off = [b.id for b in await all_batches(client) if b.status not in TERMINAL_STATUSES]

            converged_after = None
            while converged_after is None:
                truth = {b.id: b.model_dump() for b in await all_batches(client)}
                cached = {b.id: b.to_dict() for b in await app.workspace.batches()}
                if cached == truth and all(b["status"] in TERMINAL_STATUSES for b in truth.values()):
                    converged_after = time.monotonic() - faults_off
                assert time.monotonic() - faults_off < 90, f"no convergence: {set(truth.items()) ^ set(cached.items())}"
                await pilot.pause(0.1)
            await pilot.pause(2 * POLL_SECONDS + 0.5)
            shown = {b.id: b.to_dict() for b in app.batches}
            first_clean = next(at for at, status in events if at > faults_off and status.state == "synced")
            assert app.is_running and not worker_errors
        await client.close()

    assert shown == truth and len(truth) == len(batches) and running_at_faults_off
    failed = [p for p in soak_passes if p[2].state != "synced"]
    waits = waits_after_failures(soak_passes)
    assert failed and all(p[2].state == "degraded" for p in failed), {p[2].state for p in failed}
    assert any(line.startswith("degraded: retrying in ") and "showing cache from" in line for line in lines_seen)
    for in_a_row, waited in waits:  # each wait at least what the back-off schedule says (timer slack aside)
        assert waited >= 0.9 * min(MAX_BACKOFF_SECONDS, POLL_SECONDS * 2**in_a_row), (in_a_row, waited)
    assert max(in_a_row for in_a_row, _ in waits) >= 2
    assert soak_passes[-1][1] > began + SOAK_SECONDS - MAX_BACKOFF_SECONDS - 2 * CLIENT_TIMEOUT  # still polling
    assert worst_lag < 2.0  # the screen kept its event loop: never a freeze, even on a loaded machine

    ok_durations = sorted(end - start for start, end, outcome in soak_passes if outcome.state == "synced")
    unfaulted_rate = 1 / (POLL_SECONDS + ok_durations[len(ok_durations) // 2])
    by_row: dict[int, list[float]] = {}
    for in_a_row, waited in waits:
        by_row.setdefault(in_a_row, []).append(waited)
    print(f"\nnetwork soak: {SOAK_SECONDS:.0f} s, {sum(calls.values())} API calls, faults injected {injected}")
    print(f"  passes {len(soak_passes)} ({len(failed)} failed, degraded), {len(soak_passes) / SOAK_SECONDS:.2f}/s "
          f"against {unfaulted_rate:.2f}/s unfaulted; longest failure streak {max(by_row)}")
    print("  wait after n failures in a row: " + ", ".join(
        f"{n}: {min(w):.2f}-{max(w):.2f} s (x{len(w)})" for n, w in sorted(by_row.items())))
    print(f"  faults off with {len(running_at_faults_off)} batches still running: first clean pass done after "
          f"{first_clean - faults_off:.2f} s; all {len(truth)} batches finished and equal to the server's after "
          f"{converged_after:.2f} s; worst event-loop lag {worst_lag * 1000:.0f} ms")


def seed_for(kinds: list[str | None], rate_drop: float = 0.5) -> FaultConfig:
    """Fault settings whose first draws are `kinds` (None: answered normally), found with the sandbox's own
    injector, so a test decides which call is cut off."""
    for seed in range(10_000):
        injector = FaultInjector(FaultConfig(rate_drop=rate_drop, seed=seed))
        if [injector.draw().kind for _ in kinds] == kinds:
            return FaultConfig(rate_drop=rate_drop, seed=seed)
    raise AssertionError(f"no seed draws {kinds}")


async def test_no_pass_stops_early_at_a_batch_cached_another_way(fresh_sandbox, sandbox_profile, write_batch_file,
                                                                 tmp_path):
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        small = await ws.service.upload(write_batch_file(1))
        made = [await ws.service.create(small.id, "/v1/chat/completions") for _ in range(150)]
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "cache", max_retries=0) as ws:
        for _ in range(200):  # cached by id, as `get-batch-results` does, once finished
            if (await ws.fetch_batch(made[20].id)).status in TERMINAL_STATUSES:
                break
            await asyncio.sleep(0.05)
        fresh_sandbox.set_faults(seed_for([None, "drop"]))  # the second page of the listing is cut off
        with pytest.raises(ConnectionLostError):
            await ws.refresh()
        fresh_sandbox.set_faults(None)
        await ws.refresh()
        assert {b.id for b in await ws.batches()} == {b.id for b in made}


@pytest.fixture
async def finished_batch(sandbox_profile, write_batch_file, tmp_path) -> tuple[Workspace, Batch]:
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "cache") as ws:
        batch = await ws.service.create((await ws.service.upload(write_batch_file(3000))).id, "/v1/chat/completions")
        while batch.status not in TERMINAL_STATUSES:
            await asyncio.sleep(0.05)
            batch = await ws.service.retrieve(batch.id)
        yield ws, batch


async def test_a_download_cut_off_midway_is_started_again(finished_batch, fresh_sandbox, tmp_path):
    ws, batch = finished_batch
    fresh_sandbox.set_faults(seed_for([None, "drop", None]))  # file info, then the content cut, then whole
    fresh_sandbox.reset_stats()
    [record] = await ws.fetch_results(batch, tmp_path / "out")
    info = await ws.service.retrieve_file(batch.output_file_id)
    assert record.path.stat().st_size == info.bytes == record.bytes
    assert fresh_sandbox.stats()["files.content"] == 2
    assert [p.name for p in (tmp_path / "out").iterdir()] == [record.path.name]


async def test_a_download_cut_off_every_time_fails_in_a_sentence_and_leaves_nothing(finished_batch, fresh_sandbox,
                                                                                     tmp_path):
    ws, batch = finished_batch
    fresh_sandbox.set_faults(seed_for([None, "drop", "drop", "drop"]))
    with pytest.raises(ConnectionLostError) as caught:
        await ws.fetch_results(batch, tmp_path / "out")
    message = str(caught.value)
    assert message.startswith(f"The connection to {ws.profile.endpoint} broke off: ")
    assert message.endswith("(tried 3 times).") and "\n" not in message
    assert list((tmp_path / "out").iterdir()) == []
    assert await ws.cache.get_download(batch.output_file_id) is None


async def test_a_short_body_is_caught_by_its_size(finished_batch, tmp_path):
    ws, batch = finished_batch
    size = (await ws.service.retrieve_file(batch.output_file_id)).bytes
    dest = tmp_path / "out" / "output.jsonl"
    with pytest.raises(ConnectionLostError, match=rf"^The download of {batch.output_file_id} stopped at "
                                                  rf"{size:,} of {size + 1:,} bytes\.$"):
        await ws.service.download(batch.output_file_id, dest, size=size + 1)
    assert list(dest.parent.iterdir()) == []


async def test_a_killed_downloads_temp_file_is_removed_but_a_running_one_stays(finished_batch, tmp_path):
    ws, batch = finished_batch
    size = (await ws.service.retrieve_file(batch.output_file_id)).bytes
    dest = tmp_path / "out" / "output.jsonl"
    dest.parent.mkdir()
    stale, running = dest.parent / ".output.jsonl.abcdefgh.part", dest.parent / ".output.jsonl.ijklmnop.part"
    stale.write_bytes(b"half a file")
    running.write_bytes(b"another process's download")
    with running.open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a live download holds its temp file
        await ws.service.download(batch.output_file_id, dest, size=size)
    assert sorted(p.name for p in dest.parent.iterdir()) == sorted([dest.name, running.name])


async def test_downloads_are_private_to_the_user(finished_batch, tmp_path):
    ws, batch = finished_batch
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    mine.chmod(0o755)
    [record] = await ws.fetch_results(batch, mine / "a" / "b")
    copy = await ws.file_copy(batch.input_file_id, "input", batch_id=batch.id)
    mode = lambda path: stat.S_IMODE(path.stat().st_mode)  # noqa: E731
    assert mode(mine) == 0o755  # a folder that was there keeps its mode
    assert mode(mine / "a") == mode(mine / "a" / "b") == mode(copy.parent) == 0o700
    assert mode(record.path) == mode(copy) == 0o600


@pytest.fixture
def guarded_sandbox() -> SandboxServer:
    """A sandbox that accepts only sk-right, and answers 403 to sk-restricted."""
    with SandboxServer(SandboxConfig(speed=1000, api_key="sk-right")) as server:
        server.set_faults(FaultConfig(no_access_key="sk-restricted"))
        yield server


REFUSALS = {
    "wrong key": ("sk-wrong-key-1234", None, "The API key was refused (401): Incorrect API key provided: "),
    "key without access": ("sk-restricted", None, "The API key lacks permission for this (403): You have "
                                                  "insufficient permissions for this operation."),
    "wrong base_url": ("sk-right", "{root}", "There is no Batch API at {root} (GET /batches answered 404); "
                                             "check base_url."),
    "nothing listening": ("sk-right", DEAD_URL, "Cannot reach the API at http://127.0.0.1:9/v1; check the "
                                                "network or base_url."),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_refusals_are_one_sentence_and_the_cache_stays_browsable(case, guarded_sandbox, write_batch_file,
                                                                        tmp_path):
    good = Profile(name="t", base_url=guarded_sandbox.base_url, api_key="sk-right")
    async with await Workspace.open(good, cache_dir=tmp_path / "cache") as ws:
        for i in range(3):
            await ws.start_batch((await ws.upload(write_batch_file(5, f"r{i}.jsonl"))).id, "/v1/chat/completions")
        await ws.refresh()
        cached_ids = [b.id for b in await ws.batches()]
    key, url, sentence = REFUSALS[case]
    root = guarded_sandbox.base_url.removesuffix("/v1")
    url = (url or guarded_sandbox.base_url).format(root=root)
    sentence = sentence.format(root=root)
    guarded_sandbox.reset_stats()
    app = BatchtuiApp(Profile(name="t", base_url=url, api_key=key), cache_dir=tmp_path / "cache")
    async with app.run_test() as pilot:
        for _ in range(200):
            if app.sync_status.state in ("error", "offline"):
                break
            await pilot.pause(0.05)
        await pilot.pause(1.0)  # no fast retry loop: the next try is seconds or minutes away
        line = status_line(app)
        if case == "nothing listening":
            assert re.fullmatch(r"offline: retrying in (9|10)s · showing cache from \d\d:\d\d \(" + re.escape(sentence)
                                + r"\)", line), line
        else:
            tail = r"\S · showing cache from \d\d:\d\d · next try in (5m 00s|4m 5\ds)$"
            assert line.startswith(sentence) and re.search(tail, line), line
            assert sum(guarded_sandbox.stats().values()) <= 1  # one try (calls outside /v1 are not counted)
        assert [b.id for b in app.screen.query_one(BatchList).rows] == cached_ids
        app.open_batch(cached_ids[1])
        for _ in range(100):
            if isinstance(app.screen, BatchDetailScreen) and app.screen.batch is not None:
                break
            await pilot.pause(0.05)
        assert app.screen.batch.id == cached_ids[1]


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_the_cli_says_so_in_one_line_and_lists_the_cache(case, guarded_sandbox, write_batch_file,
                                                                isolated_home):
    good = Profile(name="default", base_url=guarded_sandbox.base_url, api_key="sk-right")  # what the CLI reads
    async with await Workspace.open(good) as ws:
        started = await ws.start_batch((await ws.upload(write_batch_file(5))).id, "/v1/chat/completions")
        await ws.refresh()
    key, url, sentence = REFUSALS[case]
    root = guarded_sandbox.base_url.removesuffix("/v1")
    env = {**os.environ, "BATCHTUI_HOME": str(isolated_home), "OPENAI_API_KEY": key,
           "OPENAI_BASE_URL": (url or guarded_sandbox.base_url).format(root=root)}
    done = await asyncio.to_thread(batchtui, "list-batches", env=env, check=False)
    assert len(done.stderr.splitlines()) == 1
    if url is None:  # the cache is per endpoint, so only the same base_url finds the batch
        assert done.stderr.startswith(f"batchtui: showing cached batches only: {sentence.format(root=root)}")
        assert started.id in done.stdout
    else:  # an empty cache: the error alone, not an empty list that reads as "no batches"
        assert (done.returncode, done.stdout) == (1, "")
        assert done.stderr == f"batchtui: {sentence.format(root=root)}\n"

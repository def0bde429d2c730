"""Running a job against the sandbox as a real server: passing failures sent again up to max_attempts (4xx not),
the enqueued-token limit learnt and kept, a cost ceiling, one runner at a time, cancel, and exactly once across a
crash between a call and its record."""

from __future__ import annotations

import asyncio
import csv
import json
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from openai import AsyncOpenAI

from batchtui.core.config import Profile
from batchtui.core.jobs.plan import JobOptions, JobSource, plan_job
from batchtui.core.jobs.runner import ATTEMPT, JOB, LEARNT_LIMIT, PART, JobRefused, JobRunner
from batchtui.core.workspace import Workspace
from batchtui.sandbox import SandboxConfig, SandboxServer


def chat_lines(count: int, *, max_tokens: int | None = None) -> str:
    body: dict[str, object] = {"model": "gpt-4o-mini"}
    if max_tokens:
        body["max_tokens"] = max_tokens
    return "".join(json.dumps({"custom_id": f"row-{i}", "method": "POST", "url": "/v1/chat/completions",
                               "body": {**body, "messages": [{"role": "user", "content": f"Summarise item {i}."}]}})
                   + "\n" for i in range(count))


async def new_job(runner: JobRunner, tmp_path: Path, count: int, **options: object) -> str:
    source = tmp_path / "input.jsonl"
    source.write_text(chat_lines(count, max_tokens=options.pop("max_tokens", None)))  # type: ignore[arg-type]
    plan = await asyncio.to_thread(plan_job, JobSource(jsonl=source), JobOptions(**options), runner.jobs_dir)
    assert plan.job is not None, plan.report.problems
    return (await runner.record(plan)).id


def sdk(server: SandboxServer) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=server.base_url, api_key="sk-test")


async def job_batches(server: SandboxServer, job_id: str) -> list:
    async with sdk(server) as client:
        return [b async for b in client.batches.list(limit=100) if (b.metadata or {}).get(JOB) == job_id]


def once_each(batches: list) -> None:
    """No (part, attempt) of the job has two batches."""
    keys = Counter((b.metadata[PART], b.metadata[ATTEMPT]) for b in batches)
    assert max(keys.values()) == 1, keys


@pytest.fixture
def server():
    with SandboxServer(SandboxConfig(speed=1000.0, fail_rate=0.3)) as running:
        yield running


async def test_a_job_retries_passing_failures_and_exports_each_row_once(server, tmp_path):
    profile = Profile(name="t", base_url=server.base_url, api_key="sk-test", max_retries=0)
    async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
        runner = JobRunner(ws)
        job_id = await new_job(runner, tmp_path, 300, part_lines=100, max_attempts=4)
        view = await runner.run(job_id, poll_seconds=0.1)
        assert view.job.status == "completed" and view.pending == 0 and view.succeeded + view.failed == 300
        batches = await job_batches(server, job_id)
        once_each(batches)
        assert {int(b.metadata[PART]) for b in batches} == {1, 2, 3}
        assert max(int(b.metadata[ATTEMPT]) for b in batches) <= 4 and len(batches) > 3
        retries = [b for b in batches if b.metadata[ATTEMPT] != "1"]
        assert all(b.metadata["retry_of"] for b in retries), "each retry links to the attempt before it"

        await runner.export(job_id, tmp_path / "out.csv")
        rows = list(csv.DictReader((tmp_path / "out.csv").open()))
        assert [r["custom_id"] for r in rows] == [f"row-{i}" for i in range(300)]
        failed = [r for r in rows if r["status"] != "ok"]
        assert len(failed) == view.failed
        # What failed for good is what would fail again: the 400s. The 500s were sent again until they passed
        # (or ran out of attempts: 0.3^4 of them, so a row or two at most).
        assert sum("content_policy_violation" in r["error"] for r in failed) >= len(failed) - 3
        assert all(r["answer"] for r in rows if r["status"] == "ok")
        assert view.spend > 0 and view.spend == sum(
            (c.total_usd for b in view.attempts if b.batch and (c := _cost(b.batch))), Decimal(0))


def _cost(batch):
    from batchtui.core.insights.pricing import batch_cost

    return batch_cost(batch)


async def test_the_enqueued_token_limit_is_learnt_and_refused_parts_go_again(tmp_path):
    with SandboxServer(SandboxConfig(speed=300.0, enqueued_token_limit=2_500)) as limited:
        profile = Profile(name="t", base_url=limited.base_url, api_key="sk-test", max_retries=0)
        async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
            runner = JobRunner(ws)
            job_id = await new_job(runner, tmp_path, 600, part_lines=100, max_attempts=1)
            view = await runner.run(job_id, poll_seconds=0.1)
            assert view.job.status == "completed" and view.succeeded == 600
            assert await ws.cache.get_meta(LEARNT_LIMIT + "gpt-4o-mini") == "2500"
            refused = [a for a in view.attempts if a.attempt.state == "limited"]
            assert refused, "the sandbox admits about two parts at a time: some were refused"
            assert all(not a.attempt.counted for a in view.attempts if a.attempt.retry_of in
                       {r.attempt.batch_id for r in refused}), "a resend after the limit is no counted attempt"
            once_each(await job_batches(limited, job_id))
        assert limited.stats()["batches_failed.token_limit_exceeded"] == len(refused)


async def test_a_budget_given_keeps_the_tokens_in_flight_under_the_limit(tmp_path):
    with SandboxServer(SandboxConfig(speed=300.0, enqueued_token_limit=2_500)) as limited:
        profile = Profile(name="t", base_url=limited.base_url, api_key="sk-test", max_retries=0)
        async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
            runner = JobRunner(ws)
            job_id = await new_job(runner, tmp_path, 400, part_lines=100, enqueued_tokens=1_700)
            first = await runner.step(job_id)
            assert len(first.running) == 1 and first.job.reason == (
                f"parts wait for the enqueued-token budget: {first.parts[0].input_tokens:,} input tokens of "
                "gpt-4o-mini in flight, 1,700 allowed")
            view = await runner.run(job_id, poll_seconds=0.1)
        assert view.job.status == "completed" and view.succeeded == 400
        assert limited.stats().get("batches_failed.token_limit_exceeded", 0) == 0


async def test_a_job_over_its_ceiling_is_refused_and_one_reaching_it_pauses(server, tmp_path):
    profile = Profile(name="t", base_url=server.base_url, api_key="sk-test", max_retries=0)
    async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
        runner = JobRunner(ws)
        with pytest.raises(JobRefused, match=r"over the ceiling of \$0.001\. Nothing was uploaded"):
            await new_job(runner, tmp_path, 300, part_lines=100, max_tokens=200, max_cost_usd=Decimal("0.001"))
        assert not list(runner.jobs_dir.iterdir()) and await runner.jobs() == []
        async with sdk(server) as client:
            assert not [f async for f in client.files.list()]

        # Without max_tokens the estimate is the input alone: the answers cost far more, so once the three parts
        # have come back the retries of their failures would pass the ceiling, and the job pauses, saying why.
        job_id = await new_job(runner, tmp_path, 300, part_lines=100, max_cost_usd=Decimal("0.002"))
        view = await runner.run(job_id, poll_seconds=0.1)
        assert view.job.status == "paused" and view.stuck and view.spend > Decimal("0.002")
        assert view.job.reason.startswith("paused before part 1 (attempt 2): spent $")
        assert view.job.reason.endswith("would pass the ceiling of $0.002")
        assert {int(b.metadata[ATTEMPT]) for b in await job_batches(server, job_id)} == {1}, "no retry was sent"
        await runner.set_ceiling(job_id, Decimal("1"))  # `job run --max-cost 1`: it goes on
        view = await runner.run(job_id, poll_seconds=0.1)
        assert view.job.status == "completed" and view.job.max_cost_usd == Decimal("1")


async def test_one_runner_advances_a_job_while_another_watches(server, tmp_path):
    profile = Profile(name="t", base_url=server.base_url, api_key="sk-test", max_retries=0)
    async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
        first, second = JobRunner(ws), JobRunner(ws)
        job_id = await new_job(first, tmp_path, 100)
        assert (await first.step(job_id)).watching is None
        creates = server.stats()["batches.create"]
        watched = await second.step(job_id)
        assert watched.watching == first.owner and len(watched.running) == 1
        assert server.stats()["batches.create"] == creates and server.stats().get("batches.retrieve", 0) <= 1, \
            "the watcher only read the cache"
        await first.store.release_lease(job_id, first.owner)
        assert (await second.step(job_id)).watching is None
        once_each(await job_batches(server, job_id))


async def test_cancel_stops_the_job_and_keeps_finished_answers(tmp_path):
    with SandboxServer(SandboxConfig(speed=20.0)) as slow:  # 100 lines take 2.5 s in progress
        profile = Profile(name="t", base_url=slow.base_url, api_key="sk-test", max_retries=0)
        async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
            runner = JobRunner(ws)
            job_id = await new_job(runner, tmp_path, 200, part_lines=100)
            await runner.step(job_id)
            deadline = time.monotonic() + 20
            while True:
                batches = await job_batches(slow, job_id)
                if all(b.request_counts and b.request_counts.completed >= 10 for b in batches):
                    break
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
            cancelled = await runner.cancel(job_id)
            assert cancelled.job.status == "cancelled" and len(cancelled.running) == 2
            view = await runner.run(job_id, poll_seconds=0.1)
            assert view.finished and view.job.status == "cancelled"
            assert {b.status for b in await job_batches(slow, job_id)} == {"cancelled"}
            assert 20 <= view.succeeded < 200 and view.pending == 200 - view.succeeded
            await runner.export(job_id, tmp_path / "out.jsonl")
            rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
            assert len(rows) == 200 and sum(r["status"] == "ok" for r in rows) == view.succeeded


async def test_a_crash_between_a_call_and_its_record_sends_nothing_twice(server, tmp_path):
    """The process died right after sending: the upload of part 1 and the creation of part 2's batch reached the
    API, but the job recorded only that they began. The next pass finds both instead of sending them again."""
    profile = Profile(name="t", base_url=server.base_url, api_key="sk-test", max_retries=0)
    async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
        runner = JobRunner(ws)
        job_id = await new_job(runner, tmp_path, 200, part_lines=100)
        one, two = await runner.store.attempts(job_id)
        client = sdk(server)  # closed below, before the loop ends

        await runner.store.update_attempt(one, upload_started=time.time())
        sent = await client.files.create(file=(Path(one.file).name, Path(one.file).read_bytes()), purpose="batch")

        await runner.store.update_attempt(two, upload_started=time.time())
        uploaded = await client.files.create(file=(Path(two.file).name, Path(two.file).read_bytes()), purpose="batch")
        await runner.store.update_attempt(two, file_id=uploaded.id, create_started=time.time())
        made = await client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                           completion_window="24h",
                                           metadata={JOB: job_id, PART: "2", ATTEMPT: "1"})
        await client.close()
        uploads_before = server.stats()["files.create"]
        await runner.step(job_id)
        one, two = [a for a in await runner.store.attempts(job_id) if a.attempt == 1]
        assert one.file_id == sent.id and two.batch_id == made.id
        assert server.stats()["files.create"] == uploads_before, "no file was uploaded again"
        view = await runner.run(job_id, poll_seconds=0.1)
        assert view.job.status == "completed"
        batches = await job_batches(server, job_id)
        once_each(batches)
        assert {b.input_file_id for b in batches if b.metadata[ATTEMPT] == "1"} == {sent.id, uploaded.id}


async def test_an_expired_batch_is_sent_again_and_every_row_lands_in_llm_logs(tmp_path):
    with SandboxServer(SandboxConfig(speed=50.0)) as slow:  # 200 lines take 2 s in progress
        profile = Profile(name="t", base_url=slow.base_url, api_key="sk-test", max_retries=0)
        async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
            runner = JobRunner(ws)
            job_id = await new_job(runner, tmp_path, 200, max_attempts=2)
            (first,) = (await runner.step(job_id)).running
            deadline = time.monotonic() + 20
            while (batch := await ws.fetch_batch(first.attempt.batch_id)).status != "in_progress" or not (
                    batch.request_counts and batch.request_counts.completed >= 20):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            slow.expire_now(batch.id)
            view = await runner.run(job_id, poll_seconds=0.1)
            assert view.job.status == "completed" and view.succeeded == 200
            statuses = [a.batch.status for a in view.attempts]
            assert statuses == ["expired", "completed"] and view.attempts[1].attempt.requests < 200
            rows = await asyncio.to_thread(_logged, ws.cache_path, first.attempt.batch_id)
            assert rows == (200, 200), "every request of the part, each with its latest answer"


def _logged(db, batch_id: str) -> tuple[int, int]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*), count(response) FROM llm_logs "
                            "WHERE metadata -> 'batch' ->> 'batch_id' = ?", (batch_id,)).fetchone()


async def test_the_profiles_enqueued_token_limit_is_kept(tmp_path):
    with SandboxServer(SandboxConfig(speed=300.0, enqueued_token_limit=2_500)) as limited:
        profile = Profile(name="t", base_url=limited.base_url, api_key="sk-test", max_retries=0,
                          enqueued_token_limit={"gpt-4o-mini": 1_700})
        async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
            runner = JobRunner(ws)
            view = await runner.run(await new_job(runner, tmp_path, 400, part_lines=100), poll_seconds=0.1)
        assert view.job.status == "completed"
        assert limited.stats().get("batches_failed.token_limit_exceeded", 0) == 0


async def test_a_part_over_the_limit_by_itself_fails_the_job_saying_what_to_do(tmp_path):
    with SandboxServer(SandboxConfig(speed=1000.0, enqueued_token_limit=300)) as tight:
        profile = Profile(name="t", base_url=tight.base_url, api_key="sk-test", max_retries=0)
        async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
            runner = JobRunner(ws)
            view = await runner.run(await new_job(runner, tmp_path, 100), poll_seconds=0.1)
    assert view.job.status == "failed" and view.finished
    assert view.job.reason.startswith("Part 1 (")
    assert view.job.reason.endswith("was refused for the enqueued-token limit 3 times with nothing else of "
                                    "gpt-4o-mini running: it is over the limit by itself. Plan the job again with "
                                    "smaller parts (--part-lines).")
    assert [a.attempt.state for a in view.attempts] == ["limited"] * 4


async def test_a_plan_killed_half_way_leaves_no_folder_for_long(server, tmp_path):
    import os

    profile = Profile(name="t", base_url=server.base_url, api_key="sk-test", max_retries=0)
    async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
        runner = JobRunner(ws)
        abandoned, planning = runner.jobs_dir / "job_0123456789abcdef", runner.jobs_dir / "job_fedcba9876543210"
        for folder in (abandoned, planning):
            folder.mkdir(parents=True)
            (folder / f"{folder.name}-part-0001.jsonl").write_text("{}\n")
        two_hours_ago = time.time() - 7200
        os.utime(abandoned, (two_hours_ago, two_hours_ago))
        job_id = await new_job(runner, tmp_path, 10)
        assert sorted(p.name for p in runner.jobs_dir.iterdir()) == sorted([job_id, planning.name])

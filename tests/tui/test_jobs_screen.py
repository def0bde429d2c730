"""Jobs in the app: the app advances a job against a real sandbox while it is open, the Jobs screen lists it, its
detail shows the parts with their batches, the viewer opens the whole job, and a job can be cancelled."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from pilot_helpers import Notes, wait_until
from textual.widgets import DataTable, Input, OptionList

from batchtui.core.api.models import Batch
from batchtui.core.authoring.validate import validate_file
from batchtui.core.cache.store import Cache
from batchtui.core.config import Profile
from batchtui.core.jobs.plan import JobOptions, JobSource, plan_job
from batchtui.core.jobs.runner import JobRunner
from batchtui.core.jobs.store import Attempt, Job, JobStore, Part
from batchtui.core.workspace import Workspace
from batchtui.sandbox import SandboxConfig, SandboxServer
from batchtui.tui.app import BatchtuiApp
from batchtui.tui.screens.batch_detail import BatchDetailScreen
from batchtui.tui.screens.confirm import ConfirmScreen
from batchtui.tui.screens.job_detail import JobDetailScreen
from batchtui.tui.screens.jobs import JobsScreen
from batchtui.tui.screens.new_batch import NewBatchScreen
from batchtui.tui.screens.results import ResultsScreen
from batchtui.tui.widgets.result_list import ResultList

FAST = 1000.0


@pytest.fixture
def failing_sandbox():
    """A sandbox of this test's own whose fake model fails a share of the requests (sent again by the job)."""
    with SandboxServer(SandboxConfig(speed=FAST, fail_rate=0.1)) as server:
        yield server


async def record_job(profile: Profile, cache_dir, path, name: str, part_lines: int = 100) -> str:
    """Plan and record a job over `path` in parts of `part_lines`, as `job start --detach` does; its id."""
    async with await Workspace.open(profile, cache_dir=cache_dir) as workspace:
        runner = JobRunner(workspace)
        plan = await asyncio.to_thread(plan_job, JobSource(jsonl=path), JobOptions(name=name, part_lines=part_lines),
                                       runner.jobs_dir)
        assert plan.job is not None, plan.report.problems
        return (await runner.record(plan)).id


def table_text(table: DataTable) -> list[str]:
    return [" ".join(cell.plain for cell in table.get_row_at(row)) for row in range(table.row_count)]


async def test_the_app_carries_a_job_to_the_end_and_shows_it(failing_sandbox, tmp_path, write_batch_file):
    profile = Profile(name="test", base_url=failing_sandbox.base_url, api_key="sk-test")
    await record_job(profile, tmp_path, write_batch_file(300), "[b]labels[/b] v1")
    app = BatchtuiApp(profile, cache_dir=tmp_path)
    app.job_poll_seconds = 0.1
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("J")
        await wait_until(pilot, lambda: isinstance(app.screen, JobsScreen), "the Jobs screen")
        await wait_until(pilot, lambda: app.jobs and app.jobs[0].finished, "the job finished", tries=600)
        view = app.jobs[0]
        assert view.job.status == "completed"
        assert view.succeeded + view.failed == 300 and view.pending == 0
        assert max(a.attempt.attempt for a in view.attempts) >= 2  # the failed requests were sent again
        table = app.screen.query_one(DataTable)
        await wait_until(pilot, lambda: "completed" in table_text(table)[0], "the row says completed")
        row = table_text(table)[0]
        assert "[b]labels[/b] v1" in row and "of 300" in row and "3/3" in row

        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, JobDetailScreen), "the job's detail")
        detail = app.screen
        await wait_until(pilot, lambda: detail.view is not None, "the job shown")
        lines = [str(option.prompt) for option in detail.query_one(OptionList).options]
        assert [line.split(" ·")[0] for line in lines if line.startswith("Part")] == ["Part 1", "Part 2", "Part 3"]
        assert sum(line.startswith("  #") for line in lines) == len(view.attempts)
        assert str(detail.query_one("#job-header").render()).startswith("[b]labels[/b] v1")

        await pilot.press("down", "enter")  # part 1's first batch
        await wait_until(pilot, lambda: isinstance(app.screen, BatchDetailScreen), "the batch's detail")
        first = next(a for a in view.attempts if a.attempt.part == 1 and a.attempt.attempt == 1)
        assert app.screen.batch_id == first.attempt.batch_id
        await pilot.press("escape")

        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, ResultsScreen), "the viewer over the job")
        viewer = app.screen
        await wait_until(pilot, lambda: viewer.index is not None and viewer.index.complete, "the job indexed")
        assert len(viewer.index) == 300
        assert len(viewer.query_one(ResultList).rows) == 300
        failed = len(viewer.index.rows("failed"))
        assert failed == view.failed  # each row shows its latest attempt


async def test_cancel_a_job_from_its_detail(sandbox_profile, tmp_path, write_batch_file):
    job_id = await record_job(sandbox_profile, tmp_path, write_batch_file(50), "to cancel", part_lines=10)
    notes = Notes()
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path)
    app.job_poll_seconds = 60  # one pass: the job is started and left running
    async with app.run_test(size=(100, 30), message_hook=notes.hear) as pilot:
        await wait_until(pilot, lambda: app.jobs, "the first pass")
        app.open_job(job_id)
        await wait_until(pilot, lambda: isinstance(app.screen, JobDetailScreen), "the job's detail")
        await wait_until(pilot, lambda: app.screen.view is not None, "the job shown")
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "asked first")
        await pilot.press("y")
        await wait_until(pilot, lambda: app.jobs[0].job.status == "cancelled", "the job cancelled")
        assert "Cancelled to cancel." in notes.messages
        assert app.screen.check_action("cancel_job", ()) is None


def test_a_file_over_a_batch_limit_is_offered_as_a_job(write_batch_file):
    path = write_batch_file(11)
    assert validate_file(path, max_lines=10).over_batch_limits
    assert not validate_file(path).over_batch_limits


async def test_start_a_checked_file_as_a_job(sandbox_profile, tmp_path, write_batch_file):
    path = write_batch_file(30)
    notes = Notes()
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    app.job_poll_seconds = 0.1
    async with app.run_test(size=(120, 40), message_hook=notes.hear) as pilot:
        await wait_until(pilot, lambda: app.workspace is not None, "the cache open")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NewBatchScreen), "the new batch screen")
        screen = app.screen
        field = screen.query_one("#jsonl-path", Input)
        field.value = str(path)
        field.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.checked is not None, "the file checked")
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.screen, JobDetailScreen), "the new job's detail")
        assert any(message.startswith("Started job requests: 1 part") for message in notes.messages)
        await wait_until(pilot, lambda: app.jobs and app.jobs[0].finished, "the job carried to the end", tries=600)
        assert app.jobs[0].job.status == "completed" and app.jobs[0].succeeded == 30


# -- snapshots: jobs filled into the cache as fixed data, each unfinished one leased by another process (so the app
# only watches it, and a dead API is never asked), a frozen clock ---------------------------------------------------

CREATED = 1_763_000_000
NOW = CREATED + 2 * 3600
OTHER = "build-host:4242:feedbeef"
DEAD_URL = "http://127.0.0.1:9/v1"


def job_batch(batch_id: str, status: str, total: int, completed: int, failed: int, created: int) -> Batch:
    done = status not in ("validating", "in_progress", "finalizing")
    return Batch.from_dict({
        "id": batch_id, "object": "batch", "endpoint": "/v1/chat/completions", "input_file_id": f"file-{batch_id}",
        "completion_window": "24h", "status": status, "created_at": created, "model": "gpt-4o-mini",
        "request_counts": {"total": total, "completed": completed, "failed": failed},
        "usage": {"input_tokens": completed * 40, "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens": completed * 60, "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": completed * 100} if done else None,
    })


def fixed_jobs(folder, running_lease: str | None = OTHER) -> list[tuple[Job, list[Part], list[Attempt], list[Batch]]]:
    """A running job watched from another process (part 1 done after a retry, part 2 running, part 3 waiting), a
    job paused at its ceiling, and one that completed."""
    def job(job_id, name, created, status, requests, reason=None, ceiling=None, lease=None) -> Job:
        return Job(job_id, name, created, status, reason, f"data/{name}.jsonl", str(folder), None,
                   "/v1/chat/completions", "gpt-4o-mini", requests, requests * 40, Decimal("0.90"), ceiling, 3, None,
                   lease, None if lease is None else 4_000_000_000.0, created)

    def part(job_id, number, requests, ok=0, failed=0, done=False) -> Part:
        return Part(job_id, number, (number - 1) * 1000 + 1, requests, requests * 200, requests * 40,
                    Decimal("0.30"), ok, failed, done)

    def attempt(job_id, number, tried, requests, state, batch_id=None) -> Attempt:
        return Attempt(job_id, number, tried, str(folder / f"{job_id}-{number}-{tried}.jsonl"), requests,
                       requests * 40, True, state, None, None, None, batch_id, None)

    running = "job_5f0c2a9e1b7d4c38"
    paused = "job_8a1d3e5f7b9c0d2e"
    done = "job_0b1c2d3e4f5a6b7c"
    return [
        (job(running, "sentiment [labels] v3", CREATED + 1800, "running", 3000, lease=running_lease),
         [part(running, 1, 1000, 996, 4, True), part(running, 2, 1000), part(running, 3, 1000)],
         [attempt(running, 1, 1, 1000, "ended", "batch_run_p1a1"),
          attempt(running, 1, 2, 12, "ended", "batch_run_p1a2"),
          attempt(running, 2, 1, 1000, "running", "batch_run_p2a1"), attempt(running, 3, 1, 1000, "waiting")],
         [job_batch("batch_run_p1a1", "completed", 1000, 988, 12, CREATED + 1810),
          job_batch("batch_run_p1a2", "completed", 12, 8, 4, CREATED + 3000),
          job_batch("batch_run_p2a1", "in_progress", 1000, 400, 0, CREATED + 3010)]),
        (job(paused, "nightly eval", CREATED + 600, "paused", 2000, ceiling=Decimal("0.05"), lease=OTHER,
             reason="paused before part 2 (attempt 1): spent $0.0480, $0 in flight and $0.30 for it would pass the "
                    "ceiling of $0.05"),
         [part(paused, 1, 1000, 1000, 0, True), part(paused, 2, 1000)],
         [attempt(paused, 1, 1, 1000, "ended", "batch_eval_p1a1"), attempt(paused, 2, 1, 1000, "waiting")],
         [job_batch("batch_eval_p1a1", "completed", 1000, 1000, 0, CREATED + 610)]),
        (job(done, "translations", CREATED, "completed", 500),
         [part(done, 1, 500, 500, 0, True)],
         [attempt(done, 1, 1, 500, "ended", "batch_tr_p1a1")],
         [job_batch("batch_tr_p1a1", "completed", 500, 500, 0, CREATED + 5)]),
    ]


def snapshot_app(tmp_path, running_lease: str | None = OTHER) -> BatchtuiApp:
    async def fill() -> None:
        async with await Cache.open(tmp_path / "cache.db") as cache:
            store = JobStore(tmp_path / "cache.db")
            for job, parts, attempts, batches in fixed_jobs(tmp_path / "jobs", running_lease):
                await store.create(job, parts, attempts)
                await cache.upsert_batches(batches, observed_at=NOW)

    asyncio.run(fill())
    return BatchtuiApp(Profile(name="snapshot", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path,
                       clock=lambda: NOW)


async def on_jobs(pilot) -> None:
    await wait_until(pilot, lambda: pilot.app.workspace is not None, "the cache open")
    await pilot.press("J")
    await wait_until(pilot, lambda: len(pilot.app.jobs) == 3 and pilot.app.jobs[1].watching == OTHER,
                     "the jobs read, two watched")
    await pilot.pause()


async def on_job_detail(pilot) -> None:
    await on_jobs(pilot)
    await pilot.press("enter")
    await wait_until(pilot, lambda: getattr(pilot.app.screen, "view", None) is not None, "the job shown")
    await pilot.pause()


def test_snapshot_jobs_80x24(snap_compare, tmp_path, utc):
    assert snap_compare(snapshot_app(tmp_path), terminal_size=(80, 24), run_before=on_jobs)


def test_snapshot_job_detail_80x24(snap_compare, tmp_path, utc):
    assert snap_compare(snapshot_app(tmp_path), terminal_size=(80, 24), run_before=on_job_detail)


async def test_a_file_over_the_request_limit_offers_a_job_instead_of_submit_anyway(tmp_path, write_batch_file):
    path = write_batch_file(50_001)
    app = BatchtuiApp(Profile(name="offline", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path / "app")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NewBatchScreen), "the new batch screen")
        screen = app.screen
        screen.query_one("#jsonl-path", Input).value = str(path)
        screen.query_one("#jsonl-path", Input).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.checked is not None, "the file checked", tries=600)
        assert screen.query_one("#as-job").display and not screen.query_one("#as-job").disabled
        assert not screen.query_one("#anyway").display
        assert str(screen.query_one("#submit-note").render()).startswith("Over the API's limits for one batch")


async def test_a_job_that_cannot_be_advanced_is_told_once_and_the_others_go_on(tmp_path):
    app = await asyncio.to_thread(snapshot_app, tmp_path, None)  # the running job is the app's to advance: no API
    app.job_poll_seconds = 0.05
    notes = Notes()
    async with app.run_test(message_hook=notes.hear) as pilot:
        await wait_until(pilot, lambda: len(app.jobs) == 3, "the first pass")
        for _ in range(3):
            seen = app.jobs
            await wait_until(pilot, lambda seen=seen: app.jobs is not seen, "another pass", tries=600)
        told = [message for message in notes.messages if "was not advanced" in message]
        assert len(told) == 1 and told[0].startswith("sentiment [labels] v3 (job_5f0c2a9e1b7d4c38) was not advanced:")
        assert app.jobs[1].watching == OTHER  # the paused job, held elsewhere, is still read


async def test_the_viewer_over_a_template_job_exports_the_data_with_the_answers(sandbox_profile, tmp_path):
    import csv

    from pilot_helpers import export_from_viewer

    from batchtui.tui.screens.results import JobResults

    template = tmp_path / "prompt.json"
    template.write_text('{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Name {{fruit}}."}]}')
    data = tmp_path / "fruit.csv"
    data.write_text("id,fruit\n" + "".join(f"f{i},fruit {i}\n" for i in range(25)))
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path) as workspace:
        runner = JobRunner(workspace)
        plan = await asyncio.to_thread(plan_job, JobSource(template=template, data=data), JobOptions(part_lines=10),
                                       runner.jobs_dir)
        job_id = (await runner.record(plan)).id
        assert (await runner.run(job_id, poll_seconds=0.1)).job.status == "completed"
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(ResultsScreen(JobResults(job_id), job_id))
        await wait_until(pilot, lambda: isinstance(app.screen, ResultsScreen) and app.screen.index is not None
                         and app.screen.index.complete, "the job indexed")
        await export_from_viewer(pilot, tmp_path / "answers.csv")
    rows = list(csv.DictReader((tmp_path / "answers.csv").open()))
    assert list(rows[0]) == ["id", "fruit", "status", "answer", "tokens"]
    assert [r["id"] for r in rows] == [f"f{i}" for i in range(25)] and all(r["answer"] for r in rows)

"""Jobs in the app: the app advances a job against a real sandbox while it is open, the Jobs screen lists it, its
detail shows the parts with their batches, the viewer opens the whole job, and a job can be cancelled."""

from __future__ import annotations

import asyncio

import pytest
from pilot_helpers import Notes, wait_until
from textual.widgets import DataTable, OptionList

from batchtui.core.config import Profile
from batchtui.core.jobs.plan import JobOptions, JobSource, plan_job
from batchtui.core.jobs.runner import JobRunner
from batchtui.core.workspace import Workspace
from batchtui.sandbox import SandboxConfig, SandboxServer
from batchtui.tui.app import BatchtuiApp
from batchtui.tui.screens.batch_detail import BatchDetailScreen
from batchtui.tui.screens.confirm import ConfirmScreen
from batchtui.tui.screens.job_detail import JobDetailScreen
from batchtui.tui.screens.jobs import JobsScreen
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

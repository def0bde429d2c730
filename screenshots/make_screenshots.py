"""Regenerate the README screenshots: each screen of the app against the seeded demo sandbox, as SVG.

Run: make screenshots
"""

from __future__ import annotations

import asyncio
import csv
import os
import shutil
import tempfile
from pathlib import Path

from textual.widgets import Input, TextArea

from batchtui.core.cache.sql import EXAMPLE_QUERIES
from batchtui.core.config import Profile
from batchtui.core.jobs.plan import JobOptions, JobSource, plan_job
from batchtui.core.jobs.runner import JobRunner
from batchtui.core.workspace import Workspace
from batchtui.sandbox import SandboxConfig, SandboxServer
from batchtui.tui.app import BatchtuiApp
from batchtui.tui.screens.new_batch import NewBatchScreen
from batchtui.tui.screens.results import BatchResults, ResultsScreen
from batchtui.tui.screens.sql import SqlScreen

HERE = Path(__file__).parent.absolute()
EXAMPLE = HERE.parent / "examples" / "reviews"
SIZE = (140, 40)
SETTLE_SECONDS = 1.5


async def take(server: SandboxServer, cache_dir: Path) -> list[str]:
    profile = Profile(name="demo", base_url=server.base_url, api_key="sk-demo")
    await record_a_job(profile, cache_dir)
    app = BatchtuiApp(profile, cache_dir=cache_dir, demo=True)
    written = []

    async def shoot(name: str) -> None:
        await pilot.pause(SETTLE_SECONDS)
        app.save_screenshot(f"{name}.svg", path=str(HERE))
        written.append(name)

    async with app.run_test(size=SIZE) as pilot:
        while app.sync_status.state != "synced":
            await pilot.pause(0.1)
        await shoot("batch-list")
        running = next(b for b in app.batches if b.status == "in_progress")
        app.open_batch(running.id)
        await shoot("batch-detail-running")
        app.pop_screen()
        completed = next(b for b in app.batches if b.status == "completed" and b.usage)
        app.open_batch(completed.id)
        await shoot("batch-detail-completed")
        app.pop_screen()
        with_failures = max((b for b in app.batches if b.status == "completed"), key=lambda b: b.request_counts.failed)
        viewer = ResultsScreen(BatchResults(with_failures.id), with_failures.id)
        app.push_screen(viewer)
        while viewer.index is None or not viewer.index.complete:
            await pilot.pause(0.1)
        await pilot.press("n")
        await shoot("results")
        app.pop_screen()
        app.action_files()
        await shoot("files")
        app.pop_screen()
        await new_batch_from_the_example(pilot)
        await shoot("new-batch")
        app.pop_screen()
        await pilot.press("S")
        await shoot("stats")
        app.pop_screen()
        await sql_by_model(pilot, with_failures.id)
        await shoot("sql")
        app.pop_screen()
        await pilot.press("J")
        await shoot("jobs")
        await pilot.press("enter")
        await shoot("job-detail")
    return written


def write_reviews(data: Path, count: int) -> Path:
    """The example's reviews, repeated to `count` rows with ids of their own."""
    rows = list(csv.DictReader((EXAMPLE / "reviews.csv").open()))
    with data.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        for i in range(count):
            writer.writerow({**rows[i % len(rows)], "id": f"r{i + 1:03d}"})
    return data


async def record_a_job(profile: Profile, cache_dir: Path) -> None:
    """A job of the example's reviews, 40 times over, in four parts, with a budget of enqueued tokens that admits
    two parts at a time: the app starts it, and by the last screenshots two parts run and two wait."""
    data = write_reviews(Path("reviews-320.csv"), 320)
    async with await Workspace.open(profile, cache_dir=cache_dir) as workspace:
        runner = JobRunner(workspace)
        source = JobSource(template=Path("template.json"), data=data)
        plan = await asyncio.to_thread(plan_job, source, JobOptions(name="reviews, all stores", part_lines=80,
                                                                    enqueued_tokens=14_000), runner.jobs_dir)
        await runner.record(plan)


async def sql_by_model(pilot, batch_id: str) -> None:
    """The SQL screen after importing a batch and running the token use and cost by model example."""
    await pilot.app.workspace.import_batch(batch_id)
    await pilot.press("Q")
    screen = pilot.app.screen
    assert isinstance(screen, SqlScreen)
    editor = screen.query_one(TextArea)
    editor.text = next(sql for title, sql in EXAMPLE_QUERIES if title.startswith("Token use"))
    editor.focus()
    await pilot.press("ctrl+r")
    while screen.result is None:
        await pilot.pause(0.1)


async def new_batch_from_the_example(pilot) -> None:
    """The new batch screen on the README's example, checked (run from a folder holding copies of it)."""
    await pilot.press("n")
    screen = pilot.app.screen
    assert isinstance(screen, NewBatchScreen)
    await pilot.click("#mode-template")
    screen.query_one("#template-path", Input).value = "template.json"
    data = screen.query_one("#data-path", Input)
    data.value = "reviews.csv"
    data.focus()
    await pilot.press("enter")
    while screen.checked is None:
        await pilot.pause(0.1)
    screen.query_one("#description", Input).value = "reviews, November"


def main() -> None:
    with tempfile.TemporaryDirectory() as home, SandboxServer(SandboxConfig(seed_demo=True)) as server:
        for name in ("template.json", "reviews.csv"):
            shutil.copy(EXAMPLE / name, Path(home) / name)
        os.chdir(home)
        names = asyncio.run(take(server, Path(home) / "cache"))
    print("wrote", ", ".join(f"screenshots/{name}.svg" for name in names))


if __name__ == "__main__":
    main()

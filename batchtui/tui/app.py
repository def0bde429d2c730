"""The Textual app: owns the workspace, the polling loop and the jobs it advances; screens watch `batches`,
`sync_status` and `jobs`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer

from batchtui.core.api.models import Batch
from batchtui.core.api.sync import PollSchedule
from batchtui.core.config import Profile
from batchtui.core.domain import RetryKind
from batchtui.core.errors import BatchtuiError
from batchtui.core.insights.pricing import Cost, batch_costs
from batchtui.core.text import plural, printable
from batchtui.core.workspace import Workspace
from batchtui.tui.commands import BatchIdCommands
from batchtui.tui.format import short_id
from batchtui.tui.literal_app import LiteralApp, freeze_startup_heap
from batchtui.tui.screens.batches import BatchesScreen
from batchtui.tui.sync_status import SyncStatus, failure_state, open_failure
from batchtui.tui.workers import failure_line

if TYPE_CHECKING:  # core.jobs is imported with the first pass over the jobs: the first paint does not need it
    from batchtui.core.jobs.runner import JobRunner, JobView

WORKSPACE_WAIT_SECONDS = 30.0
LOGS = "llm-logs"
"""The worker group of imports into llm_logs: one at a time."""
JOBS = "jobs"
"""The worker group of the passes over the jobs: one at a time, each arming the next."""
PROGRESS_NOTE_SECONDS = 1.5
FIRST_PAINT_BATCHES = 100
"""More rows than the tallest terminal shows: the batches loaded and painted before the rest."""


def with_changed(old: tuple[Batch, ...], changed: list[Batch]) -> tuple[Batch, ...]:
    """`old` with the changed batches swapped in and new ones added, newest first, as the cache lists them. A
    pass changes a few of maybe 10,000 batches: the rest keep their objects (frozen at start-up, so the GC never
    scans them again) and are not read from the cache again."""
    fresh = {batch.id: batch for batch in changed}
    kept = [fresh.pop(batch.id, batch) for batch in old]
    if not fresh:
        return tuple(kept)
    return tuple(sorted([*kept, *fresh.values()], key=lambda batch: (batch.created_at, batch.id), reverse=True))


class BatchtuiApp(LiteralApp):
    """Paints from the cache first, then refreshes in a worker, one pass at a time.

    `clock` is injectable so tests and snapshots can freeze time.
    """

    TITLE = "batchtui"
    CSS_PATH = "app.tcss"
    COMMANDS = LiteralApp.COMMANDS | {BatchIdCommands}
    BINDINGS = [
        Binding("r", "refresh", "Refresh", show=False),  # shown on the home screen; elsewhere `?` and ctrl+p
        Binding("f", "files", "Files", show=False),
        Binding("g", "go_to_batch", "Go to a batch id", show=False),
        Binding("J", "jobs", "Jobs", show=False),
        Binding("question_mark", "show_keys", "Keys", key_display="?"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    batches: reactive[tuple[Batch, ...]] = reactive((), always_update=True)
    sync_status: reactive[SyncStatus] = reactive(SyncStatus())
    costs: reactive[dict[str, Cost | None]] = reactive(dict, always_update=True)
    """Each batch's cost at batch prices by id, None without a price; batches with no tokens are left out (computed
    in a thread after each change)."""
    jobs: reactive[tuple[JobView, ...]] = reactive((), always_update=True)
    """Every job of the cache, newest first, as the last pass over them left it."""

    def __init__(
        self,
        profile: Profile,
        *,
        cache_dir: Path | None = None,
        demo: bool = False,
        clock: Callable[[], float] = time.time,
        bell: bool = False,
    ) -> None:
        super().__init__()
        self.profile = profile
        self.cache_dir = cache_dir
        self.demo = demo
        self.clock = clock
        self.bell_on_change = bell
        self.workspace: Workspace | None = None
        self.poll = PollSchedule()  # when each sync pass is due; tests and the soak benchmark poll faster
        self._poll_timer: Timer | None = None
        self.job_runner: JobRunner | None = None
        self._push_problem: str | None = None
        """The log store's last failure, told once until it changes."""
        """Advances the jobs while the app is open: one lease owner for the app's life."""
        self.job_poll_seconds: float | None = None
        """Seconds between passes over the jobs; None is core's rhythm (`job run`'s). Tests go faster."""
        self._jobs_timer: Timer | None = None
        self._failing_jobs: set[str] = set()

    def on_mount(self) -> None:
        where = printable(self.profile.endpoint)
        self.sub_title = "DEMO · local sandbox, no account needed" if self.demo else f"{self.profile.name} · {where}"
        self.set_class(self.demo, "-demo")
        self.push_screen(BatchesScreen())
        self.start()

    @work(exclusive=True, group="sync", exit_on_error=False)
    async def start(self) -> None:
        """Open the cache and paint what it holds, then sync. The newest batches are painted first and the rest
        (maybe 10,000) follow, so a big account shows its list as soon as a small one. Any failure (a cache folder
        that cannot be written, a bug) stays in the status line, and nothing syncs, until `r` tries again."""
        self.sync_status = SyncStatus()
        workspace = None
        try:
            workspace = await Workspace.open(self.profile, cache_dir=self.cache_dir)
            last = await workspace.last_synced()
            newest = tuple(await workspace.batches(limit=FIRST_PAINT_BATCHES))
        except Exception as exc:
            if workspace is not None:
                with contextlib.suppress(Exception):
                    await workspace.close()
            self.sync_status = SyncStatus("no-cache", message=open_failure(exc))
            return
        self.workspace = workspace
        self.sync_status = SyncStatus("cache", last)
        self.batches = newest
        if self.workspace.notice is not None:
            self.notify(self.workspace.notice, title="Cache rebuilt", severity="warning", markup=False, timeout=30)
        await self._painted()
        self.advance_jobs()
        if len(newest) == FIRST_PAINT_BATCHES:
            self.batches = tuple(await workspace.batches())
            await self._painted()
        freeze_startup_heap()
        await self._sync_pass()

    async def _painted(self) -> None:
        """Return once the screen has been drawn with what is set now: work that would compete with that paint
        for the interpreter (loading thousands of batches, importing the SDK) waits for it."""
        painted = asyncio.get_running_loop().create_future()
        self.call_after_refresh(painted.set_result, None)
        await painted

    async def wait_for_workspace(self) -> Workspace:
        """The workspace once `start` has opened it: a screen opened during start-up waits here."""
        waited = 0.0
        while self.workspace is None:
            if self.sync_status.state == "no-cache":
                raise BatchtuiError(self.sync_status.message)
            if waited >= WORKSPACE_WAIT_SECONDS:
                raise BatchtuiError("The cache is not open, so nothing can be loaded.")
            await asyncio.sleep(0.05)
            waited += 0.05
        return self.workspace

    def action_refresh(self) -> None:
        if self.workspace is not None:
            self.run_sync()
        elif self.sync_status.state == "no-cache":
            self.start()

    @work(exclusive=True, group="sync", exit_on_error=False)
    async def run_sync(self) -> None:
        await self._sync_pass()

    async def _sync_pass(self) -> None:
        """One sync pass; it ends by arming the timer for the next, when core's poll schedule says."""
        assert self.workspace is not None
        if self._poll_timer is not None:
            self._poll_timer.stop()
        previous = self.sync_status
        self.sync_status = previous.pass_started()
        try:
            result = await self.workspace.refresh()
        except Exception as caught:  # a bug too must not end the polling for good
            exc, delay = self.poll.after_failure(caught)
            self.sync_status = SyncStatus(failure_state(exc), previous.last_synced, str(exc),
                                          retry_at=self.clock() + delay)
        else:
            self.sync_status = SyncStatus("synced", self.clock())
            if result.changed:
                before = {b.id: b.status for b in self.batches}
                changed = await self.workspace.batches_by_id(result.changed)
                # up to 10,000 batches on a first sync: in a thread, so the screen keeps its frames
                self.batches = await asyncio.to_thread(with_changed, self.batches, changed)
                self._announce_status_changes(before, result.changed)
            if (self.profile.log_finished or self.profile.log_store) and not self._logging():
                self._log_finished()
            delay = self.poll.after_pass(result)
        self._poll_timer = self.set_timer(delay, self.run_sync)

    def advance_jobs(self) -> None:
        """A pass over the jobs now, unless one is under way (each pass arms the next)."""
        if self.workspace is not None and not any(w.group == JOBS and not w.is_finished for w in self.workers):
            self._jobs_pass()

    @work(group=JOBS, exit_on_error=False, description="advance the jobs")
    async def _jobs_pass(self) -> None:
        """One step of each job that is not finished (a job another process holds is only read: its lease says
        so), then `jobs` for the screens. A failing step is told once and leaves the other jobs going."""
        from batchtui.core.jobs.runner import POLL_SECONDS, JobRunner

        if self._jobs_timer is not None:
            self._jobs_timer.stop()
        assert self.workspace is not None
        try:
            if self.job_runner is None:
                self.job_runner = JobRunner(self.workspace)
            try:
                views = await self.job_runner.jobs()
            except Exception as exc:  # a cache that cannot be read now: told once, tried again next pass
                self._job_trouble("", "The jobs cannot be read", exc)
                return
            self._failing_jobs.discard("")
            for number, view in enumerate(views):
                if view.finished:
                    continue
                try:
                    views[number] = await self.job_runner.step(view.job.id)
                except Exception as exc:  # a bug too must not stop the other jobs, nor the next pass
                    self._job_trouble(view.job.id, f"{view.job.name} ({view.job.id}) was not advanced", exc)
                else:
                    self._failing_jobs.discard(view.job.id)
            self.jobs = tuple(views)
        finally:
            self._jobs_timer = self.set_timer(self.job_poll_seconds or POLL_SECONDS, self.advance_jobs)

    def _job_trouble(self, key: str, what: str, exc: Exception) -> None:
        """Tell a failure of the jobs pass once (by `key`: a job id, "" for reading them) until it passes again."""
        if key not in self._failing_jobs:
            self._failing_jobs.add(key)
            reason = str(exc) if isinstance(exc, BatchtuiError) else failure_line(exc)
            self.notify(f"{what}: {reason}", title="Jobs", severity="warning", markup=False)

    def _logging(self) -> bool:
        return any(worker.group == LOGS and worker.is_running for worker in self.workers)

    @work(group=LOGS, exit_on_error=False, description="put finished batches into llm_logs")
    async def _log_finished(self) -> None:
        """Import batches that finished into llm_logs after a sync pass, a bounded amount each time (see
        Workspace.log_finished): SQL over every request works without a separate import."""
        assert self.workspace is not None
        done = await self.workspace.log_finished(imports=self.profile.log_finished)
        for batch_id, reason in done.failed:
            self.notify(f"{short_id(batch_id, 40)} was not put into llm_logs: {reason}", title="llm_logs",
                        severity="warning", markup=False)
        if done.push_problem and done.push_problem != self._push_problem:
            self.notify(f"{done.push_problem} (tried again after the next sync)", title="Log store",
                        severity="warning", markup=False)
        self._push_problem = done.push_problem

    @work(exclusive=True, group=LOGS, exit_on_error=False, description="put every batch into llm_logs")
    async def _log_every_batch(self) -> None:
        """The palette's "Import every batch into llm_logs": each cached batch, oldest first, with its progress in
        a notification that is replaced every PROGRESS_NOTE_SECONDS."""
        workspace = await self.wait_for_workspace()
        batches = list(reversed(await workspace.batches()))
        failed: list[str] = []
        rows = 0
        noted = 0.0
        for number, batch in enumerate(batches, 1):
            if time.monotonic() - noted >= PROGRESS_NOTE_SECONDS:
                noted = time.monotonic()
                self.notify(f"Importing into llm_logs: batch {number:,} of {len(batches):,}…", title="llm_logs",
                            timeout=PROGRESS_NOTE_SECONDS, markup=False)
            try:
                rows += (await workspace.import_batch(batch)).rows
            except BatchtuiError as exc:
                failed.append(f"{short_id(batch.id, 40)}: {exc}")
        self.notify(f"{plural(len(batches) - len(failed), 'batch')} in llm_logs, {plural(rows, 'request')}."
                    + (f" Not imported: {'; '.join(failed[:3])}" + (" …" if len(failed) > 3 else "") if failed else ""),
                    title="llm_logs", severity="warning" if failed else "information", markup=False, timeout=15)

    def _announce_status_changes(self, before: dict[str, str], changed: list[str]) -> None:
        now = {b.id: b for b in self.batches}
        for batch_id in changed:
            batch = now.get(batch_id)
            old = before.get(batch_id)
            if batch is None or old is None or old == batch.status:
                continue
            severity = "error" if batch.status in ("failed", "expired") else "information"
            self.notify(f"{short_id(batch_id, 40)}: {old} → {batch.status}", title="Batch status", severity=severity,
                        markup=False)
            if self.bell_on_change:
                self.bell()

    def watch_batches(self, batches: tuple[Batch, ...]) -> None:
        self._price_batches(batches)

    @work(thread=True, exclusive=True, group="prices", exit_on_error=False, description="price the batches")
    def _price_batches(self, batches: tuple[Batch, ...]) -> None:
        """Each batch's cost for the list, in a thread: the first call loads genai-prices' data (a third of a
        second), which also makes the detail's costs cheap to draw afterwards."""
        costs = batch_costs(batches)
        self.call_from_thread(setattr, self, "costs", costs)

    def adopt_batch(self, batch: Batch) -> None:
        """A screen fetched a fresher copy of a batch (refresh, cancel): every screen shows it."""
        if any(known.id == batch.id for known in self.batches):
            self.batches = tuple(batch if known.id == batch.id else known for known in self.batches)

    def adopt_job(self, view: JobView) -> None:
        """A screen changed a job (cancel, start): every screen shows it before the next pass."""
        others = tuple(known for known in self.jobs if known.job.id != view.job.id)
        self.jobs = tuple(sorted((view, *others), key=lambda v: (-v.job.created_at, v.job.id)))

    # Screens are imported when first opened: the first paint needs only the list (see docs/benchmarks.md).

    def open_batch(self, batch_id: str) -> None:
        from batchtui.tui.screens.batch_detail import BatchDetailScreen

        self.push_screen(BatchDetailScreen(batch_id))

    def retry_batch(self, batch_id: str) -> None:
        """Ask which requests to send again, then start the retry batch and open it."""

        def answered(kinds: list[RetryKind] | None) -> None:
            if kinds:
                self._run_retry(batch_id, kinds)

        from batchtui.tui.screens.retry import RetryScreen

        self.push_screen(RetryScreen(batch_id), answered)

    @work(group="retry", exit_on_error=False)
    async def _run_retry(self, batch_id: str, kinds: list[RetryKind]) -> None:
        self.notify(f"Preparing a retry of {batch_id}…", markup=False)
        try:
            workspace = await self.wait_for_workspace()
            batch = await workspace.batch(batch_id) or await workspace.fetch_batch(batch_id)
            retry = await workspace.retry_batch(batch, kinds)
        except BatchtuiError as exc:
            self.notify(str(exc), title="Cannot retry", severity="error", markup=False)
            return
        self.batches = (retry, *self.batches)
        counts = retry.request_counts
        size = plural(counts.total, "request") if counts and counts.total else "the requests"
        self.notify(f"Started {retry.id} to retry {size} of {batch_id}.", title="Retry", markup=False)
        self.open_batch(retry.id)

    @work(group="resubmit", exit_on_error=False)
    async def resubmit_batch(self, batch: Batch) -> None:
        """Start a batch again over the same input file, endpoint and metadata (one refused for the enqueued-token
        limit: nothing was wrong with the file), then open it."""
        try:
            workspace = await self.wait_for_workspace()
            again = await workspace.start_batch(batch.input_file_id, batch.endpoint, metadata=batch.metadata)
        except BatchtuiError as exc:
            self.notify(str(exc), title="Cannot submit again", severity="error", markup=False)
            return
        self.batches = (again, *self.batches)
        self.notify(f"Started {again.id} over the input of {batch.id}.", title="Submitted again", markup=False)
        self.open_batch(again.id)

    def action_go_to_batch(self) -> None:
        from batchtui.tui.screens.go_to_batch import GoToBatchScreen

        def chosen(batch_id: str | None) -> None:
            if batch_id is not None:
                self.open_batch(batch_id)

        self.push_screen(GoToBatchScreen(), chosen)

    def action_jobs(self) -> None:
        from batchtui.tui.screens.jobs import JobsScreen

        if not isinstance(self.screen, JobsScreen):
            self.push_screen(JobsScreen())

    def open_job(self, job_id: str) -> None:
        from batchtui.tui.screens.job_detail import JobDetailScreen

        self.push_screen(JobDetailScreen(job_id))

    def action_files(self) -> None:
        from batchtui.tui.screens.files import FilesScreen

        if not isinstance(self.screen, FilesScreen):
            self.push_screen(FilesScreen())

    def action_show_keys(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()


    def get_system_commands(self, screen: Screen):
        yield from super().get_system_commands(screen)
        yield SystemCommand("Refresh now", "Sync batches with the API", self.action_refresh)
        yield SystemCommand("Files", "All files of the account", self.action_files)
        yield SystemCommand("Jobs", "Jobs: datasets carried to the end across many batches (key J)", self.action_jobs)
        yield SystemCommand("Go to a batch", "Open a batch by its id (or paste the id here)", self.action_go_to_batch)
        yield SystemCommand("Import every batch into llm_logs",
                            "Each cached batch's requests and responses, for SQL (finished ones arrive by themselves)",
                            self._log_every_batch)
        yield SystemCommand("Toggle bell", "Ring the terminal bell when a batch changes status", self._toggle_bell)

    def _toggle_bell(self) -> None:
        self.bell_on_change = not self.bell_on_change
        self.notify(f"Bell on status change: {'on' if self.bell_on_change else 'off'}")

    async def on_unmount(self) -> None:
        """Let the sync and llm_logs workers (cancelled on exit) finish first: quit mid-open, the cache it opens gets
        closed; an import rolls back."""
        await asyncio.gather(*(worker.wait() for worker in self.workers if worker.group in ("sync", LOGS, JOBS)),
                             return_exceptions=True)
        if self.job_runner is not None:  # a `job run` started now takes the jobs over at once
            for view in self.jobs:
                with contextlib.suppress(Exception):
                    await self.job_runner.release(view.job.id)
        if self.workspace is not None:
            await self.workspace.close()


def run_app(profile: Profile, *, cache_dir: Path | None = None, demo: bool = False, bell: bool = False) -> None:
    """Run the app in this terminal until the user quits."""
    BatchtuiApp(profile, cache_dir=cache_dir, demo=demo, bell=bell).run()

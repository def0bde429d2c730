"""One batch in full: header, status timeline, progress, usage, errors and files, with its actions.

The screen follows `app.batches`, so every sync pass that changes this batch redraws it; the API and
the cache are only touched in workers.
"""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.timer import Timer
from textual.widgets import Footer, Header, OptionList, Static
from textual.worker import Worker

from batchtui.core.api.models import Batch, FileObject
from batchtui.core.domain import ACTIVE_STATUSES, CANCELLABLE, TERMINAL_STATUSES
from batchtui.core.errors import BatchtuiError
from batchtui.core.insights.pricing import Cost
from batchtui.core.insights.progress import expected_finish
from batchtui.core.insights.timeline import token_limit_failure
from batchtui.core.text import printable
from batchtui.tui.commands import ScreenCommands
from batchtui.tui.delivery import deliver_written_file
from batchtui.tui.format import literal
from batchtui.tui.screens.base import BatchtuiScreen
from batchtui.tui.screens.confirm import ConfirmScreen
from batchtui.tui.screens.download_path import DownloadPathScreen
from batchtui.tui.screens.file_preview import FilePreviewScreen
from batchtui.tui.screens.results import BatchResults, ResultsScreen
from batchtui.tui.widgets.batch_timeline import BatchTimeline
from batchtui.tui.widgets.detail_errors import BatchErrorList
from batchtui.tui.widgets.detail_files import BatchFile, BatchFiles, batch_files
from batchtui.tui.widgets.detail_progress import BatchProgressPanel
from batchtui.tui.widgets.detail_sections import BatchSection, header_table, usage_table

COPY_KEYS = Binding.Group("Copy")
FILE_KEYS = Binding.Group("File")


class BatchDetailScreen(BatchtuiScreen[None]):
    CSS_PATH = "batch_detail.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("c", "cancel_batch", "Cancel"),
        Binding("r", "refresh_batch", "Refresh"),
        Binding("o", "open_results", "Results"),
        Binding("l", "open_error_line", "Error line"),
        Binding("R", "retry", "Retry failed"),
        Binding("S", "resubmit", "Submit again"),
        Binding("y", "copy_id", "Copy batch id", group=COPY_KEYS),
        Binding("Y", "copy_json", "Copy batch JSON", group=COPY_KEYS),
        Binding("v", "view_file", "View file", group=FILE_KEYS),
        Binding("d", "download_file", "Download file", group=FILE_KEYS),
        Binding("i", "copy_file_id", "Copy file id", group=FILE_KEYS),
    ]
    COMMANDS = {ScreenCommands}
    PALETTE = (
        ("Cancel batch", "Ask the API to stop this batch (asks first)", "cancel_batch"),
        ("Refresh batch", "Fetch this batch from the API now", "refresh_batch"),
        ("Open results", "Every request beside its response, in the result viewer", "open_results"),
        ("Open the input at the error line", "The input file's line a validation error names", "open_error_line"),
        ("Retry failed requests", "Send the failed, expired or cancelled requests again as a new batch", "retry"),
        ("Submit the input again", "A batch refused for the enqueued-token limit: start it again, same file",
         "resubmit"),
        ("Copy batch id", "Copy this batch's id to the clipboard", "copy_id"),
        ("Copy batch JSON", "Copy this batch as the API returns it", "copy_json"),
        ("View file", "The highlighted file, whole, read as you scroll", "view_file"),
        ("Download file", "Save the highlighted file to a folder", "download_file"),
        ("Copy file id", "Copy the highlighted file's id", "copy_file_id"),
    )

    def __init__(self, batch_id: str) -> None:
        super().__init__()
        self.batch_id = batch_id
        self.batch: Batch | None = None
        self.estimate: Cost | None = None
        self.request_model: str | None = None
        """The model the batch's requests name, while the API names none (validating, failed validation)."""
        """Validation's cost estimate at start, when the batch was started from here."""
        self._file_infos: dict[str, FileObject] = {}
        self._ticker: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="detail-body"):
            yield Static(id="detail-note", markup=False)
            yield BatchSection(lambda batch: header_table(batch, self.app.clock(), self.request_model),
                               id="detail-header")
            yield BatchTimeline(id="detail-timeline")
            yield BatchProgressPanel(id="detail-progress")
            yield BatchSection(lambda batch: usage_table(batch, self.estimate), id="detail-usage")
            yield Static(id="detail-advice", markup=False)
            yield BatchErrorList(id="detail-errors")
            yield BatchFiles(id="detail-files")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#detail-header").border_title = "Batch"
        self.query_one("#detail-timeline").border_title = "Timeline"
        self.query_one("#detail-progress").border_title = "Progress"
        self.query_one("#detail-usage").border_title = "Usage and cost"
        self.query_one("#detail-files").border_title = "Files · v view · d download · i copy id"
        self.query_one("#detail-usage").display = False
        self.query_one("#detail-advice").display = False
        self._note(f"Loading {self.batch_id}…")
        self.query_one("#detail-body").focus()
        self._ticker = self.set_interval(1.0, self._tick)
        self.watch(self.app, "batches", self._on_batches)
        if self.batch is None:
            self._load()
        self._load_estimate()
        self._load_request_model()

    # -- showing -------------------------------------------------------------------------------

    def _on_batches(self, batches: tuple[Batch, ...]) -> None:
        for batch in batches:
            if batch.id == self.batch_id:
                if batch != self.batch:
                    self._show(batch)
                return

    def _show(self, batch: Batch) -> None:
        """Draw `batch`, and reload what depends on it: observations when it moved, file info for new files."""
        previous = self.batch
        self.batch = batch
        now = self.app.clock()
        self._note("")
        for section in self.query(BatchSection):
            section.show_batch(batch)
        self.query_one(BatchErrorList).show_errors(batch)
        advice = token_limit_failure(batch)
        self.query_one("#detail-advice", Static).update(literal(f"{advice} S submits it again." if advice else ""))
        self.query_one("#detail-advice").display = advice is not None
        timeline = self.query_one(BatchTimeline)
        timeline.batch, timeline.now = batch, now
        progress = self.query_one(BatchProgressPanel)
        active = batch.status in ACTIVE_STATUSES
        progress.expected = expected_finish(batch, self.app.batches) if active and batch.created_at else None
        progress.batch, progress.now = batch, now
        files = batch_files(batch)
        self.query_one(BatchFiles).show_files(
            [BatchFile(f.kind, f.file_id, self._file_infos.get(f.file_id)) for f in files], now
        )
        if previous is None or (previous.status, previous.request_counts) != (batch.status, batch.request_counts):
            self._load_observations()
        if any(f.file_id not in self._file_infos for f in files):
            self._load_file_info()
        self.refresh_bindings()

    def _tick(self) -> None:
        """Once a second, finished batch or not: the header's "created … ago" keeps counting after the end."""
        if self.batch is None:
            return
        now = self.app.clock()
        self.query_one(BatchTimeline).now = now
        self.query_one(BatchProgressPanel).now = now
        self.query_one("#detail-header", BatchSection).show_batch(self.batch)

    def _note(self, text: str) -> None:
        """A quiet line at the top for what is loading or what could not be loaded."""
        note = self.query_one("#detail-note", Static)
        note.update(literal(text))
        note.display = bool(text)

    def _adopt(self, batch: Batch) -> None:
        """A fresher copy fetched here: share it with the whole app (the list shows it too), then draw it."""
        self.app.adopt_batch(batch)
        if batch != self.batch:
            self._show(batch)

    # -- loading -------------------------------------------------------------------------------

    @work(exclusive=True, group="detail-load", exit_on_error=False)
    async def _load(self) -> None:
        """A batch not in the app's list yet: from the cache, else from the API."""
        try:
            workspace = await self.app.wait_for_workspace()
            batch = await workspace.batch(self.batch_id)
            if batch is None and self.batch is None:
                batch = await workspace.fetch_batch(self.batch_id)
        except BatchtuiError as exc:
            if self.batch is None:
                self._note(f"Cannot load {self.batch_id}: {exc}")
            return
        if self.batch is None and batch is not None:
            self._show(batch)

    def worker_failed(self, worker: Worker[object], line: str) -> None:
        """A batch that could not be loaded says so instead of "Loading…"; a download's note is cleared."""
        if worker.group == "detail-load" and self.batch is None:
            self._note(f"Cannot load {self.batch_id}: {line}")
        elif worker.group == "detail-download":
            self._note("")

    @work(exclusive=True, group="detail-estimate", exit_on_error=False)
    async def _load_estimate(self) -> None:
        """Validation's cost estimate, kept when the batch was started from here, to show beside the actual."""
        try:
            self.estimate = await (await self.app.wait_for_workspace()).batch_estimate(self.batch_id)
        except BatchtuiError:
            return
        if self.estimate is not None and self.batch is not None:
            self.query_one("#detail-usage", BatchSection).show_batch(self.batch)

    @work(exclusive=True, group="detail-request-model", exit_on_error=False)
    async def _load_request_model(self) -> None:
        try:
            workspace = await self.app.wait_for_workspace()
            batch = self.batch or await workspace.batch(self.batch_id)
            models = await workspace.request_models([batch]) if batch is not None else {}
        except BatchtuiError:
            return
        self.request_model = models.get(self.batch_id)
        if self.request_model is not None and self.batch is not None:
            self.query_one("#detail-header", BatchSection).show_batch(self.batch)

    @work(exclusive=True, group="detail-observations", exit_on_error=False)
    async def _load_observations(self) -> None:
        try:
            workspace = await self.app.wait_for_workspace()
            observations = await workspace.observations(self.batch_id)
        except BatchtuiError as exc:
            self._note(f"No rate or ETA: {exc}")
            return
        progress = self.query_one(BatchProgressPanel)
        progress.set_observations(observations)
        progress.now = self.app.clock()

    @work(exclusive=True, group="detail-files", exit_on_error=False)
    async def _load_file_info(self) -> None:
        """Names and sizes of the batch's files: from the cache, else from the API."""
        files = self.query_one(BatchFiles)
        try:
            workspace = await self.app.wait_for_workspace()
            for file in list(files.files):
                if file.file_id not in self._file_infos:
                    self._file_infos[file.file_id] = await workspace.file_info(file.file_id)
                    files.with_info(self._file_infos)
        except BatchtuiError as exc:
            self._note(f"File names and sizes unavailable: {exc}")

    # -- actions ---------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Cancel only while the batch can still be cancelled; file actions only with a file highlighted.

        Cancel and the error line are hidden, not dimmed, when they do not apply, so 80 columns hold the footer."""
        if action == "cancel_batch":
            return self.batch is not None and self.batch.status in CANCELLABLE
        if action in ("view_file", "download_file", "copy_file_id"):
            return True if self._selected_file() is not None else None
        if action == "open_error_line":
            return self._error_line() is not None
        if action == "retry":
            return self._retryable()
        if action == "resubmit":
            return self.batch is not None and token_limit_failure(self.batch) is not None
        if action == "copy_json":
            return True if self.batch is not None else None
        return True

    def _selected_file(self) -> BatchFile | None:
        files = self.query(BatchFiles)
        return files.first().selected_file if files else None

    def action_cancel_batch(self) -> None:
        batch = self.batch
        if batch is None or batch.status not in CANCELLABLE:
            return
        question = f"Cancel batch {batch.id}? Lines already done stay in its output file; the rest will not run."
        self.app.push_screen(ConfirmScreen(question, "Cancel batch"), self._cancel_answered)

    def _cancel_answered(self, yes: bool | None) -> None:
        if yes:
            self._run_cancel()

    @work(exclusive=True, group="detail-cancel", exit_on_error=False)
    async def _run_cancel(self) -> None:
        try:
            workspace = await self.app.wait_for_workspace()
            batch = await workspace.cancel_batch(self.batch_id)
        except BatchtuiError as exc:
            self.notify(printable(str(exc)), title="Cannot cancel", severity="error", markup=False)
            return
        self._adopt(batch)
        if batch.status in TERMINAL_STATUSES and batch.status != "cancelled":
            self.notify(f"{batch.id} had already finished ({batch.status}): nothing to cancel.", title="Cancel",
                        markup=False)
        else:
            self.notify(f"Asked to cancel {batch.id}; it is now {batch.status}.", title="Cancel", markup=False)

    def _error_line(self) -> int | None:
        """The input line of the highlighted error, else the first a validation error names, if any."""
        return self.query_one(BatchErrorList).selected_line

    def _retryable(self) -> bool:
        """Whether the batch has ended with requests that failed, expired or were cancelled."""
        batch = self.batch
        if batch is None or batch.status not in TERMINAL_STATUSES or batch.error_file_id is None:
            return False
        return batch.status in ("expired", "cancelled") or bool(batch.request_counts and batch.request_counts.failed)

    def action_retry(self) -> None:
        if self._retryable():
            self.app.retry_batch(self.batch_id)

    def action_resubmit(self) -> None:
        if self.batch is not None and token_limit_failure(self.batch) is not None:
            self.app.resubmit_batch(self.batch)

    def action_open_results(self) -> None:
        self.app.push_screen(ResultsScreen(BatchResults(self.batch_id), self.batch_id))

    def action_open_error_line(self) -> None:
        line = self._error_line()
        if line is not None:
            self.app.push_screen(ResultsScreen(BatchResults(self.batch_id), f"{self.batch_id} input",
                                               start_line=line))

    def action_refresh_batch(self) -> None:
        self._run_refresh()

    @work(exclusive=True, group="detail-refresh", exit_on_error=False)
    async def _run_refresh(self) -> None:
        try:
            workspace = await self.app.wait_for_workspace()
            batch = await workspace.fetch_batch(self.batch_id)
        except BatchtuiError as exc:
            self.notify(printable(str(exc)), title="Cannot refresh", severity="error", markup=False)
            return
        self._adopt(batch)
        self.notify(f"Refreshed {batch.id}: {batch.status}.", markup=False)

    def action_copy_id(self) -> None:
        self.app.copy(self.batch_id, "batch id")

    def action_copy_json(self) -> None:
        if self.batch is not None:
            self.app.copy(self.batch.to_json(indent=True), "batch JSON")

    def action_copy_file_id(self) -> None:
        file = self._selected_file()
        if file is not None:
            self.app.copy(file.file_id, f"{file.kind} file id")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """⏎ on an error opens the input at its line; on a file, views it."""
        event.stop()
        if isinstance(event.option_list, BatchErrorList):
            self.action_open_error_line()
        else:
            self.action_view_file()

    def action_view_file(self) -> None:
        file = self._selected_file()
        if file is not None:
            info = self._file_infos.get(file.file_id)
            title = f"{file.kind} file {info.filename}" if info else f"{file.kind} file"
            self.app.push_screen(FilePreviewScreen(file.file_id, title))

    def action_download_file(self) -> None:
        file = self._selected_file()
        if file is not None:
            self.app.push_screen(
                DownloadPathScreen(f"the {file.kind} file", Path.cwd()), lambda dest: self._download_to(file, dest)
            )

    def _download_to(self, file: BatchFile, dest: Path | None) -> None:
        if dest is None:
            return
        target = self._download_target(file, dest)
        if target is not None and target.exists():
            self.app.push_screen(
                ConfirmScreen(f"{target} already exists. Replace it?", "Replace"),
                lambda yes: self._run_download(file, dest) if yes else None,
            )
        else:
            self._run_download(file, dest)

    def _download_target(self, file: BatchFile, dest: Path) -> Path | None:
        """Where Workspace.download_file will write, when the file's name is known."""
        if not dest.is_dir():
            return dest
        info = self._file_infos.get(file.file_id)
        if info is None:
            return None
        name = Path(info.filename).name
        return dest / (name if name not in ("", ".", "..") else f"{file.file_id}.jsonl")

    @work(exclusive=True, group="detail-download", exit_on_error=False)
    async def _run_download(self, file: BatchFile, dest: Path) -> None:
        shown = -1

        def progress(done: int, total: int) -> None:
            nonlocal shown
            percent = done * 100 // total if total else 100
            if percent != shown:
                shown = percent
                self._note(f"Downloading the {file.kind} file {file.file_id}: {percent}%")

        progress(0, 1)
        try:
            workspace = await self.app.wait_for_workspace()
            saved = await workspace.download_file(file.file_id, dest, progress=progress)
        except BatchtuiError as exc:
            self.notify(printable(str(exc)), title="Download failed", severity="error", markup=False)
            return
        except OSError as exc:
            self.notify(printable(f"Cannot save to {dest}: {exc.strerror or exc}"), title="Download failed",
                        severity="error", markup=False)
            return
        finally:
            self._note("")
        sent = deliver_written_file(self.app, saved)
        self.notify(printable(f"Saved the {file.kind} file to {saved}{sent}"), title="Downloaded", markup=False)

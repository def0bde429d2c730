"""The result viewer: every request of a batch (or of a whole job) beside its response, with filters, search, copy
and export.

Files are fetched into the cache first (once), then indexed in a thread; rows show as soon as the first
are known. The screen never reads a file itself: the index and the record readers in core do.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, ProgressBar, Static
from textual.worker import Worker, get_current_worker

from batchtui.core.api.models import Batch
from batchtui.core.domain import ACTIVE_STATUSES
from batchtui.core.errors import BatchtuiError
from batchtui.core.paths import index_dir
from batchtui.core.results.curl import curl_command
from batchtui.core.results.export import DataJoin, check_export_dest, export_results, wants_data
from batchtui.core.results.index import BuildCancelled, Outcome, ResultFiles, ResultIndex, RowFilter, build_index
from batchtui.core.results.records import answer_text, prompt_text
from batchtui.core.results.retry import finished_retries
from batchtui.core.results.search import search_rows
from batchtui.core.text import plural, printable
from batchtui.tui.commands import ScreenCommands
from batchtui.tui.delivery import deliver_written_file
from batchtui.tui.screens.base import BatchtuiScreen
from batchtui.tui.screens.choice_menu import Choice, ChoiceMenuScreen
from batchtui.tui.screens.confirm import ConfirmScreen
from batchtui.tui.screens.download_path import DownloadPathScreen
from batchtui.tui.widgets.result_detail import ResultDetail
from batchtui.tui.widgets.result_list import ResultList, row_label

DETAIL_DELAY_SECONDS = 0.06
ROWS_REPAINT_SECONDS = 0.25
FIRST_PAINT_WAIT_SECONDS = 1.0
"""Longest the index build waits for the first rows to be painted before it goes on."""
SEARCH_REPAINT_SECONDS = 0.25
FAILURES = frozenset({Outcome.FAILED, Outcome.UNREADABLE})
FILTERS: dict[str, tuple[RowFilter, str]] = {
    "1": ("all", "all"),
    "2": ("succeeded", "succeeded"),
    "3": ("failed", "failed"),
    "4": ("stopped", "expired / cancelled"),
}
COPY_CHOICES: tuple[Choice, ...] = (
    ("y", "custom_id", "custom_id"),
    ("p", "prompt", "prompt text"),
    ("a", "answer", "answer text"),
    ("P", "request", "request JSON"),
    ("A", "response", "response JSON"),
    ("C", "curl", "curl command"),
)


@dataclass(frozen=True)
class BatchResults:
    """A batch's input, output and error files, fetched into the cache."""

    batch_id: str


@dataclass(frozen=True)
class AccountFile:
    """One file of the account (from the file browser), fetched into the cache; `kind` is input, output or error."""

    file_id: str
    kind: str
    batch_id: str | None = None


@dataclass(frozen=True)
class LocalFiles:
    """Files on this machine (`batchtui view`): no account needed."""

    files: ResultFiles


@dataclass(frozen=True)
class JobResults:
    """A whole job: its input with every part's batches' results (fetched into the cache), each row its latest
    attempt."""

    job_id: str


ResultSource = BatchResults | AccountFile | LocalFiles | JobResults


def export_problem(text: str) -> str | None:
    """Why `text` cannot be exported to, in one line, or None."""
    if not text:
        return "Type a file path ending in .csv or .jsonl."
    path = Path(text).expanduser()
    if path.suffix.lower() not in (".csv", ".jsonl"):
        return f"{path.name}: the name must end in .csv or .jsonl"
    if not path.parent.is_dir():
        return f"Folder {path.parent}: no such folder"
    return None


class ResultsScreen(BatchtuiScreen[None]):
    """Open with a ResultSource; `start_line` puts the cursor on the request from that input line."""

    DEFAULT_CSS = """
    ResultsScreen #results-status { height: 1; width: 1fr; padding: 0 1; background: $boost; }
    ResultsScreen #results-status.-error { color: $error; }
    ResultsScreen #results-progress { height: 1; padding: 0 1; }
    ResultsScreen ResultList { height: 45%; }
    ResultsScreen ResultDetail { height: 1fr; border-top: solid $panel; }
    ResultsScreen #results-search { dock: bottom; display: none; }
    ResultsScreen #results-search.-shown { display: block; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("slash", "search", "Search", key_display="/"),
        Binding("n", "next_failure", "Failure"),
        Binding("t", "toggle_raw", "Raw"),
        # one footer key for the four filters (a compact footer runs a key group's keys into its label)
        Binding("1", "filter('1')", "Filter", key_display="1-4"),
        Binding("2", "filter('2')", "Show succeeded requests", show=False),
        Binding("3", "filter('3')", "Show failed requests", show=False),
        Binding("4", "filter('4')", "Show expired or cancelled requests", show=False),
        *(Binding(key, f"copy('{what}')", f"Copy {label}", show=False) for key, what, label in COPY_CHOICES),
        Binding("c", "copy_menu", "Copy"),
        Binding("e", "export", "Export"),
        Binding("R", "retry", "Retry failed", show=False),
    ]
    COMMANDS = {ScreenCommands}
    PALETTE = (
        ("Search requests", "Find text in custom_ids, prompts and answers", "search"),
        ("Next failure", "Move to the next failed or unreadable request", "next_failure"),
        ("Toggle raw JSON", "Show the request and response as raw JSON", "toggle_raw"),
        ("Show all requests", "Clear the status filter", "filter('1')"),
        ("Show succeeded requests", "Only requests with a 2xx response", "filter('2')"),
        ("Show failed requests", "Only failed and unreadable requests", "filter('3')"),
        ("Show expired or cancelled requests", "Only requests the batch never ran", "filter('4')"),
        *((f"Copy {label}", f"Copy the request's {label} to the clipboard", f"copy('{what}')")
          for _, what, label in COPY_CHOICES),
        ("Export rows", "Save the listed rows as CSV or JSONL", "export"),
    )

    def __init__(self, source: ResultSource, title: str, *, start_line: int | None = None) -> None:
        super().__init__()
        self.source = source
        self.title_text = title
        self.start_line = start_line
        self.index: ResultIndex | None = None
        self.filter_key = "1"
        self.query_text = ""
        self.hits: list[int] | None = None
        self._state = "Opening…"
        self._search_state = ""
        self._detail_timer: Timer | None = None
        self._rows_painted_at = 0.0
        self._first_rows_painted = threading.Event()
        self._retries_shown: tuple[tuple[str, str | None, str | None], ...] = ()
        self._batch_ended = False  # known for a batch's results: its requests with no result then never ran

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="results-status", markup=False)
        yield ProgressBar(id="results-progress", show_eta=False)
        yield ResultList(id="results-list")
        yield ResultDetail(id="results-detail")
        yield Input(placeholder="search custom_id, prompt and answer text · enter searches · escape stops",
                    id="results-search")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(ProgressBar).display = False
        self.query_one(ResultList).focus()
        self._paint_status()
        self._open()
        if isinstance(self.source, BatchResults):
            self._retries_shown = finished_retries(self.app.batches, self.source.batch_id)
            self.watch(self.app, "batches", self._follow_retries, init=False)

    def _follow_retries(self, batches: tuple[Batch, ...]) -> None:
        """A retry of this batch that finished while it is shown: open the files again, so each request shows
        its latest attempt (the index follows the retry chain)."""
        assert isinstance(self.source, BatchResults)
        retries = finished_retries(batches, self.source.batch_id)
        if retries != self._retries_shown:
            self._retries_shown = retries
            self.notify("A retry of this batch finished: showing the latest attempts.", title="Results")
            self._open()

    def on_unmount(self) -> None:
        self._first_rows_painted.set()
        if self.index is not None:
            self.index.close()  # one still being built is released by its build (see ResultIndex.close)

    # -- opening --------------------------------------------------------------------------------------

    @work(exclusive=True, group="results-open", exit_on_error=False)
    async def _open(self) -> None:
        try:
            files, store = await self._locate()
        except BatchtuiError as exc:
            self._set_state(f"Cannot open: {exc}", error=True)
            return
        except OSError as exc:
            self._set_state(f"Cannot open: {exc.strerror or exc}", error=True)
            return
        finally:
            self.query_one(ProgressBar).display = False
        self._set_state("Indexing…")
        self._build(files, store)

    async def _locate(self) -> tuple[ResultFiles, Path]:
        """Local paths of the files to show (downloading what is missing) and where to keep the index."""
        source = self.source
        if isinstance(source, LocalFiles):
            return source.files, index_dir()
        workspace = await self.app.wait_for_workspace()
        self._set_state("Fetching files…")
        if isinstance(source, JobResults):
            from batchtui.core.jobs.runner import JobRunner

            job, files = await JobRunner(workspace).result_files(source.job_id, progress=self._download_progress)
            self._batch_ended = job.ended
            return files, workspace.index_dir()
        if isinstance(source, BatchResults):
            batch = await workspace.batch(source.batch_id) or await workspace.fetch_batch(source.batch_id)
            self._batch_ended = batch.status not in ACTIVE_STATUSES
            files = await workspace.batch_result_files(batch, progress=self._download_progress)
            file_ids = [batch.input_file_id, batch.output_file_id, batch.error_file_id]
        else:
            path = await workspace.file_copy(source.file_id, source.kind, batch_id=source.batch_id,
                                             progress=self._download_progress)
            files = ResultFiles(**{"errors" if source.kind == "error" else source.kind: path})
            file_ids = [source.file_id]
        expired = await workspace.expired_on_api(file_id for file_id in file_ids if file_id)
        if expired:
            names = ", ".join(f"{f.filename} ({f.id})" for f in expired)
            self.notify(f"Expired on the API: {names}. Showing the copy cached here.", title="Results",
                        markup=False, timeout=10)
        return files, workspace.index_dir()

    def _download_progress(self, done: int, total: int) -> None:
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=total or 1, progress=done)

    @work(thread=True, exclusive=True, group="results-index", exit_on_error=False)
    def _build(self, files: ResultFiles, store: Path) -> None:
        worker = get_current_worker()

        def on_rows(index: ResultIndex) -> None:
            self.post_message(self.RowsKnown(index))
            # The first rows are painted before the build goes on: it would hold the GIL the first frame needs.
            self._first_rows_painted.wait(FIRST_PAINT_WAIT_SECONDS)

        try:
            index = build_index(files, store_dir=store, cancelled=lambda: worker.is_cancelled, on_rows=on_rows,
                                batch_ended=self._batch_ended)
        except BuildCancelled:  # the screen has gone, or opens the files again
            return
        except BatchtuiError as exc:
            if not worker.is_cancelled:
                self.app.call_from_thread(self._set_state, f"Cannot index: {exc}", True)
            return
        if worker.is_cancelled:  # the screen has gone: nobody will close it
            index.close()
        else:
            self.post_message(self.RowsKnown(index))

    def worker_failed(self, worker: Worker[object], line: str) -> None:
        """Say why the rows will not come instead of "Opening…" or "Indexing…"; a failed search stops searching."""
        if worker.group in ("results-open", "results-index"):
            self.query_one(ProgressBar).display = False
            self._set_state(f"Cannot {'open' if worker.group == 'results-open' else 'index'}: {line}", error=True)
        elif worker.group == "results-search":
            self._search_state = ""
            self._list_rows()

    class RowsKnown(Message):
        """The index being built has more rows, or has finished (posted from the build thread)."""

        def __init__(self, index: ResultIndex) -> None:
            super().__init__()
            self.index = index

    class SearchProgress(Message):
        """A search found more hits or finished (posted from the search thread)."""

        def __init__(self, hits: list[int], done: int, total: int) -> None:
            super().__init__()
            self.hits, self.done, self.total = hits, done, total

    def on_results_screen_rows_known(self, message: RowsKnown) -> None:
        """List the rows known so far (at most every ROWS_REPAINT_SECONDS while building, so the UI leaves the
        build thread the CPU), and jump to `start_line` once it is there."""
        index = message.index
        first = self.index is None
        now = time.monotonic()
        if not first and not index.complete and now - self._rows_painted_at < ROWS_REPAINT_SECONDS:
            return
        self._rows_painted_at = now
        replaced = self.index if self.index is not index else None  # the files were opened again (a retry)
        self.index = index
        if replaced is not None:
            replaced.close()
            self.hits = None
        if index.complete:
            self._set_state("")
            self._show_detail(self.query_one(ResultList).cursor_row)  # its row may have been joined since
        else:
            self._set_state(f"Indexing… {plural(len(index), 'request')} so far")
        listing = self.query_one(ResultList)
        if first:
            self.call_after_refresh(self._first_rows_painted.set)
        if first or self.hits is None:
            self._list_rows()
        else:
            listing.rows_changed()
        if self.start_line is not None:
            row = index.row_of_input_line(self.start_line)
            if row is not None or index.complete:
                self.start_line = None
            if row is not None and not listing.move_to_row(row):
                self.action_filter("1")
                listing.move_to_row(row)

    # -- listing --------------------------------------------------------------------------------------

    def _filtered_rows(self) -> list[int] | range:
        assert self.index is not None
        which = FILTERS[self.filter_key][0]
        return range(len(self.index)) if which == "all" else self.index.rows(which)

    def _list_rows(self) -> None:
        if self.index is None:
            return
        rows = self.hits if self.hits is not None else self._filtered_rows()
        listing = self.query_one(ResultList)
        listing.empty_message = self._empty_reason()
        listing.show(self.index, rows)
        self._paint_status()

    def _empty_reason(self) -> str:
        if self.index is not None and not self.index.complete:
            return "Indexing…"
        if self.hits is not None:
            return f"No request matches '{self.query_text}'." if not self._search_state else "Searching…"
        if self.filter_key != "1":
            return f"No {FILTERS[self.filter_key][1]} requests."
        return "No requests in these files."

    def action_filter(self, key: str) -> None:
        self.filter_key = key
        self._stop_search()
        self._list_rows()

    def on_result_list_highlighted(self, event: ResultList.Highlighted) -> None:
        """Draw the request in the pane once the cursor rests, so holding a key only repaints the list."""
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(DETAIL_DELAY_SECONDS, partial(self._show_detail, event.row))

    def _show_detail(self, row: int | None) -> None:
        if self.index is not None:
            self.query_one(ResultDetail).show(self.index, row)

    def action_toggle_raw(self) -> None:
        detail = self.query_one(ResultDetail)
        detail.raw = not detail.raw

    def action_next_failure(self) -> None:
        listing = self.query_one(ResultList)
        if self.index is None:
            return
        rows = listing.rows
        for position in range(listing.cursor + 1, len(rows)):
            if self.index.outcome(rows[position]) in FAILURES:
                listing.move_to_row(rows[position])
                return
        self.notify("No failure below this row.", markup=False)

    # -- status ---------------------------------------------------------------------------------------

    def _set_state(self, text: str, error: bool = False) -> None:
        self._state = text
        self.query_one("#results-status").set_class(error, "-error")
        self._paint_status()

    def _paint_status(self) -> None:
        parts = [self.title_text]
        if self.index is not None:
            shown = len(self.query_one(ResultList).rows)
            parts.append(plural(len(self.index), "request"))
            if self.filter_key != "1":  # under "all" a search's hits are what is shown: its part says how many
                parts.append(f"showing {shown:,} {FILTERS[self.filter_key][1]}")
        if self.hits is not None:
            parts.append(f"search '{self.query_text}': {plural(len(self.hits), 'hit')}{self._search_state}")
        if self._state:
            parts.append(self._state)
        # One line of fixed size: no layout pass (which costs tens of ms) on each update during a search.
        # The title is a file name and the state may quote the API: untrusted, so escaped like any other.
        self.query_one("#results-status", Static).update(printable(" · ".join(parts)), layout=False)

    # -- search ---------------------------------------------------------------------------------------

    def action_search(self) -> None:
        box = self.query_one("#results-search", Input)
        box.add_class("-shown")
        box.focus()

    @on(Input.Submitted, "#results-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        query = event.value.strip()
        self.query_one(ResultList).focus()
        if not query:
            self._close_search()
            return
        if self.index is None or not self.index.complete:
            self.notify("Wait for the index to finish, then search.", markup=False)
            return
        self.query_text = query
        self.hits = []
        self._search_state = " (searching 0%)"
        self._list_rows()
        self._run_search(self.index, list(self._filtered_rows()), query)

    @work(thread=True, exclusive=True, group="results-search", exit_on_error=False,
           description="search the rows")  # not a repr of every row
    def _run_search(self, index: ResultIndex, rows: list[int], query: str) -> None:
        worker = get_current_worker()
        posted = [0.0, 0]  # when, and with how many hits

        def progress(hits: list[int], done: int) -> None:
            """Post the first hits at once, then at most every SEARCH_REPAINT_SECONDS: each repaint costs the UI
            a frame of work."""
            now = time.monotonic()
            due = (hits and not posted[1]) or done == len(rows) or now - posted[0] >= SEARCH_REPAINT_SECONDS
            if worker.is_cancelled or not due:
                return
            posted[:] = [now, len(hits)]
            self.post_message(self.SearchProgress(list(hits), done, len(rows)))

        search_rows(index, rows, query, progress=progress, cancelled=lambda: worker.is_cancelled)

    def on_results_screen_search_progress(self, message: SearchProgress) -> None:
        if self.hits is None:
            return
        self.hits = message.hits
        done, total = message.done, message.total
        self._search_state = "" if done >= total else f" (searching {done * 100 // max(total, 1)}%)"
        self._list_rows()

    @property
    def searching(self) -> bool:
        """Whether a search is still going through the rows (the status line shows how far)."""
        return bool(self._search_state)

    def _stop_search(self) -> None:
        self.workers.cancel_group(self, "results-search")
        self.hits = None
        self._search_state = ""
        self.query_one("#results-search", Input).remove_class("-shown")

    def _close_search(self) -> None:
        self._stop_search()
        self._list_rows()

    def action_back(self) -> None:
        """Escape closes the search first, then the screen (in `batchtui view`, the app)."""
        if self.hits is not None or self.query_one("#results-search").has_class("-shown"):
            self._close_search()
            self.query_one(ResultList).focus()
        elif len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            self.app.exit()

    # -- copy -----------------------------------------------------------------------------------------

    def _selected(self) -> int | None:
        return self.query_one(ResultList).cursor_row if self.index is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("copy", "copy_menu", "export", "next_failure", "toggle_raw"):
            return True if self._selected() is not None else None
        if action == "retry":
            return isinstance(self.source, BatchResults)
        return True

    def action_retry(self) -> None:
        """Send again the requests whose latest attempt failed (the app asks which kinds)."""
        if isinstance(self.source, BatchResults):
            self.app.retry_batch(self.source.batch_id)

    def action_copy_menu(self) -> None:
        self.app.push_screen(ChoiceMenuScreen("Copy to the clipboard", COPY_CHOICES),
                             lambda what: self.action_copy(what) if what else None)

    def action_copy(self, what: str) -> None:
        row = self._selected()
        if row is None or self.index is None:
            return
        index = self.index
        request, response = index.input_line(row), index.output_line(row)
        if what == "custom_id":
            text = index.custom_id(row) or row_label(index, row)
        elif what == "prompt":
            text = prompt_text(request)
        elif what == "answer":
            text = answer_text(response)
        elif what in ("request", "response"):
            line = request if what == "request" else response
            text = line.decode("utf-8", errors="replace") if line is not None else ""
        else:
            if request is None:
                self.notify("This request's input line is not in the files opened.", severity="warning", markup=False)
                return
            try:
                profile = self.app.profile
                text = curl_command(request, profile.endpoint,
                                    azure_api_version=profile.api_version if profile.kind == "azure" else None)
            except BatchtuiError as exc:
                self.notify(str(exc), title="Cannot copy as curl", severity="error", markup=False)
                return
        if not text:
            self.notify(f"This request has no {what} to copy.", severity="warning", markup=False)
            return
        self.app.copy(text, next(label for _, kind, label in COPY_CHOICES if kind == what))

    # -- export ---------------------------------------------------------------------------------------

    def action_export(self) -> None:
        rows = self.query_one(ResultList).rows
        name = Path(self.title_text.split(" ")[0]).stem or "results"
        self.app.push_screen(
            DownloadPathScreen(plural(len(rows), "row"), Path.cwd() / f"{name}.results.csv", verb="Export",
                               hint=".csv or .jsonl · enter saves · escape cancels", check=export_problem),
            partial(self._export_to, list(rows)),
        )

    def _export_to(self, rows: list[int], dest: Path | None) -> None:
        if dest is None or self.index is None:
            return
        if dest.exists():
            self.app.push_screen(ConfirmScreen(f"{dest} already exists. Replace it?", "Replace"),
                                 lambda yes: self._prepare_export(self.index, rows, dest) if yes else None)
        else:
            self._prepare_export(self.index, rows, dest)

    @work(exclusive=True, group="results-export", exit_on_error=False,
           description="prepare the export")  # not a repr of every row
    async def _prepare_export(self, index: ResultIndex, rows: list[int], dest: Path) -> None:
        """A CSV of a batch made by make-batch-file gets the data's columns: find them, then export. The batch's
        own files (its results, its data, input and manifest) are never replaced."""
        own = {path for path in index.files.paths() if path is not None}
        data = None
        if isinstance(self.source, BatchResults):
            try:
                workspace = await self.app.wait_for_workspace()
                batch = await workspace.batch(self.source.batch_id)
                if batch is not None:
                    own |= await workspace.batch_sources(batch)
                    data = await workspace.data_join(batch) if wants_data(dest) else None
            except BatchtuiError as exc:
                self.notify(f"{exc} Exporting without the data's columns.", title="Data file", severity="warning",
                            markup=False)
        elif isinstance(self.source, JobResults):
            from batchtui.core.jobs.runner import JobRunner

            try:
                runner = JobRunner(await self.app.wait_for_workspace())
                own |= await runner.sources(self.source.job_id)
                data = await runner.data_join(self.source.job_id) if wants_data(dest) else None
            except BatchtuiError as exc:
                self.notify(f"{exc} Exporting without the data's columns.", title="Data file", severity="warning",
                            markup=False)
        try:
            check_export_dest(dest, own)
        except BatchtuiError as exc:
            self.notify(str(exc), title="Not exported", severity="error", markup=False)
            return
        self._run_export(index, rows, dest, data)

    @work(thread=True, exclusive=True, group="results-export-write", exit_on_error=False,
           description="write the export")  # not a repr of every row
    def _run_export(self, index: ResultIndex, rows: list[int], dest: Path, data: DataJoin | None) -> None:
        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            self.app.call_from_thread(self._download_progress, done, total)

        try:
            written = export_results(index, rows, dest, data=data, progress=progress,
                                     cancelled=lambda: worker.is_cancelled)
        except BatchtuiError as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Export failed", severity="error", markup=False)
            return
        finally:
            self.app.call_from_thread(lambda: setattr(self.query_one(ProgressBar), "display", False))
        sent = self.app.call_from_thread(deliver_written_file, self.app, dest)
        self.app.call_from_thread(self.notify, f"Exported {plural(written, 'row')} to {dest}{sent}", title="Exported",
                                  markup=False)

"""Jobs: each job of the cache in a row (progress across its parts, spend against its ceiling, attempts, ETA),
following `app.jobs` as the app advances them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from batchtui.core.insights.pricing import usd
from batchtui.core.text import plural
from batchtui.tui.commands import ScreenCommands
from batchtui.tui.format import clip, literal, span
from batchtui.tui.screens.base import BatchtuiScreen

if TYPE_CHECKING:
    from batchtui.core.jobs.runner import JobView

COLUMNS = ("Job", "Status", "OK/failed/pending", "Parts", "Spend", "Try", "ETA")
MIN_NAME_CHARS = 12
WIDE_WIDTH = 100
"""From this many columns the requests column also says their total ("… of 3,000") and money has room to breathe."""
SCROLLBAR_CELLS = 2
JOB_STATUS_STYLES = {
    "running": "bold cyan",
    "paused": "bold yellow",
    "completed": "bold green",
    "failed": "bold red",
    "cancelled": "dim",
}


def job_status(view: JobView) -> Text:
    return literal(view.job.status, JOB_STATUS_STYLES.get(view.job.status, "bold"))


def spend_text(view: JobView, *, wide: bool = True) -> str:
    """'$0.42 / $5.00' against a ceiling ('$0.42/$5.00' when narrow), else '$0.42'."""
    ceiling = view.job.max_cost_usd
    return usd(view.spend) + ((" / " if wide else "/") + usd(ceiling) if ceiling is not None else "")


def requests_text(view: JobView, *, wide: bool = True) -> str:
    """'270/3/27 of 300': requests succeeded, failed for good and pending, of the job's total ('270/3/27' when
    narrow: the total is their sum)."""
    return f"{view.succeeded:,}/{view.failed:,}/{view.pending:,}" + (f" of {view.job.requests:,}" if wide else "")


def parts_text(view: JobView) -> str:
    return f"{sum(part.done for part in view.parts)}/{len(view.parts)}"


def top_attempt(view: JobView) -> int:
    """The highest attempt number any part has reached (1 until something is sent again)."""
    return max((item.attempt.attempt for item in view.attempts), default=0)


def eta_text(view: JobView, now: float) -> str:
    """How long a running job may still take, at the pace it has kept; '-' when not running or not known."""
    eta = view.eta(now) if view.job.status == "running" else None
    return "-" if eta is None else span(eta - now)


def job_cells(view: JobView, now: float, name_chars: int, *, wide: bool = True) -> list[Text]:
    """One table row; every cell a literal Text (job names come from users' files)."""
    return [literal(clip(view.job.name, name_chars)), job_status(view), literal(requests_text(view, wide=wide)),
            literal(parts_text(view)), literal(spend_text(view, wide=wide)), literal(str(top_attempt(view))),
            literal(eta_text(view, now))]


def job_summary(view: JobView) -> str:
    """The line under the list: the job's id, why it stands as it does, and who advances it."""
    job = view.job
    bits = [job.id, job.status + (f": {job.reason}" if job.reason else "")]
    if view.running:
        bits.append(f"{plural(len(view.running), 'batch', 'batches')} running")
    if view.watching:
        bits.append(f"advanced by {view.watching}")
    return " · ".join(bits)


class JobsScreen(BatchtuiScreen[None]):
    """Every job, newest first; ⏎ opens one. The app advances them, this screen only follows `app.jobs`."""

    DEFAULT_CSS = """
    JobsScreen #jobs-status { height: 1; padding: 0 1; background: $boost; }
    JobsScreen DataTable { height: 1fr; }
    JobsScreen #job-line { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("enter", "open_job", "Open", show=False),
        Binding("r", "refresh", "Refresh"),
        Binding("n", "new_batch", "New"),
    ]
    COMMANDS = {ScreenCommands}
    PALETTE = (
        ("Open the job", "Its parts and their batches, its results", "open_job"),
        ("Refresh jobs", "Advance the jobs now, as the app does every few seconds", "refresh"),
        ("New job", "Check a file on the new batch screen, then Start as a job", "new_batch"),
    )

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="jobs-status", markup=False)
        yield DataTable(id="jobs", cursor_type="row", zebra_stripes=True)
        yield Static(id="job-line", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.watch(self.app, "jobs", self.paint, init=False)
        if self.app.job_runner is not None:  # a pass has read them
            self.paint(self.app.jobs)
        else:
            self.query_one("#jobs-status", Static).update("Reading the jobs…")
            self.app.advance_jobs()

    def on_resize(self, event: events.Resize) -> None:
        if self.query_one(DataTable).row_count:
            self.paint(self.app.jobs)

    def paint(self, views: tuple[JobView, ...]) -> None:
        """Fill the table, keeping the cursor on the same job."""
        table = self.query_one(DataTable)
        keep = self.selected_id()
        now = self.app.clock()
        table.clear()
        wide = self.app.size.width >= WIDE_WIDTH
        room = self._name_room(views, now, wide)
        for view in views:
            table.add_row(*job_cells(view, now, room, wide=wide), key=view.job.id)
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        running = sum(not view.finished for view in views)
        status = (f"{plural(len(views), 'job')}, {running:,} not finished · the app advances them while it is open"
                  if views else "No jobs yet: on the new batch screen (n), check a file, then Start as a job.")
        self.query_one("#jobs-status", Static).update(status)
        self.show_line()

    def _name_room(self, views: tuple[JobView, ...], now: float, wide: bool) -> int:
        """How many cells the names may take so that the row fits: every other column keeps its widest cell."""
        widths = [cell_len(title) for title in COLUMNS]
        for view in views:
            cells = job_cells(view, now, 0, wide=wide)
            widths = [max(width, cell.cell_len) for width, cell in zip(widths, cells, strict=True)]
        spare = self.app.size.width - SCROLLBAR_CELLS - sum(widths[1:]) - 2 * len(COLUMNS)
        return max(MIN_NAME_CHARS, spare)

    def selected_id(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def selected(self) -> JobView | None:
        job_id = self.selected_id()
        return next((view for view in self.app.jobs if view.job.id == job_id), None)

    @on(DataTable.RowHighlighted)
    def show_line(self) -> None:
        view = self.selected()
        self.query_one("#job-line", Static).update(literal(job_summary(view) if view else ""))

    @on(DataTable.RowSelected)
    def action_open_job(self) -> None:
        if (job_id := self.selected_id()) is not None:
            self.app.open_job(job_id)

    def action_refresh(self) -> None:
        self.app.advance_jobs()

    def action_new_batch(self) -> None:
        from batchtui.tui.screens.new_batch import NewBatchScreen

        self.app.push_screen(NewBatchScreen())

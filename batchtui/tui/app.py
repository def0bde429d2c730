"""The Textual app. Until the screens land (issue 3) it shows one table of cached batches, kept fresh."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openai.types import Batch
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header

from batchtui.core.config import Profile
from batchtui.core.errors import BatchtuiError
from batchtui.core.text import printable
from batchtui.core.workspace import Workspace

ACTIVE_POLL_SECONDS = 5.0
IDLE_POLL_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 300.0
COLUMNS = ("Batch", "Status", "Created", "Endpoint", "Model", "Requests", "Description")


def batch_cells(batch: Batch) -> list[Text]:
    """One table row; every value is literal Text, never markup."""
    counts = batch.request_counts
    requests = f"{counts.completed + counts.failed}/{counts.total}" if counts and counts.total else "-"
    created = dt.datetime.fromtimestamp(batch.created_at).strftime("%Y-%m-%d %H:%M")
    description = (batch.metadata or {}).get("description", "")
    values = (batch.id, batch.status, created, batch.endpoint, batch.model or "-", requests, description)
    return [Text(printable(value)) for value in values]


class BatchtuiApp(App[None]):
    """Paints from the cache first, then refreshes over the network in a worker, one pass at a time."""

    TITLE = "batchtui"
    BINDINGS = [Binding("r", "refresh", "Refresh"), Binding("q", "quit", "Quit")]

    def __init__(self, profile: Profile, *, cache_dir: Path | None = None, demo: bool = False) -> None:
        super().__init__()
        self.profile = profile
        self.cache_dir = cache_dir
        self.demo = demo
        self.workspace: Workspace | None = None
        self._failures = 0
        self._poll_timer = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="batches", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        where = printable(self.profile.endpoint)
        if self.demo:
            self.sub_title = f"DEMO: local sandbox at {where}, no account needed"
        else:
            self.sub_title = f"{self.profile.name} · {where}"
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.start()

    @work(exclusive=True, group="sync", exit_on_error=False)
    async def start(self) -> None:
        try:
            self.workspace = await Workspace.open(self.profile, cache_dir=self.cache_dir)
            self.show_batches(await self.workspace.batches())
        except BatchtuiError as exc:
            self.notify(str(exc), title="Cannot open the cache", severity="error", markup=False)
            return
        await self.refresh_batches()

    def action_refresh(self) -> None:
        if self.workspace is not None:
            self.run_refresh()

    @work(exclusive=True, group="sync", exit_on_error=False)
    async def run_refresh(self) -> None:
        await self.refresh_batches()

    async def refresh_batches(self) -> None:
        """One sync pass; it ends by arming the timer for the next, backing off after failures."""
        assert self.workspace is not None
        if self._poll_timer is not None:
            self._poll_timer.stop()
        try:
            result = await self.workspace.refresh()
            self._failures = 0
            if result.changed:
                self.show_batches(await self.workspace.batches())
            delay = ACTIVE_POLL_SECONDS if result.active else IDLE_POLL_SECONDS
        except BatchtuiError as exc:
            self._failures += 1
            delay = min(MAX_BACKOFF_SECONDS, ACTIVE_POLL_SECONDS * 2**self._failures)
            self.notify(f"{exc} Retrying in {delay:.0f} s.", title="Refresh failed", severity="warning", markup=False)
        self._poll_timer = self.set_timer(delay, self.run_refresh)

    def show_batches(self, batches: list[Batch]) -> None:
        """Update rows in place so the cursor stays on the batch the user put it on."""
        table = self.query_one(DataTable)
        if any(batch.id not in table.rows for batch in batches):
            selected = table.coordinate_to_cell_key(table.cursor_coordinate).row_key if table.row_count else None
            table.clear()
            for batch in batches:
                table.add_row(*batch_cells(batch), key=batch.id)
            if selected is not None and selected in table.rows:
                table.move_cursor(row=table.get_row_index(selected))
            return
        for batch in batches:
            for column, value in zip(table.ordered_columns, batch_cells(batch), strict=True):
                table.update_cell(batch.id, column.key, value)

    async def on_unmount(self) -> None:
        if self.workspace is not None:
            await self.workspace.close()


def run_app(profile: Profile, *, cache_dir: Path | None = None, demo: bool = False) -> None:
    """Run the app in this terminal until the user quits."""
    BatchtuiApp(profile, cache_dir=cache_dir, demo=demo).run()

"""Home screen: one row per batch. (Interim DataTable version; the virtual list replaces it.)"""

from __future__ import annotations

from openai.types import Batch
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from batchtui.tui.format import clock, literal, status_badge
from batchtui.tui.sync_status import SyncStatus

COLUMNS = ("Batch", "Status", "Created", "Endpoint", "Model", "Requests", "Description")


def batch_cells(batch: Batch) -> list:
    counts = batch.request_counts
    requests = f"{counts.completed + counts.failed}/{counts.total}" if counts and counts.total else "-"
    description = (batch.metadata or {}).get("description", "")
    return [literal(batch.id), status_badge(batch.status), literal(clock(batch.created_at)), literal(batch.endpoint),
            literal(batch.model or "-"), literal(requests), literal(description)]


class BatchesScreen(Screen):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="sync-status")
        yield DataTable(id="batches", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.watch(self.app, "batches", self.show_batches)
        self.watch(self.app, "sync_status", self.show_status)

    def show_status(self, status: SyncStatus) -> None:
        self.query_one("#sync-status", Static).update(literal(status.describe(self.app.clock())))

    def show_batches(self, batches: tuple[Batch, ...]) -> None:
        table = self.query_one(DataTable)
        if any(batch.id not in table.rows for batch in batches):
            table.clear()
            for batch in batches:
                table.add_row(*batch_cells(batch), key=batch.id)
            return
        for batch in batches:
            for column, value in zip(table.ordered_columns, batch_cells(batch), strict=True):
                table.update_cell(batch.id, column.key, value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.open_batch(event.row_key.value)

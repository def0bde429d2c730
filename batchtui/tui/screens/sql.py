"""The SQL screen: a query editor over the cache (read-only), results in a paged table, example queries, copy
and CSV export."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static, TextArea
from textual.worker import Worker, get_current_worker

from batchtui.core.cache.sql import EXAMPLE_QUERIES, QueryResult, Value, run_readonly_query
from batchtui.core.errors import BatchtuiError
from batchtui.core.logstore import LogStore
from batchtui.core.results.export import export_table_csv
from batchtui.core.text import plural, printable
from batchtui.tui.commands import ScreenCommands
from batchtui.tui.delivery import deliver_written_file
from batchtui.tui.format import literal
from batchtui.tui.screens.base import BatchtuiScreen
from batchtui.tui.screens.choice_menu import ChoiceMenuScreen
from batchtui.tui.screens.download_path import DownloadPathScreen

PAGE_ROWS = 500
MAX_ROWS = 50_000
"""Rows a query may return to the screen; a query with more says so (add LIMIT / OFFSET, or use the CLI)."""
CELL_CHARS = 200


def cell_text(value: Value) -> str:
    """A value as one line of a cell: NULL spelled out, text cut to CELL_CHARS, escapes made visible."""
    if value is None:
        return "NULL"
    text = value.hex() if isinstance(value, bytes) else str(value)
    text = text if len(text) <= CELL_CHARS else text[:CELL_CHARS] + "…"
    return printable(text.replace("\n", " "))


def copy_text(value: Value) -> str:
    """A value as it goes to the clipboard: whole, NULL as empty."""
    if value is None:
        return ""
    return value.hex() if isinstance(value, bytes) else str(value)


class SqlScreen(BatchtuiScreen[None]):
    """Type a query over `batches`, `files`, `llm_logs` ...; ctrl+r runs it in a thread on a read-only connection."""

    COMMANDS = {ScreenCommands}
    PALETTE = (
        ("Run the query", "Run the editor's query on the cache (read-only)", "run"),
        ("Example queries", "Put an example query in the editor", "examples"),
        ("Copy the cell", "Copy the highlighted cell", "copy_cell"),
        ("Copy the row", "Copy the highlighted row, tab-separated", "copy_row"),
        ("Export results to CSV", "Save every row the query returned as CSV", "export"),
        ("Query the team's log store / the cache", "Switch where queries run ([log_store] in config.toml)",
         "switch_store"),
    )
    DEFAULT_CSS = """
    SqlScreen #sql-editor { height: 9; }
    SqlScreen #sql-status { height: auto; padding: 0 1; background: $boost; }
    SqlScreen #sql-status.-error { color: $error; }
    SqlScreen DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+r", "run", "Run"),
        Binding("f2", "examples", "Examples"),  # ctrl+e is the editor's end of line
        Binding("ctrl+o", "export", "Export CSV"),
        Binding("ctrl+t", "switch_store", "Cache/store", show=False),  # said in the status when a store is set
        Binding("y", "copy_cell", "Copy cell", show=False),
        Binding("Y", "copy_row", "Copy row", show=False),
        Binding("right_square_bracket", "page(1)", "Next page", key_display="]"),
        Binding("left_square_bracket", "page(-1)", "Previous page", key_display="[", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.result: QueryResult | None = None
        self.page = 0
        self.on_store = False
        """Whether queries run on the team's PostgreSQL log store rather than the cache."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield TextArea.code_editor(EXAMPLE_QUERIES[0][1], language="sql", id="sql-editor", soft_wrap=True)
        yield Static("ctrl+r runs the query · f2 example queries · the cache is opened read-only",
                     id="sql-status", markup=False)
        yield DataTable(id="sql-results", zebra_stripes=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()
        workspace = self.app.workspace
        if workspace is not None and workspace.log_store() is not None:
            self._status("ctrl+r runs the query · f2 example queries · ctrl+t runs them on the team's log store")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("copy_cell", "copy_row", "page"):
            return self.focused is self.query_one(DataTable) and bool(self.result and self.result.rows)
        if action == "export":
            return bool(self.result and self.result.columns)
        return True

    def _status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#sql-status", Static)
        status.update(literal(text))
        status.set_class(error, "-error")

    # -- running ----------------------------------------------------------------------------------------

    def action_switch_store(self) -> None:
        """Run queries on the team's log store instead of the cache, or back."""
        workspace = self.app.workspace
        if not self.on_store and (workspace is None or workspace.log_store() is None):
            self._status('No log store is set: add [log_store] url = "postgresql://..." to config.toml, or set '
                         "BATCHTUI_LOG_STORE.", error=True)
            return
        self.on_store = not self.on_store
        where = (f"the team's log store, {workspace.log_store().settings.shown}" if self.on_store and workspace
                 and workspace.log_store() else "the cache")
        self._status(f"Queries run on {where} (read-only) · ctrl+t switches")

    def action_run(self) -> None:
        workspace = self.app.workspace
        if workspace is None:
            self._status("The cache is not open yet.", error=True)
            return
        self._status("running…")
        self._run(workspace.cache_path, self.query_one(TextArea).text,
                  workspace.log_store() if self.on_store else None)

    @work(thread=True, exclusive=True, group="sql-run", exit_on_error=False)
    def _run(self, db_path: Path, sql: str, store: LogStore | None) -> None:
        worker = get_current_worker()
        clock = self.app.clock  # the app's, so a frozen clock (snapshots) shows a steady time
        started = clock()
        try:
            if store is not None:
                result = store.query(sql, max_rows=MAX_ROWS)
            else:
                result = run_readonly_query(db_path, sql, limit=MAX_ROWS, cancelled=lambda: worker.is_cancelled)
        except BatchtuiError as exc:
            if not worker.is_cancelled:
                self.app.call_from_thread(self._status, str(exc), True)
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show, result, clock() - started)

    def worker_failed(self, worker: Worker[object], line: str) -> None:
        """A query that failed says why instead of "running…"."""
        if worker.group == "sql-run":
            self._status(line, True)

    def _show(self, result: QueryResult, seconds: float) -> None:
        self.result, self.page = result, 0
        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.add_columns(*(literal(name) for name in result.columns))
        self._fill_page()
        more = f" (stopped at {MAX_ROWS:,}: add LIMIT/OFFSET, or use `batchtui sql`)" if result.truncated else ""
        self._status(f"{plural(len(result.rows), 'row')}{more} in {seconds * 1000:,.0f} ms")
        if result.rows:
            table.focus()

    def _fill_page(self) -> None:
        assert self.result is not None
        table = self.query_one(DataTable)
        table.clear()
        start = self.page * PAGE_ROWS
        for row in self.result.rows[start : start + PAGE_ROWS]:
            table.add_row(*(literal(cell_text(value)) for value in row))
        pages = max(1, -(-len(self.result.rows) // PAGE_ROWS))
        table.border_subtitle = f"page {self.page + 1} of {pages}" if pages > 1 else ""

    def action_page(self, step: int) -> None:
        if self.result is None:
            return
        pages = max(1, -(-len(self.result.rows) // PAGE_ROWS))
        page = min(max(self.page + step, 0), pages - 1)
        if page != self.page:
            self.page = page
            self._fill_page()
            self._status(f"rows {page * PAGE_ROWS + 1:,}-{min((page + 1) * PAGE_ROWS, len(self.result.rows)):,} "
                         f"of {len(self.result.rows):,}")

    # -- examples, copy, export ------------------------------------------------------------------------

    def action_examples(self) -> None:
        choices = tuple((str(n + 1), f"example({n})", title) for n, (title, _) in enumerate(EXAMPLE_QUERIES))
        self.app.push_screen(ChoiceMenuScreen("Example queries (the cache's tables: batches, files, llm_logs)",
                                              choices), self._example_chosen)

    def _example_chosen(self, action: str | None) -> None:
        if action and action.startswith("example("):
            sql = EXAMPLE_QUERIES[int(action[8:-1])][1]
            editor = self.query_one(TextArea)
            editor.text = sql
            editor.focus()
            self.action_run()

    def _selected_row(self) -> tuple[Value, ...] | None:
        if self.result is None or not self.result.rows:
            return None
        row = self.page * PAGE_ROWS + self.query_one(DataTable).cursor_row
        return self.result.rows[row] if row < len(self.result.rows) else None

    def action_copy_cell(self) -> None:
        row = self._selected_row()
        if row is not None:
            column = self.query_one(DataTable).cursor_column
            self.app.copy(copy_text(row[column]), f"the {self.result.columns[column]} cell" if self.result else "cell")

    def action_copy_row(self) -> None:
        row = self._selected_row()
        if row is not None:
            self.app.copy("\t".join(copy_text(value) for value in row), "the row (tab-separated)")

    def action_export(self) -> None:
        if self.result is None:
            return
        self.app.push_screen(
            DownloadPathScreen(plural(len(self.result.rows), "row"), Path.cwd() / "query.csv", verb="Export",
                               hint=".csv · enter saves · escape cancels"),
            partial(self._export_to, self.result),
        )

    def _export_to(self, result: QueryResult, dest: Path | None) -> None:
        if dest is not None:
            self._run_export(result, dest)

    @work(thread=True, group="sql-export", exit_on_error=False)
    def _run_export(self, result: QueryResult, dest: Path) -> None:
        try:
            export_table_csv(result.columns, result.rows, dest)
        except BatchtuiError as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Export failed", severity="error", markup=False)
            return
        sent = self.app.call_from_thread(deliver_written_file, self.app, dest)
        self.app.call_from_thread(self.notify, f"Exported {plural(len(result.rows), 'row')} to {dest}{sent}",
                                  title="Exported", markup=False)

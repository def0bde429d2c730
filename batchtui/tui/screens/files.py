"""Files of the account: which batch uses each, a purpose filter, upload, download, delete and a preview."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from rich.cells import cell_len
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker

from batchtui.core.api.models import Batch, FileObject
from batchtui.core.errors import BatchtuiError, UnreachableError
from batchtui.core.text import printable
from batchtui.tui.commands import ScreenCommands
from batchtui.tui.delivery import deliver_written_file
from batchtui.tui.format import clip, expires, literal, short_id, size, span
from batchtui.tui.screens.base import BatchtuiScreen
from batchtui.tui.screens.confirm import ConfirmScreen
from batchtui.tui.screens.download_path import DownloadPathScreen
from batchtui.tui.screens.file_preview import FilePreviewScreen
from batchtui.tui.screens.results import AccountFile, ResultsScreen
from batchtui.tui.screens.upload import UploadScreen

COLUMNS = ("Filename", "Purpose", "Size", "Used by", "Created", "Expires", "ID")
NARROW_COLUMNS = COLUMNS[:5]
NARROW_WIDTH = 110
"""Below this many columns the table drops Expires and ID (the line under it shows both) and clips more."""
FIXED_PURPOSES = ("all", "batch", "batch_output")
FILENAME_CHARS = 24
NARROW_FILENAME_CHARS = 16
SCROLLBAR_CELLS = 2
"""The table's vertical scrollbar, kept free so that the last column (the id) is never cut."""
PURPOSE_CHARS = 12
FILE_KEYS = Binding.Group("File")

Usage = tuple[str, str]
"""(batch id, role) where role is input, output or error."""


def file_usage(batches: Iterable[Batch]) -> dict[str, list[Usage]]:
    """For each file id, the batches that use it and as what, newest batch first."""
    used: dict[str, list[Usage]] = {}
    for batch in sorted(batches, key=lambda b: b.created_at, reverse=True):
        for role, file_id in (("input", batch.input_file_id), ("output", batch.output_file_id),
                              ("error", batch.error_file_id)):
            if file_id:
                used.setdefault(file_id, []).append((batch.id, role))
    return used


def usage_summary(usage: list[Usage]) -> str:
    """'batch_69a1b2c… input', with '+2' when more batches use the file."""
    if not usage:
        return "-"
    batch_id, role = usage[0]
    more = f" +{len(usage) - 1}" if len(usage) > 1 else ""
    return f"{short_id(batch_id)} {role}{more}"


def created(created_at: int, now: float) -> str:
    """'5h ago', or 'just now'; '-' when not known (the 0 a server's bad value becomes)."""
    if not created_at:
        return "-"
    return "just now" if now - created_at < 5 else f"{span(now - created_at)} ago"


def file_cells(file: FileObject, usage: list[Usage], now: float, *, narrow: bool = False,
               filename_chars: int | None = None) -> list[Text]:
    """One table row (the NARROW_COLUMNS when `narrow`); every cell a literal Text, since DataTable parses
    plain strings as markup. The file name is cut to `filename_chars` (by default as the width allows)."""
    if filename_chars is None:
        filename_chars = NARROW_FILENAME_CHARS if narrow else FILENAME_CHARS
    cells = [
        literal(clip(file.filename, filename_chars)),
        literal(clip(file.purpose, PURPOSE_CHARS)),
        literal(size(file.bytes)),
        literal(usage_summary(usage)),
        literal(created(file.created_at, now)),
        literal(expires(file.expires_at, now)),
        literal(file.id),
    ]
    return cells[: len(NARROW_COLUMNS)] if narrow else cells


def purpose_choices(files: Iterable[FileObject]) -> list[str]:
    """The filter cycle: all, batch, batch_output, then any other purpose present, by name."""
    others = sorted({file.purpose for file in files} - set(FIXED_PURPOSES))
    return [*FIXED_PURPOSES, *others]


class FilesScreen(BatchtuiScreen[None]):
    """All files of the account, newest first; paints from the cache, then lists from the API."""

    COMMANDS = {ScreenCommands}
    PALETTE = (
        ("Upload a file", "Upload a .jsonl batch input file", "upload"),
        ("Download the file", "Save the highlighted file to a folder or a path", "download"),
        ("Delete the file", "Delete the highlighted file (asks first)", "delete"),
        ("View the file", "The highlighted file, whole, read as you scroll", "view"),
        ("Copy the file id", "Copy the highlighted file's id", "copy_id"),
        ("Open in the result viewer", "The highlighted JSONL file, one row per request", "open_results"),
        ("Filter by purpose", "Cycle the purpose filter", "cycle_purpose"),
        ("Refresh files", "List the account's files from the API", "refresh"),
    )

    DEFAULT_CSS = """
    FilesScreen #files-status { height: 1; padding: 0 1; background: $boost; }
    FilesScreen #files-status.-error { color: $error; }
    FilesScreen DataTable { height: 1fr; }
    FilesScreen #file-detail { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("u", "upload", "Upload"),
        Binding("v", "view", "View", group=FILE_KEYS),
        Binding("o", "open_results", "Results", group=FILE_KEYS),
        Binding("d", "download", "Download", group=FILE_KEYS),
        Binding("y", "copy_id", "Copy id", group=FILE_KEYS),
        Binding("x", "delete", "Delete", group=FILE_KEYS),
        Binding("p", "cycle_purpose", "Purpose"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.files: list[FileObject] = []
        self.purpose = "all"
        self._state = "loading"
        self._state_detail = ""
        self._synced_at: float | None = None
        self._narrow: bool | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="files-status")
        yield DataTable(id="files", cursor_type="row", zebra_stripes=True)
        yield Static(id="file-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._fit_columns(self.app.size.width)
        self.watch(self.app, "batches", lambda _: self.paint(), init=False)
        self.load()

    def on_resize(self, event: events.Resize) -> None:
        self._fit_columns(event.size.width)

    def _fit_columns(self, width: int) -> None:
        """Lay the table out for the terminal's width: all columns, or NARROW_COLUMNS on a narrow terminal."""
        narrow = width < NARROW_WIDTH
        if narrow != self._narrow:
            self._narrow = narrow
            table = self.query_one(DataTable)
            table.clear(columns=True)
            table.add_columns(*(NARROW_COLUMNS if narrow else COLUMNS))
            self.paint()

    # -- data -----------------------------------------------------------------------------------------

    @work(exclusive=True, group="files-load", exit_on_error=False)
    async def load(self) -> None:
        """Paint from the cache, then list from the API (forgetting files deleted elsewhere)."""
        try:
            workspace = await self.app.wait_for_workspace()
            self.set_files(await workspace.files())
        except BatchtuiError as exc:
            self._set_state("error", str(exc))
            return
        self._set_state("syncing")
        try:
            self.set_files(await workspace.refresh_files())
        except UnreachableError as exc:
            self._set_state("offline", str(exc))
        except BatchtuiError as exc:
            self._set_state("error", str(exc))
        else:
            self._synced_at = self.app.clock()
            self._set_state("synced")

    def worker_failed(self, worker: Worker[object], line: str) -> None:
        """A failed load says why instead of "loading…" or "syncing…"."""
        if worker.group == "files-load":
            self._set_state("error", line)

    def set_files(self, files: Iterable[FileObject]) -> None:
        self.files = sorted(files, key=lambda f: (f.created_at, f.id), reverse=True)
        if self.purpose not in purpose_choices(self.files):
            self.purpose = "all"
        self.paint()

    def visible_files(self) -> list[FileObject]:
        return [f for f in self.files if self.purpose == "all" or f.purpose == self.purpose]

    # -- painting -------------------------------------------------------------------------------------

    def paint(self) -> None:
        """Fill the table from `files`, keeping the cursor on the same file when it is still shown."""
        table = self.query_one(DataTable)
        keep, keep_row = self.selected_id(), table.cursor_row
        usage = file_usage(self.app.batches)
        now = self.app.clock()
        table.clear()
        files = self.visible_files()
        room = self._filename_room(files, usage, now)
        for file in files:
            table.add_row(*file_cells(file, usage.get(file.id, []), now, narrow=bool(self._narrow),
                                      filename_chars=room), key=file.id)
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        elif table.row_count:
            table.move_cursor(row=min(keep_row, table.row_count - 1), animate=False)
        self.show_status()
        self.show_detail()

    def _filename_room(self, files: list[FileObject], usage: dict[str, list[Usage]], now: float) -> int:
        """How many cells the file names may take so that the table fits the screen: every other column (the id
        whole) keeps its widest cell, and the names get what is left, at least NARROW_FILENAME_CHARS."""
        narrow = bool(self._narrow)
        columns = NARROW_COLUMNS if narrow else COLUMNS
        widths = [cell_len(title) for title in columns]
        for file in files:
            cells = file_cells(file, usage.get(file.id, []), now, narrow=narrow, filename_chars=0)
            widths = [max(width, cell.cell_len) for width, cell in zip(widths, cells, strict=True)]
        spare = self.size.width - SCROLLBAR_CELLS - sum(widths[1:]) - 2 * len(columns)  # a cell of padding each side
        return max(NARROW_FILENAME_CHARS, spare)

    def selected_id(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def selected_file(self) -> FileObject | None:
        file_id = self.selected_id()
        return next((f for f in self.files if f.id == file_id), None)

    @property
    def state(self) -> str:
        """What the status line says of the list: loading, syncing, synced, offline or error."""
        return self._state

    def _set_state(self, state: str, detail: str = "") -> None:
        self._state, self._state_detail = state, detail
        self.show_status()

    def show_status(self) -> None:
        shown, total = len(self.visible_files()), len(self.files)
        noun = "file" if total == 1 else "files"
        count = f"{total} {noun}" if shown == total else f"{shown} of {total} {noun}"
        where = {
            "loading": "loading…",
            "syncing": "syncing…",
            "synced": f"synced at {_time_of_day(self._synced_at)}",
            "offline": f"offline: showing cache ({self._state_detail})",
            "error": self._state_detail,
        }[self._state]
        status = self.query_one("#files-status", Static)
        status.update(literal(f"{count} · purpose: {self.purpose} · {where}"))
        status.set_class(self._state in ("offline", "error"), "-error")

    def show_detail(self) -> None:
        file = self.selected_file()
        detail = self.query_one("#file-detail", Static)
        if file is None:
            detail.update(literal("No files." if not self.visible_files() else ""))
            return
        usage = file_usage(self.app.batches).get(file.id, [])
        used = ", ".join(f"{batch_id} ({role})" for batch_id, role in usage) or "no batch"
        until = expires(file.expires_at, self.app.clock())
        until = {"never": "never expires", "expired": "expired"}.get(until, f"expires {until}")
        detail.update(literal(f"{file.filename} · {file.id} · {until} · used by {used}"))

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self.show_detail()

    # -- actions --------------------------------------------------------------------------------------

    def _require_file(self) -> FileObject | None:
        file = self.selected_file()
        if file is None:
            self.notify("No file selected.", severity="warning")
        return file

    def action_refresh(self) -> None:
        self.load()

    def action_cycle_purpose(self) -> None:
        choices = purpose_choices(self.files)
        index = choices.index(self.purpose) if self.purpose in choices else -1
        self.purpose = choices[(index + 1) % len(choices)]
        self.paint()

    def action_copy_id(self) -> None:
        if file := self._require_file():
            self.app.copy(file.id, f"file id {file.id}")

    def action_upload(self) -> None:
        self.app.push_screen(UploadScreen(), self._uploaded)

    def _uploaded(self, uploaded: FileObject | None) -> None:
        if uploaded is None:
            return
        self.set_files([uploaded, *(f for f in self.files if f.id != uploaded.id)])
        table = self.query_one(DataTable)
        if uploaded.id in table.rows:
            table.move_cursor(row=table.get_row_index(uploaded.id))
        self.notify(printable(f"Uploaded {uploaded.filename} as {uploaded.id}"), title="Upload", markup=False)

    def action_download(self) -> None:
        if file := self._require_file():
            def chosen(dest: Path | None) -> None:
                if dest is not None:
                    self.download(file, dest)

            self.app.push_screen(DownloadPathScreen(f"{file.filename} ({file.id})"), chosen)

    @work(group="files-download", exit_on_error=False)
    async def download(self, file: FileObject, dest: Path) -> None:
        """Not exclusive: a second download must not cancel the first."""
        workspace = self.app.workspace
        if workspace is None:
            return
        self.notify(printable(f"Downloading {file.filename}…"), markup=False, timeout=2)
        try:
            path = await workspace.download_file(file.id, dest)
        except BatchtuiError as exc:
            self.notify(printable(f"{file.filename}: {exc}"), title="Download failed", severity="error", markup=False)
            return
        except OSError as exc:
            self.notify(printable(f"Cannot save to {dest}: {exc.strerror or exc}"), title="Download failed",
                        severity="error", markup=False)
            return
        sent = deliver_written_file(self.app, path)
        self.notify(printable(f"Downloaded {file.id} to {path}{sent}"), title="Download", markup=False)

    def action_delete(self) -> None:
        file = self._require_file()
        if file is None:
            return
        usage = file_usage(self.app.batches).get(file.id, [])
        used = f" It is the {usage[0][1]} file of {usage[0][0]}." if usage else ""
        question = f"Delete {file.filename} ({file.id}) from the account?{used} This cannot be undone."

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete(file)

        self.app.push_screen(ConfirmScreen(question, "Delete"), answered)

    @work(group="files-delete", exit_on_error=False)
    async def delete(self, file: FileObject) -> None:
        """Not exclusive: cancelling a delete half-way would leave the cache out of step with the API."""
        workspace = self.app.workspace
        if workspace is None:
            return
        try:
            await workspace.delete_file(file.id)
        except BatchtuiError as exc:
            self.notify(printable(f"{file.filename}: {exc}"), title="Delete failed", severity="error", markup=False)
            return
        self.set_files(f for f in self.files if f.id != file.id)
        self.notify(printable(f"Deleted {file.filename} ({file.id})"), title="Delete", markup=False)

    def action_view(self) -> None:
        if file := self._require_file():
            self.app.push_screen(FilePreviewScreen(file.id, file.filename))

    def action_open_results(self) -> None:
        """Open the file in the result viewer, as the role the batch using it gives it (else by its purpose)."""
        if file := self._require_file():
            usage = file_usage(self.app.batches).get(file.id, [])
            batch_id, kind = usage[0] if usage else (None, "input" if file.purpose == "batch" else "output")
            self.app.push_screen(ResultsScreen(AccountFile(file.id, kind, batch_id), file.filename))


def _time_of_day(timestamp: float | None) -> str:
    return "-" if timestamp is None else dt.datetime.fromtimestamp(timestamp).strftime("%H:%M:%S")

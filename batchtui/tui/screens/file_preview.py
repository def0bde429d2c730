"""A plain, read-only look at a whole file: its first lines streamed from the API, then every line of its cached
copy, read only as far as the user scrolls."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Footer, Static
from textual.worker import Worker

from batchtui.core.errors import BatchtuiError
from batchtui.core.text import plural
from batchtui.tui.format import literal
from batchtui.tui.screens.base import BatchtuiModal
from batchtui.tui.widgets.file_lines_view import FileLinesView

HEAD_LINES = 50
"""Lines streamed first, shown while the whole file is fetched into the cache."""


class FilePreviewScreen(BatchtuiModal[None]):
    """Loads itself in a worker: the first lines at once, then the whole file from its cached copy, read only as
    far as the view is scrolled. Lines are text, never markup, and control characters show as visible escapes."""

    DEFAULT_CSS = """
    FilePreviewScreen { align: center middle; }
    FilePreviewScreen > Vertical { width: 95%; height: 90%; border: thick $primary; background: $surface; }
    FilePreviewScreen #preview-title { height: auto; padding: 0 1; text-style: bold; }
    """
    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, file_id: str, title: str) -> None:
        super().__init__()
        self.file_id = file_id
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(f"{self.title_text} ({self.file_id}) · loading…"), id="preview-title")
            yield FileLinesView(id="preview")
            yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(FileLinesView).focus()
        self.load()

    def _title(self, what: str, style: str = "") -> None:
        self.query_one("#preview-title", Static).update(literal(f"{self.title_text}{what}", style))

    @work(exclusive=True, group="preview", exit_on_error=False)
    async def load(self) -> None:
        view = self.query_one(FileLinesView)
        workspace = self.app.workspace
        if workspace is None:
            self._title(": the cache is not open yet", "bold red")
            return
        try:
            head = await workspace.preview_lines(self.file_id, HEAD_LINES)
        except BatchtuiError as exc:
            self._title(f": {exc}", "bold red")
            return
        view.show(head)
        first = f"first {plural(len(head), 'line')}"
        self._title(f" ({self.file_id}) · {first} · fetching the rest…")

        def fetched(done: int, total: int) -> None:
            if total:
                self._title(f" ({self.file_id}) · {first} · fetching the rest… {done * 100 // total}%")

        try:
            lines = await workspace.file_lines(self.file_id, progress=fetched)
        except BatchtuiError as exc:
            self._title(f" ({self.file_id}) · {first} only: {exc}", "bold red")
            return
        view.show(lines)
        self._title(f" ({self.file_id}) · {plural(len(lines), 'line') if lines else 'empty file'}")

    def worker_failed(self, worker: Worker[object], line: str) -> None:
        """A preview that failed says why instead of "loading…"."""
        self._title(f": {line}", "bold red")

    def action_close(self) -> None:
        self.dismiss(None)

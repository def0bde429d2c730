"""A plain, read-only look at the first lines of a file, from its downloaded copy or streamed from the API."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Footer, Static, TextArea
from textual.worker import Worker

from batchtui.core.errors import BatchtuiError
from batchtui.core.text import printable
from batchtui.tui.format import clip, literal
from batchtui.tui.screens.base import BatchtuiModal

PREVIEW_LINES = 50
PREVIEW_LINE_CHARS = 2000


class FilePreviewScreen(BatchtuiModal[None]):
    """Loads itself in a worker; lines are text, never markup, and control characters show as visible escapes."""

    DEFAULT_CSS = """
    FilePreviewScreen { align: center middle; }
    FilePreviewScreen > Vertical { width: 95%; height: 90%; border: thick $primary; background: $surface; }
    FilePreviewScreen #preview-title { height: auto; padding: 0 1; text-style: bold; }
    FilePreviewScreen TextArea, FilePreviewScreen TextArea:focus { height: 1fr; border: none; }
    """
    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, file_id: str, title: str) -> None:
        super().__init__()
        self.file_id = file_id
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(f"{self.title_text} ({self.file_id}) · loading…"), id="preview-title")
            yield TextArea("", read_only=True, soft_wrap=False, show_line_numbers=True, id="preview")
            yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()
        self.load()

    @work(exclusive=True, group="preview", exit_on_error=False)
    async def load(self) -> None:
        title = self.query_one("#preview-title", Static)
        workspace = self.app.workspace
        if workspace is None:
            title.update(literal(f"{self.title_text}: the cache is not open yet", "bold red"))
            return
        try:
            lines = await workspace.preview_lines(self.file_id, PREVIEW_LINES)
        except BatchtuiError as exc:
            title.update(literal(f"{self.title_text}: {exc}", "bold red"))
            return
        shown = [clip(printable(line), PREVIEW_LINE_CHARS) for line in lines]
        what = f"first {len(shown)} lines" if len(shown) >= PREVIEW_LINES else f"all {len(shown)} lines"
        title.update(literal(f"{self.title_text} ({self.file_id}) · {what}"))
        self.query_one(TextArea).load_text("\n".join(shown) if shown else "(empty file)")

    def worker_failed(self, worker: Worker[object], line: str) -> None:
        """A preview that failed says why instead of "loading…"."""
        self.query_one("#preview-title", Static).update(literal(f"{self.title_text}: {line}", "bold red"))

    def action_close(self) -> None:
        self.dismiss(None)

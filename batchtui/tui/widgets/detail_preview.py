"""A plain, read-only look at the first lines of a batch file (until the result viewer exists)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

from batchtui.core.text import printable
from batchtui.tui.format import literal


class FilePreviewScreen(ModalScreen[None]):
    """The lines are shown as text, never markup; control characters appear as visible escapes."""

    DEFAULT_CSS = """
    FilePreviewScreen { align: center middle; }
    FilePreviewScreen > Vertical { width: 95%; height: 90%; border: round $primary; background: $surface; }
    FilePreviewScreen #preview-title { height: auto; padding: 0 1; }
    FilePreviewScreen TextArea, FilePreviewScreen TextArea:focus { height: 1fr; border: none; }
    """
    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, title: str, lines: list[str]) -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text.assemble(literal(self.title_text, "bold"), ("  · escape closes", "dim")),
                         id="preview-title")
            text = "\n".join(printable(line) for line in self.lines) if self.lines else "(empty file)"
            yield TextArea(text, read_only=True, soft_wrap=False, show_line_numbers=True, id="preview")

    def on_mount(self) -> None:
        self.query_one("#preview", TextArea).focus()

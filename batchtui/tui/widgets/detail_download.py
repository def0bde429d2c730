"""Ask where to save a file: a folder (the file keeps its own name) or a full path."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from batchtui.tui.format import literal


class DownloadPathScreen(ModalScreen[Path | None]):
    """Dismisses with the path typed (user-expanded), or None on escape."""

    DEFAULT_CSS = """
    DownloadPathScreen { align: center middle; }
    DownloadPathScreen > Vertical {
        width: 72; height: auto; border: thick $primary; background: $surface; padding: 1 2;
    }
    DownloadPathScreen Input { margin-top: 1; }
    DownloadPathScreen #download-hint { margin-top: 1; color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, what: str, default: Path) -> None:
        super().__init__()
        self.what = what
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(f"Download {self.what} to:"))
            yield Input(str(self.default), id="download-path")
            yield Static("enter saves · escape cancels · a folder keeps the file's own name", id="download-hint",
                         markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        self.dismiss(Path(value).expanduser() if value else None)

    def action_cancel(self) -> None:
        self.dismiss(None)

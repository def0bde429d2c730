"""Ask where to save a file: a folder (the file keeps its own name), a new folder to make, or a file path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from batchtui.tui.format import ControlsShown, literal


def path_problem(text: str) -> str | None:
    """Why `text` cannot be saved to, in one line, or None when it can.

    An existing folder or file is fine (whether to replace a file is the caller's question), and so is a
    new path without a suffix ("reports/nov": a folder, made on download); a new file needs its folder.
    """
    if not text:
        return "Type a folder or a file path."
    path = Path(text).expanduser()
    if path.exists() or not path.suffix or path.parent.is_dir():
        return None
    problem = "is a file, not a folder" if path.parent.exists() else "no such folder"
    return f"Folder {path.parent}: {problem}"


class DownloadPathScreen(ModalScreen[Path | None]):
    """Dismisses with the path typed (user-expanded), or None on escape; `check` says what is wrong with a path."""

    DEFAULT_CSS = """
    DownloadPathScreen { align: center middle; }
    DownloadPathScreen > Vertical {
        width: 90%; max-width: 80; height: auto; border: thick $primary; background: $surface; padding: 0 1;
    }
    DownloadPathScreen #download-error { color: $error; height: auto; }
    DownloadPathScreen #download-hint { color: $text-muted; }
    DownloadPathScreen Horizontal { height: auto; align: right middle; }
    DownloadPathScreen Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        what: str,
        default: Path | None = None,
        *,
        verb: str = "Download",
        hint: str = "a folder keeps the file's own name · enter saves · escape cancels",
        check: Callable[[str], str | None] = path_problem,
    ) -> None:
        super().__init__()
        self.what = what
        self.default = default or Path.cwd()
        self.verb = verb
        self.hint = hint
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(f"{self.verb} {self.what} to:"))
            yield Input(str(self.default), id="download-path", highlighter=ControlsShown())
            yield Static(id="download-error")
            on_server = " · paths are on the machine serving this page" if self.app.is_web else ""
            yield Static(self.hint + on_server, id="download-hint", markup=False)
            with Horizontal():
                yield Button("Cancel (esc)", id="cancel")
                yield Button(self.verb, id="download", variant="primary")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#download")
    def submit(self) -> None:
        text = self.query_one(Input).value.strip()
        if problem := self.check(text):
            self.query_one("#download-error", Static).update(literal(problem))
            return
        self.dismiss(Path(text).expanduser())

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

"""The upload modal: a path field with a directory-tree picker, purpose batch, and a progress bar."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DirectoryTree, Input, ProgressBar, Static
from textual.worker import Worker

from batchtui.core.api.models import FileObject
from batchtui.core.errors import BatchtuiError
from batchtui.core.text import byte_size
from batchtui.tui.format import ControlsShown, literal
from batchtui.tui.screens.base import BatchtuiModal
from batchtui.tui.widgets.file_tree import FileTree
from batchtui.tui.workers import on_app_thread


def check_upload_path(text: str) -> tuple[Path | None, str]:
    """The path to upload, or None and a one-line error naming what is wrong with it."""
    text = text.strip()
    if not text:
        return None, "Path: type a file path or pick a .jsonl file below."
    path = Path(text).expanduser()
    path = path if path.is_absolute() else Path.cwd() / path
    if not path.exists():
        return None, f"{path}: no such file"
    if path.is_dir():
        return None, f"{path} is a folder; pick a .jsonl file in it"
    return path, ""


class UploadScreen(BatchtuiModal[FileObject | None]):
    """Upload one file with purpose batch; dismisses with the new FileObject, or None if cancelled."""

    DEFAULT_CSS = """
    UploadScreen { align: center middle; }
    UploadScreen > Vertical {
        width: 90%; max-width: 100; height: 90%; max-height: 32;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    UploadScreen #upload-title { text-style: bold; margin-bottom: 1; }
    UploadScreen FileTree { height: 1fr; min-height: 3; }
    UploadScreen ProgressBar { margin-top: 1; display: none; }
    UploadScreen ProgressBar.-busy { display: block; }
    UploadScreen #upload-sent { color: $text-muted; height: auto; display: none; }
    UploadScreen #upload-sent.-busy { display: block; }
    UploadScreen #upload-error { color: $error; height: auto; }
    UploadScreen Horizontal { height: auto; align: right middle; }
    UploadScreen Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, start_dir: Path | None = None) -> None:
        super().__init__()
        self.start_dir = start_dir or Path.cwd()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Upload a batch input file (purpose: batch)", id="upload-title")
            yield Input(placeholder="path to a .jsonl file", id="upload-path", highlighter=ControlsShown())
            yield FileTree(self.start_dir, frozenset({".jsonl"}), id="upload-tree")
            yield ProgressBar(id="upload-progress", show_eta=False)
            yield Static(id="upload-sent")
            yield Static(id="upload-error")
            with Horizontal():
                yield Button("Cancel (esc)", id="cancel")
                yield Button("Upload", id="upload", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#upload-path", Input).focus()

    @on(DirectoryTree.FileSelected)
    def pick(self, event: DirectoryTree.FileSelected) -> None:
        path_input = self.query_one("#upload-path", Input)
        path_input.value = str(event.path)
        path_input.focus()

    @on(Input.Submitted, "#upload-path")
    @on(Button.Pressed, "#upload")
    def submit(self) -> None:
        path, problem = check_upload_path(self.query_one("#upload-path", Input).value)
        self.show_error(problem)
        if path is not None:
            self.upload(path)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.workers.cancel_group(self, "upload")
        self.dismiss(None)

    def show_error(self, message: str) -> None:
        self.query_one("#upload-error", Static).update(literal(message))

    @work(exclusive=True, group="upload", exit_on_error=False)
    async def upload(self, path: Path) -> None:
        workspace = self.app.workspace
        if workspace is None:
            self.show_error("The cache is not open yet; try again in a moment.")
            return
        self._busy(True)
        try:
            uploaded = await workspace.upload(path, progress=on_app_thread(self.app, self.show_progress))
        except BatchtuiError as exc:
            self._busy(False)
            self.show_error(f"{path.name}: {exc}")
            return
        self.dismiss(uploaded)

    def _busy(self, busy: bool) -> None:
        self.query_one("#upload", Button).disabled = busy
        self.query_one("#upload-path", Input).disabled = busy
        bar, sent = self.query_one(ProgressBar), self.query_one("#upload-sent", Static)
        bar.set_class(busy, "-busy")
        sent.set_class(busy, "-busy")
        if busy:
            bar.update(total=None, progress=0)
            sent.update("")

    def worker_failed(self, worker: Worker[object], line: str) -> None:
        """A failed upload unlocks the dialog and says why: the user may pick the file again or cancel."""
        if worker.group == "upload":
            self._busy(False)
            self.show_error(line)

    def show_progress(self, done: int, total: int) -> None:
        """Called as bytes go out (through `on_app_thread`, so from a thread too); the bytes sent read '4.9 KB of
        12.3 KB', in the unit that fits, as on the command line."""
        self.query_one(ProgressBar).update(total=max(total, 1), progress=done)
        self.query_one("#upload-sent", Static).update(f"{byte_size(done)} of {byte_size(total)}")

"""A batch's input, output and error files as a pickable list: kind, id, name, size and when it expires."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from batchtui.core.api.models import Batch, FileObject
from batchtui.tui.format import expires, literal, size

PICK_HINT = "Tab, then ↑↓ picks the file for v d i"
"""Shown under the list: v, d and i act on the highlighted file, and the list needs focus to move the highlight."""


@dataclass(frozen=True)
class BatchFile:
    """One of a batch's files; `info` is None until its name and size are known."""

    kind: str
    file_id: str
    info: FileObject | None = None


def batch_files(batch: Batch) -> list[BatchFile]:
    """The files a batch has so far: input always, output and error once the API names them."""
    pairs = [("input", batch.input_file_id), ("output", batch.output_file_id), ("error", batch.error_file_id)]
    return [BatchFile(kind, file_id) for kind, file_id in pairs if file_id]


def file_prompt(file: BatchFile, now: float) -> Text:
    """One line: kind, id, name, size and expiry (the API deletes a file then: 30 days unless asked otherwise)."""
    if file.info is None:
        return Text.assemble((f"{file.kind:<7}", "bold"), literal(file.file_id), "  ", ("…", "dim"))
    until = expires(file.info.expires_at, now)
    expiry = {"expired": ("expired on the API", "red"), "never": ("", "")}.get(until, (f"expires {until}", "dim"))
    return Text.assemble(
        (f"{file.kind:<7}", "bold"), literal(file.file_id), "  ", literal(file.info.filename, "dim"), "  ",
        (size(file.info.bytes), "cyan"), "  ", expiry,
    )


class BatchFiles(OptionList):
    """The highlighted file is the one the screen's view, download and copy actions work on."""

    DEFAULT_CSS = """
    BatchFiles { height: auto; max-height: 5; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(markup=False, id=id)
        self.files: list[BatchFile] = []
        self.now = 0.0

    def on_mount(self) -> None:
        self.border_subtitle = PICK_HINT

    def show_files(self, files: list[BatchFile], now: float | None = None) -> None:
        """Show `files` (expiries as of `now`, else as of the last call), keeping the highlight on the same kind
        of file when the list changes."""
        self.now = self.now if now is None else now
        if [(f.kind, f.file_id) for f in files] == [(f.kind, f.file_id) for f in self.files]:
            for file in files:
                self.replace_option_prompt(file.kind, file_prompt(file, self.now))
            self.files = files
            return
        current = self.selected_file
        self.files = files
        self.set_options(Option(file_prompt(file, self.now), id=file.kind) for file in files)
        kinds = [file.kind for file in files]
        self.highlighted = kinds.index(current.kind) if current and current.kind in kinds else (0 if files else None)

    def with_info(self, infos: dict[str, FileObject]) -> None:
        """Fill in the names and sizes that are now known (keyed by file id)."""
        self.show_files([BatchFile(f.kind, f.file_id, infos.get(f.file_id, f.info)) for f in self.files])

    @property
    def selected_file(self) -> BatchFile | None:
        index = self.highlighted
        return self.files[index] if index is not None and 0 <= index < len(self.files) else None

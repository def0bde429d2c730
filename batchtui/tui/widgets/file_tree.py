"""A folder tree for picking a local file: folders and files of the wanted suffixes, names shown literally."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rich.text import Text, TextType
from textual.widgets import DirectoryTree

from batchtui.tui.format import literal


class FileTree(DirectoryTree):
    """Folders and the files with the given suffixes, hiding dotfiles. A name is anything the file system
    allows (escape sequences, markup, bidi controls), so it is shown with its controls made visible."""

    def __init__(self, path: Path, suffixes: frozenset[str], *, id: str | None = None) -> None:
        super().__init__(path, id=id)
        self.suffixes = suffixes

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [path for path in paths if not path.name.startswith(".")
                and (path.suffix.lower() in self.suffixes or _is_dir(path))]

    def process_label(self, label: TextType) -> Text:
        return super().process_label(literal(label.plain if isinstance(label, Text) else label))


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False

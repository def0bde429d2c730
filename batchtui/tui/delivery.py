"""Files the app wrote, handed to the person using it: under `batchtui serve` that person is at a web browser,
and a file saved on the server is not theirs until the browser downloads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App


def deliver_written_file(app: App[Any], path: Path) -> str:
    """Send `path` (an export or a download just written) to the browser as a download when the app runs under
    textual-serve, and return the words to add to the note that names the file ("" in a terminal, where the
    file on disk is the whole result). Call it on the app's thread."""
    if not app.is_web:
        return ""
    app.deliver_binary(path)
    return " (and sent to your browser)"

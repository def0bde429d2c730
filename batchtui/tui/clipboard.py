"""Copying to the clipboard: the system clipboard through pyperclip, else the terminal's OSC 52."""

from __future__ import annotations

import pyperclip
from textual.app import App


def copy_text(app: App, text: str, what: str) -> None:
    """Copy `text` and say what was copied; over SSH or headless, OSC 52 asks the terminal to do it."""
    try:
        pyperclip.copy(text)
        where = "clipboard"
    except pyperclip.PyperclipException:
        app.copy_to_clipboard(text)
        where = "terminal clipboard (OSC 52)"
    app.notify(f"Copied {what} to the {where}.", markup=False)

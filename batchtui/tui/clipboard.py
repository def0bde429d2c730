"""Copying to the clipboard: the system clipboard through pyperclip, else the terminal's OSC 52."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pyperclip
from textual.app import App

_CLIPBOARD_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clipboard")
"""pyperclip runs a helper program (xclip, pbcopy…), so it runs off the event loop; one thread keeps copies in
the order they were asked for."""


def copy_text(app: App, text: str, what: str) -> None:
    """Copy `text` and say what was copied; over SSH or headless, OSC 52 asks the terminal to do it."""
    app.run_worker(_copy(app, text, what), group="clipboard", exit_on_error=False)


async def _copy(app: App, text: str, what: str) -> None:
    try:
        await asyncio.get_running_loop().run_in_executor(_CLIPBOARD_THREAD, pyperclip.copy, text)
        where = "clipboard"
    except pyperclip.PyperclipException:
        app.copy_to_clipboard(text)
        where = "terminal clipboard (OSC 52)"
    app.notify(f"Copied {what} to the {where}.", markup=False)

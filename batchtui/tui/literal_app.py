"""What both apps (the full one and `batchtui view`) share: a header and notifications that show their text
literally, copying to the clipboard, the report of a worker that failed, and freezing the start-up heap."""

from __future__ import annotations

import gc

from textual.app import App
from textual.content import Content
from textual.notifications import SeverityLevel

from batchtui.core.text import printable
from batchtui.tui.clipboard import copy_text
from batchtui.tui.workers import ReportsWorkerErrors


class LiteralApp(ReportsWorkerErrors, App[None]):
    """An app whose failed workers are reported to the user (see `ReportsWorkerErrors`)."""

    def format_title(self, title: str, sub_title: str) -> Content:
        """The header's text: titles carry file names and the profile's URL, shown with controls made visible."""
        return super().format_title(printable(title), printable(sub_title))

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Show a notification with its text as it is: messages carry file names and the API's error text, which
        must never be read as markup or reach the terminal as escape sequences. `markup` is ignored."""
        super().notify(printable(message, keep_newlines=True), title=printable(title), severity=severity,
                       timeout=timeout, markup=False)

    def copy(self, text: str, what: str) -> None:
        """Copy to the clipboard and tell the user what was copied."""
        copy_text(self, text, what)


def freeze_startup_heap() -> None:
    """Exempt what start-up built (modules, the first screen, the cached batches) from the cyclic GC.

    Otherwise each full collection walks that whole heap, one ~0.2 s pause at 10,000 batches that lands
    on a keystroke. Collect first, so no garbage is frozen; frozen objects dropped later are still freed
    by reference counting. Called once: freezing again would pin each pass's cyclic garbage for good.
    """
    gc.collect()
    gc.freeze()

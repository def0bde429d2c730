"""What both apps (the full one and `batchtui view`) share: a header and notifications that show their text
literally, copying to the clipboard, the report of a worker that failed, and freezing the start-up heap."""

from __future__ import annotations

import gc
from pathlib import Path

from platformdirs import user_downloads_path
from textual import events, on
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

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """The palette's "Screenshot": as Textual's, but into the Downloads folder made when it is missing (where
        Textual's fails), or `path`."""
        folder = Path(path) if path else user_downloads_path()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.notify(f"Cannot save a screenshot in {folder}: {exc.strerror or exc}", title="Screenshot",
                        severity="error")
            return None
        return super().deliver_screenshot(filename, str(folder), time_format)

    @on(events.DeliveryComplete)
    def _screenshot_saved(self, event: events.DeliveryComplete) -> None:
        """Say where the screenshot went in plain words (Textual's own note wraps the path in markup)."""
        if event.name == "screenshot":
            event.prevent_default()
            self.notify(f"Saved the screenshot to {event.path}" if event.path else "Saved the screenshot",
                        title="Screenshot")

    @on(events.DeliveryFailed)
    def _screenshot_failed(self, event: events.DeliveryFailed) -> None:
        if event.name == "screenshot":
            event.prevent_default()
            self.notify(f"Cannot save the screenshot: {event.exception}", title="Screenshot", severity="error")

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

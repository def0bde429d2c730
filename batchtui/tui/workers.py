"""Workers that fail and callbacks from threads, one way for the whole app.

Workers run with `exit_on_error=False`, so an exception nobody expected ends a worker quietly; unreported, a screen
would say "Opening…" for good. `ReportsWorkerErrors` is the one handler that turns any failure into one line the
user sees and lets the screen put itself back in a usable state."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, ParamSpec, Protocol

from textual.app import App
from textual.notifications import SeverityLevel
from textual.worker import Worker, WorkerState

from batchtui.core.text import printable, redact_urls

P = ParamSpec("P")
FAILURE_CHARS = 200
"""The longest failure line: a notification, not a traceback."""


def failure_line(error: BaseException | None) -> str:
    """An exception as one printable line: its type and its message (URLs redacted), cut to FAILURE_CHARS."""
    if error is None:
        return "An unknown error."
    message = printable(redact_urls(str(error))).strip()
    line = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return line if len(line) <= FAILURE_CHARS else line[:FAILURE_CHARS - 1] + "…"


def on_app_thread(app: App[Any], callback: Callable[P, object]) -> Callable[P, None]:
    """`callback`, safe to call from any thread: directly on the thread that wrapped it (wrap it on the app's
    thread), else through `app.call_from_thread`. For progress callbacks that core calls from the event loop or
    from a worker thread."""
    home = threading.get_ident()

    def call(*args: P.args, **kwargs: P.kwargs) -> None:
        if threading.get_ident() == home:
            callback(*args, **kwargs)
        else:
            app.call_from_thread(callback, *args, **kwargs)

    return call


class _Notifies(Protocol):
    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               markup: bool = True) -> object: ...

    def worker_failed(self, worker: Worker[object], line: str) -> None: ...


class ReportsWorkerErrors:
    """The one handler of failed workers, for the app and every screen: the user is told in one line."""

    def on_worker_state_changed(self: _Notifies, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            line = failure_line(event.worker.error)
            self.notify(line, title="Unexpected error", severity="error", markup=False)
            self.worker_failed(event.worker, line)

    def worker_failed(self, worker: Worker[object], line: str) -> None:
        """Put the screen back in a usable state after `worker` failed (`line` says how): a screen that shows
        its state ("Opening…") or locks its form while a worker runs overrides this. Called on the app's thread."""

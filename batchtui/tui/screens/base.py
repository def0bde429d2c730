"""What every screen of the app shares: the one report of a failed worker, and `self.app` typed as the app.

The result viewer's screen also runs under `batchtui view` (ViewerApp), which offers what that screen uses of the
app (profile, clock, no workspace)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from textual.screen import ModalScreen, Screen

from batchtui.tui.workers import ReportsWorkerErrors

if TYPE_CHECKING:
    from textual import getters

    from batchtui.tui.app import BatchtuiApp

ResultType = TypeVar("ResultType")


class BatchtuiScreen(ReportsWorkerErrors, Screen[ResultType]):
    """A full screen of the app."""

    if TYPE_CHECKING:  # as Textual types `app` itself; at run time the base's property, with no isinstance check
        app = getters.app(BatchtuiApp)


class BatchtuiModal(ReportsWorkerErrors, ModalScreen[ResultType]):
    """A dialog of the app over another screen."""

    if TYPE_CHECKING:  # as Textual types `app` itself; at run time the base's property, with no isinstance check
        app = getters.app(BatchtuiApp)

"""`batchtui view`: the result viewer on files of this machine, with no account and no cache of batches."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.binding import Binding

from batchtui.core.config import Profile
from batchtui.core.results.index import ResultFiles
from batchtui.tui.literal_app import LiteralApp, freeze_startup_heap
from batchtui.tui.screens.results import LocalFiles, ResultsScreen

FREEZE_AFTER_SECONDS = 1.0


class ViewerApp(LiteralApp):
    """Shows one ResultsScreen; `profile` only gives "copy as curl" its base URL (no key is read or needed)."""

    TITLE = "batchtui view"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(self, files: ResultFiles, profile: Profile, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.files = files
        self.profile = profile
        self.clock = clock
        self.workspace = None

    def on_mount(self) -> None:
        shown = self.files.output or self.files.errors or self.files.input
        self.sub_title = shown.name if shown else ""
        self.push_screen(ResultsScreen(LocalFiles(self.files), shown.name if shown else "results"))
        self.set_timer(FREEZE_AFTER_SECONDS, freeze_startup_heap)  # once the first rows are painted


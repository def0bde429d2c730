"""Batch detail (interim: the id and status; the full screen comes next)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from batchtui.tui.format import literal


class BatchDetailScreen(Screen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, batch_id: str) -> None:
        super().__init__()
        self.batch_id = batch_id

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(literal(self.batch_id))
        yield Footer()

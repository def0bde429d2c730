"""`g`: ask for a batch id (typed or pasted) and open its detail, cached or not."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from batchtui.tui.commands import batch_id_in


class GoToBatchScreen(ModalScreen[str | None]):
    """Dismisses with the batch id found in what was entered, or None on escape."""

    DEFAULT_CSS = """
    GoToBatchScreen { align: center middle; }
    GoToBatchScreen > Vertical { width: 72; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    GoToBatchScreen #go-to-problem { color: $error; height: auto; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Open a batch by its id (paste one: batch_…)")
            yield Input(placeholder="batch_…", id="go-to-id")
            yield Static(id="go-to-problem", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        found = batch_id_in(event.value)
        if found is None:
            self.query_one("#go-to-problem", Static).update("That is not a batch id: one looks like batch_abc123…")
        else:
            self.dismiss(found)

"""The retry modal: which requests of a batch to send again (failed, expired, cancelled)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Static

from batchtui.core.domain import RETRY_KIND_NAMES, RetryKind
from batchtui.tui.format import literal


class RetryScreen(ModalScreen[list[RetryKind] | None]):
    """Dismisses with the kinds of requests to retry, or None when the user backs out."""

    DEFAULT_CSS = """
    RetryScreen { align: center middle; }
    RetryScreen > Vertical { width: 68; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    RetryScreen Checkbox { margin-top: 1; }
    RetryScreen Horizontal { height: auto; margin-top: 1; align: right middle; }
    RetryScreen Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "dismiss_none", "Back"), Binding("ctrl+s", "retry", "Retry")]

    def __init__(self, batch_id: str) -> None:
        super().__init__()
        self.batch_id = batch_id

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(f"Send again, as a new batch, the requests of {self.batch_id} whose latest attempt "
                                 "ended as:"))
            for kind in RETRY_KIND_NAMES:
                yield Checkbox(kind, True, id=f"retry-{kind}")
            with Horizontal():
                yield Button("Back (esc)", id="back")
                yield Button("Retry (ctrl+s)", id="retry", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#retry", Button).focus()

    def chosen(self) -> list[RetryKind]:
        return [kind for kind in RETRY_KIND_NAMES if self.query_one(f"#retry-{kind}", Checkbox).value]

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "retry":
            self.action_retry()
        else:
            self.dismiss(None)

    def action_retry(self) -> None:
        kinds = self.chosen()
        if not kinds:
            self.notify("Tick at least one kind of request to retry.", severity="warning")
            return
        self.dismiss(kinds)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

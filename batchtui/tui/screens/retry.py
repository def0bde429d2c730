"""The retry modal: which requests of a batch to send again (failed, expired, cancelled), how many that is and about
what it costs."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Static

from batchtui.core.domain import RETRY_KIND_NAMES, RetryKind
from batchtui.core.errors import BatchtuiError
from batchtui.core.insights.pricing import usd
from batchtui.core.text import plural
from batchtui.core.workspace import RetryPreview
from batchtui.tui.format import literal
from batchtui.tui.screens.base import BatchtuiModal


class RetryScreen(BatchtuiModal[list[RetryKind] | None]):
    """Dismisses with the kinds of requests to retry, or None when the user backs out."""

    DEFAULT_CSS = """
    RetryScreen { align: center middle; }
    RetryScreen > Vertical { width: 68; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    RetryScreen Checkbox { margin-top: 1; }
    RetryScreen #retry-sends { margin-top: 1; color: $text-muted; }
    RetryScreen Horizontal { height: auto; margin-top: 1; align: right middle; }
    RetryScreen Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "dismiss_none", "Back"), Binding("ctrl+s", "retry", "Retry")]

    def __init__(self, batch_id: str) -> None:
        super().__init__()
        self.batch_id = batch_id
        self.preview: RetryPreview | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(f"Send again, as a new batch, the requests of {self.batch_id} whose latest attempt "
                                 "ended as:"))
            for kind in RETRY_KIND_NAMES:
                yield Checkbox(kind, True, id=f"retry-{kind}")
            yield Static("Counting the requests…", id="retry-sends", markup=False)
            with Horizontal():
                yield Button("Back (esc)", id="back")
                yield Button("Retry (ctrl+s)", id="retry", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#retry", Button).focus()
        self._count()

    @work(exclusive=True, exit_on_error=False, description="count the requests a retry sends")
    async def _count(self) -> None:
        """How many requests of each kind, and their cost: the batch's files are read (fetched once) for it."""
        try:
            workspace = await self.app.wait_for_workspace()
            batch = await workspace.batch(self.batch_id) or await workspace.fetch_batch(self.batch_id)
            self.preview = await workspace.retry_preview(batch)
        except BatchtuiError as exc:
            self.query_one("#retry-sends", Static).update(f"Cannot count the requests: {exc}")
            return
        for kind in RETRY_KIND_NAMES:
            self.query_one(f"#retry-{kind}", Checkbox).label = f"{kind} ({self.preview.counts[kind]:,})"
        self._say_what_it_sends()

    @on(Checkbox.Changed)
    def _say_what_it_sends(self) -> None:
        if self.preview is None:
            return
        chosen = self.chosen()
        count = sum(self.preview.counts[kind] for kind in chosen)
        cost = self.preview.cost(chosen)
        self.query_one("#retry-sends", Static).update(
            f"Sends {plural(count, 'request')}"
            + (f", about {usd(cost.total_usd)} at this batch's average per request." if cost and count else "."))

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

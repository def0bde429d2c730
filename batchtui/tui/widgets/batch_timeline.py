"""A batch's way through its statuses: when it reached each one, how long it stayed, what is left."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from batchtui.core.api.models import Batch
from batchtui.core.domain import ACTIVE_STATUSES
from batchtui.core.insights.timeline import STEP_STAMPS, timeline_steps
from batchtui.core.text import printable
from batchtui.core.timetext import clock, duration
from batchtui.tui.format import STATUS_STYLES


def deadline_note(batch: Batch, now: float) -> Text:
    """How long an active batch has left before expires_at; how long a finished one took."""
    expires = batch.expires_at
    if batch.status in ACTIVE_STATUSES:
        if expires is None:
            return Text("no expiry time reported", style="dim")
        left = expires - now
        if left < 0:
            return Text(f"expires_at passed {duration(-left)} ago ({clock(expires)})", style="bold red")
        return Text.assemble(("expires in ", "dim"), (duration(left), "bold"), (f"  ({clock(expires)})", "dim"))
    ends = [getattr(batch, field, None) for status, field in STEP_STAMPS if status == batch.status]
    end = ends[0] if ends else None
    if not end or not batch.created_at:
        return Text("")
    spent = duration(end - batch.created_at)
    if batch.status == "completed":
        return Text(f"took {spent} of its {batch.completion_window or '?'} window", style="dim")
    if batch.status == "expired":
        return Text(f"expired after {spent}; lines not done came back as batch_expired", style="dim")
    return Text(f"{printable(batch.status)} after {spent}", style="dim")


MARKS = {"done": "✔", "current": "▶", "end": "■", "next": "○"}


class BatchTimeline(Widget):
    """validating → in_progress → finalizing → completed, or the branch the batch took.

    Set `batch` when the batch changes and `now` once a second: the current step's clock and the
    time left to expires_at follow `now`, so a frozen clock gives a frozen picture.
    """

    DEFAULT_CSS = """
    BatchTimeline { height: auto; }
    """

    batch: reactive[Batch | None] = reactive(None, layout=True)
    now: reactive[float] = reactive(0.0)

    def render(self) -> RenderableType:
        batch = self.batch
        if batch is None:
            return Text("loading…", style="dim")
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True, justify="right")
        for step in timeline_steps(batch, self.now):
            colour = STATUS_STYLES.get(step.status, "bold")
            name = printable(step.status.replace("_", " "))
            spent = duration(step.spent) if step.spent is not None else ""
            if step.state == "current":
                style = f"{colour} reverse"
                row = (Text(f"{MARKS['current']} {name} ", style=style), clock(step.started), Text(spent, style="bold"))
            elif step.state == "end":
                row = (Text(f"{MARKS['end']} {name}", style=colour), clock(step.started), "")
            elif step.state == "next":
                row = (Text(f"{MARKS['next']} {name}", style="dim"), Text("–", style="dim"), "")
            else:
                row = (Text(f"{MARKS['done']} {name}"), clock(step.started), Text(spent, style="dim"))
            grid.add_row(*row)
        note = deadline_note(batch, self.now)
        return Group(grid, note) if note.plain else grid

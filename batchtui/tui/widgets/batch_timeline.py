"""A batch's way through its statuses: when it reached each one, how long it stayed, what is left."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from batchtui.core.api.models import Batch
from batchtui.core.domain import ACTIVE_STATUSES, MAIN_PATH
from batchtui.core.text import printable
from batchtui.core.timetext import clock, duration
from batchtui.tui.format import STATUS_STYLES

STEP_STAMPS = (
    ("validating", "created_at"),
    ("in_progress", "in_progress_at"),
    ("finalizing", "finalizing_at"),
    ("completed", "completed_at"),
    ("failed", "failed_at"),
    ("expired", "expired_at"),
    ("cancelling", "cancelling_at"),
    ("cancelled", "cancelled_at"),
)
"""Each status and the Batch field holding when it began; validating begins when the batch is created."""

ORDER = {step: index for index, (step, _) in enumerate(STEP_STAMPS)}


@dataclass(frozen=True)
class Step:
    """One row of the timeline: `started` is None for a step not reached yet; `spent` None when open-ended."""

    status: str
    started: float | None
    spent: float | None
    state: str
    """"done" (left behind), "current" (the batch is in it now), "end" (where it finished), "next" (ahead)."""


def timeline_steps(batch: Batch, now: float) -> list[Step]:
    """The steps a batch went through, in time order, then the main-path steps still ahead of it.

    A batch on a branch (failed, expired, cancelling, cancelled) shows the branch it took, not the
    main-path steps it skipped. The current step of an active batch is timed up to `now`. A time of 0 (what a
    server's bad value becomes) is not known: that step is left out.
    """
    reached: list[tuple[str, float | None]] = [
        (status, float(stamp)) for status, field in STEP_STAMPS if (stamp := getattr(batch, field, None))
    ]
    reached.sort(key=lambda pair: (pair[1], ORDER[pair[0]]))
    if batch.status not in {status for status, _ in reached}:
        reached.append((batch.status, None))
    active = batch.status in ACTIVE_STATUSES
    steps: list[Step] = []
    for index, (status, started) in enumerate(reached):
        following = reached[index + 1][1] if index + 1 < len(reached) else None
        if index + 1 < len(reached):
            spent = following - started if following is not None and started is not None else None
            steps.append(Step(status, started, spent, "done"))
        elif active:
            steps.append(Step(status, started, now - started if started is not None else None, "current"))
        else:
            steps.append(Step(status, started, None, "end"))
    if batch.status == "cancelling":
        ahead: tuple[str, ...] = ("cancelled",)
    elif batch.status in MAIN_PATH and active:
        ahead = MAIN_PATH[MAIN_PATH.index(batch.status) + 1 :]
    else:
        ahead = ()
    steps.extend(Step(status, None, None, "next") for status in ahead)
    return steps


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

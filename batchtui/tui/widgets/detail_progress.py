"""A batch's progress: a bar split into completed and failed lines, counts, rate, ETA and the at-risk mark."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from batchtui.core.api.models import Batch
from batchtui.core.cache.store import ProgressObservation
from batchtui.core.domain import ACTIVE_STATUSES
from batchtui.core.insights.progress import RATE_WINDOW_SECONDS, Expectation, Progress, batch_progress, overall_rate
from batchtui.core.timetext import clock, duration, rate

BAR_WIDTH = (10, 60)


def progress_bar(completed: int, failed: int, total: int, width: int) -> Text:
    """`width` cells: green for completed lines, red for failed, dim for the rest."""
    if total <= 0:
        return Text("╌" * width, style="dim")
    done_cells = round(width * min(completed, total) / total)
    failed_cells = min(width - done_cells, round(width * min(failed, total) / total))
    if failed and not failed_cells and done_cells < width:
        failed_cells = 1
    rest = width - done_cells - failed_cells
    return Text.assemble(("━" * done_cells, "green"), ("━" * failed_cells, "red"), ("━" * rest, "dim"))


class BatchProgressPanel(Widget):
    """Set `batch`, `observations` (from the cache, oldest first) and `now`; it renders what they say."""

    DEFAULT_CSS = """
    BatchProgressPanel { height: auto; }
    """

    batch: reactive[Batch | None] = reactive(None, layout=True)
    observations: reactive[tuple[ProgressObservation, ...]] = reactive(())
    now: reactive[float] = reactive(0.0)
    expected: reactive[Expectation | None] = reactive(None)
    """When similar past batches of the account say this one should finish (None: no history, or finished)."""

    def set_observations(self, observations: Sequence[ProgressObservation]) -> None:
        self.observations = tuple(observations)

    def render(self) -> RenderableType:
        batch = self.batch
        if batch is None:
            return Text("loading…", style="dim")
        counts = batch.request_counts
        completed, failed, total = (counts.completed, counts.failed, counts.total) if counts else (0, 0, 0)
        progress = batch_progress(batch, self.observations, self.now)
        width = max(BAR_WIDTH[0], min(BAR_WIDTH[1], self.content_size.width - 6))
        percent = f"{progress.fraction * 100:5.1f}%" if total else "   - "
        bar = Text.assemble(progress_bar(completed, failed, total, width), " ", percent)
        tally = Text.assemble(
            (f"{completed:,}", "green"), " completed · ", (f"{failed:,}", "red" if failed else ""), " failed · ",
            (f"{total:,}", "bold"), " total",
        ) if counts else Text("no request counts reported", style="dim")
        lines = [bar, tally, self._pace(batch, progress)]
        if self.expected is not None and batch.status in ACTIVE_STATUSES:
            lines.append(self._history(batch, self.expected))
        return Group(*lines)

    def _history(self, batch: Batch, expected: Expectation) -> Text:
        """The finish that the account's own history predicts, beside the observed-rate ETA above; a cancelling
        batch's is when it should be cancelled, not done."""
        late = expected.finish_at < self.now
        if batch.status == "cancelling":
            when = ("overdue: similar cancellations had ended by " if late
                    else "similar cancellations say cancelled by ")
        else:
            when = "overdue: similar batches had finished by " if late else "similar batches say done by "
        return Text.assemble(
            when, (clock(expected.finish_at), "bold"),
            ("" if late else f" (in {duration(expected.finish_at - self.now)})", "dim"),
            (f" · {expected.similar:,} past batch{'es' if expected.similar != 1 else ''}, {expected.basis}", "dim"),
        )

    def _pace(self, batch: Batch, progress: Progress) -> Text:
        if batch.status not in ACTIVE_STATUSES:
            overall = overall_rate(batch)
            return Text(f"overall {rate(overall)} while in progress" if overall
                        else "no rate: the batch did not process lines", style="dim")
        if batch.status != "in_progress":
            return Text(f"rate: not counting while {batch.status.replace('_', ' ')}", style="dim")
        if progress.rate_per_minute is None:
            return Text("rate: measuring… (needs two syncs a few seconds apart)", style="dim")
        pace = Text.assemble("now ", (rate(progress.rate_per_minute), "bold"),
                             (f" (last {RATE_WINDOW_SECONDS / 60:.0f} min)", "dim"))
        if progress.eta is not None:  # a line of its own, so the AT RISK mark fits 100 columns
            pace.append("\nETA ")
            pace.append(clock(progress.eta), style="bold")
            pace.append(f" (in {duration(progress.eta - self.now)})", style="dim")
        if progress.at_risk:
            pace.append("  ")
            pace.append(" AT RISK ", style="bold white on red")
            pace.append(" ETA is after expires_at", style="red")
        return pace

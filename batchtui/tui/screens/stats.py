"""Batch statistics: turnaround and phase times, outcome shares, throughput, tokens and cost per day, with charts.

The figures are `batch_stats` over `app.batches`, computed in a thread (the first call loads price data, ~0.4 s) and
again whenever a sync changes the batches or the period changes. Days are local calendar days, as the rest of the
app shows local times. The charts are Rich renderables drawn to the width they get, in eighth blocks, so a bar is
never against the wrong label and a bucket's count or a day's cost is read off exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical, VerticalScroll
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, get_current_worker

from batchtui.core.api.models import Batch
from batchtui.core.domain import OUTCOMES
from batchtui.core.insights.pricing import usd
from batchtui.core.insights.stats import BatchStats, Percentiles, batch_stats
from batchtui.core.text import plural
from batchtui.core.timetext import duration
from batchtui.tui.commands import ScreenCommands
from batchtui.tui.format import STATUS_STYLES, literal
from batchtui.tui.screens.base import BatchtuiScreen

PERIODS: tuple[tuple[str, int | None], ...] = (("7 days", 7), ("30 days", 30), ("90 days", 90), ("all", None))
"""The `since` filter's choices: a label and a number of calendar days counting today (None: every batch)."""
DEFAULT_PERIOD = 1
WIDE_WIDTH = 110
"""From this many columns the panels and charts stand two side by side."""
NAME_CHARS = 32
"""Model and endpoint names are clipped to this in the tables."""
FIGURE_CHARS = 7
"""The widest figure: '23h 59m'."""
MAX_DAY_ROWS = 100
"""The per-day table lists at most this many days (newest first)."""
CHART_HEIGHT = 8
"""Rows of a per-day chart above its axis: 64 steps of an eighth of a cell."""
MAX_COLUMN_CHARS = 5
"""A day's column with the gap after it is at most this wide, however few the days."""
V_EIGHTHS = " ▁▂▃▄▅▆▇█"
H_EIGHTHS = " ▏▎▍▌▋▊▉█"


# --- figures as text -------------------------------------------------------------------------------------------


def local_zone(now: float) -> tzinfo:
    """The local time zone's offset as of `now` (what `format.clock` shows times in); UTC itself when the offset is
    zero, which `batch_stats` reads faster."""
    zone = datetime.fromtimestamp(now).astimezone().tzinfo
    assert zone is not None
    return UTC if zone.utcoffset(None) == timedelta(0) else zone


def period_start(days: int | None, now: float, zone: tzinfo) -> datetime | None:
    """Local midnight `days - 1` days before today, so the period is `days` whole calendar days counting today."""
    if days is None:
        return None
    today = datetime.fromtimestamp(now, zone).date()
    start = today - timedelta(days=days - 1)
    return datetime(start.year, start.month, start.day, tzinfo=zone)


def period_text(label: str, since: datetime | None) -> str:
    """'last 30 days (since 2025-05-13)' or 'all batches'."""
    return "all batches" if since is None else f"last {label} (since {since.date().isoformat()})"


def percent(share: float) -> str:
    """A share as a whole percentage; a small share that is not zero reads '<1%', never '0%'."""
    if share <= 0:
        return "0%"
    return "<1%" if share < 0.005 else f"{share:.0%}"


def compact(amount: float) -> str:
    """A count for an axis: '850', '12k', '1.2M', '3.4B'."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if amount >= size:
            scaled = amount / size
            return f"{scaled:.1f}{unit}" if scaled < 10 else f"{scaled:.0f}{unit}"
    return f"{amount:.0f}"


def dollars(amount: Decimal | float) -> str:
    """An axis label in dollars, written as `usd` writes every amount (a chart's scale is a float)."""
    return usd(amount if isinstance(amount, Decimal) else Decimal(str(amount)))


def rate(value: float | None) -> str:
    """Lines per minute: one decimal under 100."""
    if value is None:
        return "-"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _time(value: float | None) -> str:
    return "-" if value is None else duration(value)


def _grid(*headers: str, gap: int = 2) -> Table:
    """A borderless table: a label column that gives way when narrow, then right-aligned figures."""
    table = Table.grid(padding=(0, 0, 0, gap))
    table.add_column(overflow="ellipsis", max_width=NAME_CHARS)
    for header in headers:
        table.add_column(justify="right", no_wrap=True, min_width=max(len(header), FIGURE_CHARS))
    table.add_row("", *(Text(header, style="dim") for header in headers))
    return table


def _row(table: Table, label: Text, figures: Percentiles, show: Callable[[float | None], str] = _time) -> None:
    table.add_row(label, show(figures.p50), show(figures.p90), show(figures.max), f"{figures.count:,}")


def timings_table(stats: BatchStats) -> Table:
    """Turnaround and each phase of the completed batches, then their lines per minute: p50, p90, max."""
    table = _grid("p50", "p90", "max", "batches")
    _row(table, Text("turnaround", style="bold"), stats.turnaround)
    for phase, figures in stats.phases.items():
        _row(table, Text(f"  {phase.replace('_', ' ')}"), figures)
    _row(table, Text("lines / min", style="bold"), stats.lines_per_minute, rate)
    return table


def groups_table(stats: BatchStats) -> Table:
    """Turnaround of the completed batches by model, endpoint and size band (requests per batch)."""
    table = _grid("p50", "p90", "max", "batches", gap=1)
    for title, groups in (("model", stats.by_model), ("endpoint", stats.by_endpoint),
                          ("size band (requests)", stats.by_size_band)):
        table.add_row(Text(title, style="bold"))
        if not groups:
            table.add_row(Text("  -", style="dim"))
        for name, figures in groups.items():
            _row(table, Text.assemble("  ", literal(name)), figures)
    return table


def outcome_bars(stats: BatchStats) -> RenderableType:
    """The finished batches by final status, as shares with a bar each."""
    if not stats.finished:
        return Text("No finished batches.", style="dim")
    return Bars([
        (status, stats.outcomes[status], f"{percent(stats.shares[status])} ({stats.outcomes[status]:,})",
         STATUS_STYLES.get(status, ""))
        for status in OUTCOMES
    ])  # fmt: skip


def unpriced_note(models: Sequence[str]) -> str:
    """'no price for my-own-model' (each model named), the words the batch list uses for one batch."""
    return "no price for " + ", ".join(models)


def usage_summary(stats: BatchStats) -> RenderableType:
    """Tokens in and out and their cost at batch prices; a model without a price is named, never costed at $0."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    cached = f"  ({stats.cached_tokens:,} cached)" if stats.cached_tokens else ""
    grid.add_row("input", Text(f"{stats.input_tokens:,} tokens{cached}"))
    grid.add_row("output", Text(f"{stats.output_tokens:,} tokens"))
    if stats.cost_usd is None:
        grid.add_row("cost", literal(unpriced_note(stats.unpriced_models), "yellow"))
    else:
        grid.add_row("cost", Text(usd(stats.cost_usd), style="bold"))
        if stats.unpriced_models:
            grid.add_row("", literal(f"{unpriced_note(stats.unpriced_models)}: not in the cost", "yellow"))
    return grid


def days_table(stats: BatchStats) -> RenderableType:
    """The days that had batches, newest first: batches, tokens and cost; a model without a price is named.

    Lines of padded text rather than a Rich Table: a table of 100 rows takes ~50 ms to lay out, every layout."""
    days = [day for day in reversed(stats.per_day) if day.batches][:MAX_DAY_ROWS]
    if not days:
        return Text("No batches.", style="dim")
    headers = ("day", "batches", "input", "cached", "output")
    rows = [
        (day.date.isoformat(), f"{day.batches:,}", f"{day.input_tokens:,}", f"{day.cached_tokens:,}",
         f"{day.output_tokens:,}")
        for day in days
    ]  # fmt: skip
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        first, *figures = cells
        padded = (cell.rjust(width) for cell, width in zip(figures, widths[1:], strict=True))
        return "  ".join([first.ljust(widths[0]), *padded]) + "  "

    text = Text(end="\n")
    text.append(line(headers) + "cost", "dim")
    for day, cells in zip(days, rows, strict=True):
        text.append("\n" + line(cells))
        if day.cost_usd is not None:
            text.append(usd(day.cost_usd))
        if day.unpriced_models:
            text.append(("" if day.cost_usd is None else " + ") + unpriced_note(day.unpriced_models), "yellow")
    more = sum(1 for day in stats.per_day if day.batches) - len(days)
    if more > 0:
        text.append(f"\n… and {more:,} earlier days", "dim")
    return text


def histogram(stats: BatchStats) -> RenderableType:
    if not stats.turnaround.count:
        return Text("No completed batches.", style="dim")
    return Bars([(label, count, f"{count:,}", "") for label, count in stats.turnaround_histogram], style="cyan")


def cost_chart(stats: BatchStats) -> RenderableType:
    days = stats.per_day
    if not days:
        return Text("No batches.", style="dim")
    chart = DayColumns([day.date for day in days], [day.cost_usd for day in days], dollars, style="green")
    unpriced = sorted({model for day in days for model in day.unpriced_models})
    if not unpriced:
        return chart
    return Group(chart, literal(f"? = {unpriced_note(unpriced)}", "yellow"))


def tokens_chart(stats: BatchStats) -> RenderableType:
    days = stats.per_day
    if not days:
        return Text("No batches.", style="dim")
    return DayColumns([day.date for day in days], [day.input_tokens + day.output_tokens for day in days],
                      compact, style="magenta")


# --- charts ----------------------------------------------------------------------------------------------------


@dataclass
class Bars:
    """One row per (label, value, value text, style): the label, a bar scaled to the largest value, the text.

    A value above zero always gets at least an eighth of a cell, so a bucket of one is never invisible."""

    rows: Sequence[tuple[str, float, str, str]]
    style: str = ""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Text]:
        label_width = max(cell_len(label) for label, *_ in self.rows)
        text_width = max(cell_len(text) for _, _, text, _ in self.rows)
        room = max(1, options.max_width - label_width - text_width - 3)
        top = max(value for _, value, _, _ in self.rows)
        for label, value, text, style in self.rows:
            eighths = 0 if top <= 0 or value <= 0 else max(1, round(value / top * room * 8))
            full, part = divmod(eighths, 8)
            bar = "█" * full + (H_EIGHTHS[part] if part else "")
            yield Text.assemble(
                (label.rjust(label_width), "dim"), (" │", "dim"), (bar, style or self.style),
                " ", (text, "" if value else "dim"), end="\n",
            )  # fmt: skip


@dataclass
class DayColumns:
    """A column per day, oldest at the left, scaled to the largest day; the axis names the largest and zero.

    A value None (a day whose tokens had no price) shows '?' on the axis instead of a column. When the days do not
    fit the width, each column sums a run of days and the line under the chart says how many."""

    days: Sequence[date]
    values: Sequence[float | Decimal | None]
    label: Callable[..., str]
    height: int = CHART_HEIGHT
    style: str = ""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Text]:
        width = options.max_width
        guess = max(cell_len(self.label(max((v for v in self.values if v is not None), default=0))),
                    cell_len(self.label(0)))
        per = -(-len(self.values) // max(1, width - guess - 2))
        starts = list(self.days[::per])
        sums = [_sum(self.values[index:index + per]) for index in range(0, len(self.values), per)]
        top = max((value for value in sums if value is not None), default=0)
        top_label, zero_label = self.label(top) if top > 0 else "", self.label(0)
        axis = max(cell_len(top_label), cell_len(zero_label))
        room = max(1, width - axis - 2)
        step = max(1, min(MAX_COLUMN_CHARS, room // len(sums)))
        bar = step - 1 if step > 1 else 1
        levels = [_eighths(value, top, self.height) for value in sums]
        for row in range(self.height):
            floor = (self.height - 1 - row) * 8
            line = Text(top_label.rjust(axis) + " ┤" if row == 0 and top_label else " " * axis + " │", style="dim",
                        end="\n")
            for level in levels:
                filled = 0 if level is None else level - floor
                line.append((V_EIGHTHS[filled] if filled < 8 else "█") * bar if filled > 0 else " " * bar, self.style)
                line.append(" " * (step - bar))
            yield line
        baseline = Text(zero_label.rjust(axis) + " └", style="dim", end="\n")
        for level in levels:
            baseline.append("?" if level is None else "─", "yellow" if level is None else "dim")
            baseline.append("─" * (step - 1), "dim")
        yield baseline
        yield Text(_date_axis(starts, axis + 2, step, width), style="dim", end="\n")
        if per > 1:
            yield Text(f"{' ' * (axis + 2)}each column: {per} days", style="dim", end="\n")


def _eighths(value: float | Decimal | None, top: float | Decimal, height: int) -> int | None:
    """How many eighths of a cell tall `value`'s column is, `top` filling `height` cells; at least one above zero."""
    if value is None:
        return None
    return 0 if top <= 0 or value <= 0 else max(1, round(float(value) / float(top) * height * 8))


def _sum(values: Sequence[float | Decimal | None]) -> float | Decimal | None:
    """A run of days together: the sum of the known values; None only when every day is unknown."""
    known = [value for value in values if value is not None]
    return sum(known[1:], known[0]) if known else None


def _date_axis(starts: Sequence[date], offset: int, step: int, width: int) -> str:
    """The first, middle and last column's dates (ISO), each placed under its column where it does not overlap."""
    line = [" "] * width
    last = len(starts) - 1
    for index in dict.fromkeys((0, last, last // 2)):
        text = starts[index].isoformat()
        at = min(offset + index * step, width - len(text))
        if at < 0 or any(cell != " " for cell in line[max(0, at - 2):at + len(text) + 2]):
            continue
        line[at:at + len(text)] = text
    return "".join(line).rstrip()


# --- the screen ------------------------------------------------------------------------------------------------


class StatsScreen(BatchtuiScreen[None]):
    """Statistics of the account's batches over a period, recomputed in a thread whenever the batches change."""

    CSS_PATH = "stats.tcss"
    AUTO_FOCUS = "#stats-body"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("s", "cycle_period", "Period"),
        Binding("r", "app.refresh", "Refresh"),
    ]
    COMMANDS = {ScreenCommands}
    PALETTE = tuple(
        (f"Statistics of {'all batches' if days is None else f'the last {label}'}",
         "Count only the batches created in this period", f"period({index})")
        for index, (label, days) in enumerate(PERIODS)
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self.period = DEFAULT_PERIOD
        self.stats: BatchStats | None = None
        self._since: datetime | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="stats-summary", markup=False)
        with VerticalScroll(id="stats-body"):
            with Container(classes="stats-pair"):
                with Vertical(classes="stats-column"):
                    yield Static(id="stats-times", classes="stats-panel")
                    yield Static(id="stats-outcomes", classes="stats-panel")
                yield Static(id="stats-groups", classes="stats-panel")
            with Container(classes="stats-pair"):
                yield Static(id="stats-histogram", classes="stats-panel")
                yield Static(id="stats-cost", classes="stats-panel")
            with Container(classes="stats-pair"):
                yield Static(id="stats-usage", classes="stats-panel")
                yield Static(id="stats-tokens", classes="stats-panel")
            yield Static(id="stats-days", classes="stats-panel")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        titles = {
            "#stats-times": "Turnaround and phases · completed batches",
            "#stats-outcomes": "Outcomes · finished batches",
            "#stats-usage": "Tokens and cost · batch prices",
            "#stats-groups": "Turnaround by model, endpoint and size",
            "#stats-histogram": "Turnaround histogram · completed batches",
            "#stats-cost": "Cost per day",
            "#stats-tokens": "Tokens per day · input + output",
            "#stats-days": "Per day",
        }
        for selector, title in titles.items():
            self.query_one(selector).border_title = title
        self._fit(self.app.size.width)
        self._summary("Computing statistics…")
        self.watch(self.app, "batches", self._batches_changed)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        self.set_class(width >= WIDE_WIDTH, "-wide")

    # -- computing ------------------------------------------------------------------------------------------

    def _batches_changed(self, batches: tuple[Batch, ...]) -> None:
        self.recompute(batches)

    def recompute(self, batches: tuple[Batch, ...] | None = None) -> None:
        """Start computing the figures for the chosen period, as of the app's clock; a newer start supersedes."""
        now = self.app.clock()
        zone = local_zone(now)
        self._since = period_start(PERIODS[self.period][1], now, zone)
        self._compute(self.app.batches if batches is None else batches, self._since, now, zone)

    @work(thread=True, exclusive=True, exit_on_error=False, group="stats", description="batch statistics")
    def _compute(self, batches: tuple[Batch, ...], since: datetime | None, now: float, zone: tzinfo) -> None:
        """`description` is given: Textual would otherwise repr every argument, 0.9 s at 10,000 batches."""
        worker = get_current_worker()
        stats = batch_stats(batches, since=since, now=now, tz=zone)
        if not worker.is_cancelled:
            self.app.call_from_thread(self.show_stats, stats)

    def worker_failed(self, worker: Worker[object], line: str) -> None:
        if worker.group == "stats":
            self._summary(f"Cannot compute the statistics: {line}", error=True)

    # -- showing --------------------------------------------------------------------------------------------

    def show_stats(self, stats: BatchStats) -> None:
        if not self.is_attached:
            return
        self.stats = stats
        period = period_text(PERIODS[self.period][0], stats.since)
        if stats.batches:
            self._summary(f"{plural(stats.batches, 'batch')} · {stats.finished:,} finished · {stats.active:,} active · "
                          f"{period}")
        else:
            self._summary(f"No batches in {period}.")
        self._panel("#stats-times", timings_table(stats))
        self._panel("#stats-outcomes", outcome_bars(stats))
        self._panel("#stats-usage", usage_summary(stats))
        self._panel("#stats-groups", groups_table(stats))
        self._panel("#stats-histogram", histogram(stats))
        self._panel("#stats-cost", cost_chart(stats))
        self._panel("#stats-tokens", tokens_chart(stats))
        self._panel("#stats-days", days_table(stats))
        self.query_one("#stats-cost").border_title = f"Cost per day ({stats.timezone}) · batch prices"
        self.query_one("#stats-tokens").border_title = f"Tokens per day ({stats.timezone}) · input + output"
        self.query_one("#stats-days").border_title = f"Per day ({stats.timezone}) · days with batches, newest first"

    def _panel(self, selector: str, content: RenderableType) -> None:
        self.query_one(selector, Static).update(content)

    def _summary(self, text: str, *, error: bool = False) -> None:
        summary = self.query_one("#stats-summary", Static)
        summary.update(literal(text))
        summary.set_class(error, "-error")

    # -- actions --------------------------------------------------------------------------------------------

    def action_cycle_period(self) -> None:
        self.action_period((self.period + 1) % len(PERIODS))

    def action_period(self, index: int) -> None:
        self.period = index
        label, days = PERIODS[index]
        self._summary(f"Computing statistics of {'all batches' if days is None else f'the last {label}'}…")
        self.recompute()

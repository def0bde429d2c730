"""How the commands write: one-line messages on stderr, progress lines, and batches, reports, stats and query
results as text or JSON. Everything shown passes through `printable`, as any of it may come from a file or the API."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from batchtui.core.text import printable, printable_json
from batchtui.core.timetext import duration

if TYPE_CHECKING:
    from batchtui.core.api.models import Batch
    from batchtui.core.authoring.validate import ValidationReport
    from batchtui.core.insights.stats import BatchStats


def say(message: str) -> None:
    """One line on stderr, whatever the message quotes (a row's id, a column name, a file name, the API's text)."""
    print(f"batchtui: {printable(message)}", file=sys.stderr)


def say_notice(notice: str | None) -> None:
    """Tell the user, once, that a damaged cache file was set aside."""
    if notice is not None:
        say(notice)


def fail(message: str, status: int = 1) -> NoReturn:
    """Say `message` and end the command with exit `status`."""
    say(message)
    raise SystemExit(status)


def check_input_file(path: Path) -> None:
    """Fail in one line naming what `path` is, unless it is a file to read."""
    if path.is_dir():
        fail(f"{path}: is a folder; name a batch JSONL file in it")
    if not path.is_file():
        fail(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")


def print_json(value: Any) -> None:
    print(printable_json(json.dumps(value, indent=2, ensure_ascii=False)))


def print_object(obj: Any, as_json: bool, line: str | None = None) -> None:
    """An API object as the command's answer: the whole object as JSON for scripts, else `line` (its id by
    default), escaped."""
    if as_json:
        print_json(obj.to_dict())
    else:
        print(printable(obj.id if line is None else line))


def counts(batch: Batch) -> str:
    """A batch's requests as 'completed/total (N failed)'; '-' before it has any."""
    request_counts = batch.request_counts
    if request_counts is None or request_counts.total == 0:
        return "-"
    text = f"{request_counts.completed}/{request_counts.total}"
    return text + (f" ({request_counts.failed} failed)" if request_counts.failed else "")


def description(batch: Batch) -> str:
    return printable((batch.metadata or {}).get("description", ""))


class ProgressLine:
    """A one-line byte counter on stderr, drawn only when stderr is a terminal; `with` it to end the line."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if self.enabled and total:
            share = 100 * done // total
            print(f"\r{self.label} {share:3d}% ({done / 1e6:.1f} of {total / 1e6:.1f} MB)", end="", file=sys.stderr)

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.enabled:
            print(file=sys.stderr)


class ImportLine:
    """'importing 2/5 batch_x  40%' on stderr, drawn only when stderr is a terminal; `with` it to end the line."""

    def __init__(self, batches: int) -> None:
        self.batches = batches
        self.number = 0
        self.label = ""
        self.enabled = sys.stderr.isatty()
        self.drawn = 0

    def start(self, batch_id: str) -> None:
        self.number += 1
        count = f"{self.number}/{self.batches} " if self.batches > 1 else ""
        self.label = f"importing {count}{printable(batch_id)}"
        self(0, 0)

    def __call__(self, done: int, total: int) -> None:
        if self.enabled:
            text = f"{self.label} {100 * done // total if total else 0:3d}%"
            print(f"\r{text:<{self.drawn}}", end="", file=sys.stderr)
            self.drawn = max(self.drawn, len(text))

    def say(self, text: str) -> None:
        """Print a line of output, clearing the progress line first so the two never share a line."""
        if self.enabled and self.drawn:
            print(f"\r{'':<{self.drawn}}\r", end="", file=sys.stderr, flush=True)
            self.drawn = 0
        print(text, flush=True)

    def __enter__(self) -> ImportLine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.enabled and self.drawn:
            print(file=sys.stderr)


def report_lines(report: ValidationReport) -> list[str]:
    """A validation report for people: what the file holds, what it may cost, then each problem; escaped, as the
    file's name, its model and its lines may hold anything."""
    from batchtui.core.authoring.validate import report_figures

    name = report.path.name if report.path else "input"
    what = f"{report.requests:,} requests" + (f" to {report.endpoint}" if report.endpoint else "")
    lines = [f"{name}: {what}" + (f", model {report.model}" if report.model else "")]
    lines += [f"  {label}: {text}" for label, text in report_figures(report)]
    if report.ok:
        lines.append("  no problems found")
    else:
        lines.append(f"{report.problems_total:,} problem{'s' if report.problems_total != 1 else ''}:")
        lines += [problem.describe(name) for problem in report.problems]
        if report.problems_total > len(report.problems):
            lines.append(f"... and {report.problems_total - len(report.problems):,} more")
    return [printable(line) for line in lines]


def stats_lines(stats: BatchStats) -> list[str]:
    """The stats for people: counts, outcome shares, the percentile tables, then tokens and cost per day."""
    from batchtui.core.insights.pricing import usd

    def span(seconds: float | None) -> str:
        return duration(seconds, exact=True)

    since = f" since {stats.since:%Y-%m-%d}" if stats.since else ""
    lines = [f"{stats.batches:,} batches{since}: {stats.finished:,} finished, {stats.active:,} active; "
             + ", ".join(f"{name} {share:.0%}" for name, share in stats.shares.items())]
    rate = stats.lines_per_minute
    lines.append(f"lines per minute: p50 {rate.p50 or 0:,.0f} · p90 {rate.p90 or 0:,.0f} · max {rate.max or 0:,.0f}")
    tables = [("turnaround", {"all": stats.turnaround}), ("phase", stats.phases), ("model", stats.by_model),
              ("endpoint", stats.by_endpoint), ("size band", stats.by_size_band)]
    for title, groups in tables:
        lines.append("")
        lines.append(f"{title:<28} {'batches':>8} {'p50':>9} {'p90':>9} {'max':>9}")
        for name, p in groups.items():
            lines.append(f"{printable(name)[:28]:<28} {p.count:>8,} {span(p.p50):>9} {span(p.p90):>9} "
                         f"{span(p.max):>9}")
    days = [day for day in stats.per_day if day.batches]
    if days:
        lines += ["", f"{'day':<12} {'batches':>8} {'input tokens':>14} {'output tokens':>14} {'cost':>12}"]
        for day in days:
            cost = usd(day.cost_usd) if day.cost_usd is not None else "no price"
            lines.append(f"{day.date:%Y-%m-%d}   {day.batches:>8,} {day.input_tokens:>14,} {day.output_tokens:>14,} "
                         f"{cost:>12}")
    if stats.unpriced_models:
        lines.append("no price for " + ", ".join(printable(m) for m in stats.unpriced_models)
                     + " (their tokens are not in the costs)")
    return lines


def sql_value(value: object) -> object:
    """A value for CSV or JSON output: blobs as hex, the rest as they are."""
    return value.hex() if isinstance(value, bytes) else value


def _sql_cell(value: object, width: int) -> str:
    """A value as a table shows it: literally, control characters escaped, cut to `width` characters."""
    from rich.cells import cell_len, set_cell_size

    if value is None:
        text = "NULL"
    elif isinstance(value, bytes):
        text = "x'" + value.hex() + "'"
    else:
        text = printable(str(value))
    if width and cell_len(text) > width:
        text = set_cell_size(text, width - 1) + "…"
    return text


def sql_table(columns: list[str], rows: list[tuple[Any, ...]], width: int) -> list[str]:
    """Aligned columns under a header, numbers on the right, and a count of rows."""
    from rich.cells import cell_len

    head = [_sql_cell(name, width) for name in columns]
    cells = [[_sql_cell(value, width) for value in row] for row in rows]
    sizes = [max([cell_len(head[i]), *(cell_len(row[i]) for row in cells)]) for i in range(len(columns))]
    numeric = [all(isinstance(row[i], int | float) for row in rows if row[i] is not None) and
               any(row[i] is not None for row in rows) for i in range(len(columns))]

    def line(texts: list[str], right: list[bool]) -> str:
        padded = [" " * (size - cell_len(text)) + text if r else text + " " * (size - cell_len(text))
                  for text, size, r in zip(texts, sizes, right, strict=True)]
        return "  ".join(padded).rstrip()

    out = [line(head, numeric), "  ".join("-" * size for size in sizes)]
    out += [line(row, numeric) for row in cells]
    out.append(f"({len(rows):,} row{'' if len(rows) == 1 else 's'})")
    return out

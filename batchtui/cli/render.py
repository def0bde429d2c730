"""How the commands write: one-line messages on stderr, progress lines, and batches, reports, stats and query
results as text or JSON. Everything shown passes through `printable`, as any of it may come from a file or the API."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Self

from batchtui.core.text import byte_size, plural, printable, printable_json
from batchtui.core.timetext import duration, rate

if TYPE_CHECKING:
    from typing import TextIO

    from batchtui.core.api.models import Batch
    from batchtui.core.authoring.validate import ValidationReport
    from batchtui.core.insights.pricing import Cost
    from batchtui.core.insights.progress import Progress
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
    """A one-line byte counter on stderr, 'uploading x.jsonl  40% (4.9 KB of 12.3 KB)' with sizes in the unit
    that fits them, drawn only when stderr is a terminal; `with` it to end the line."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty()
        self.drawn = 0

    def __call__(self, done: int, total: int) -> None:
        if self.enabled and total:
            text = f"{self.label} {100 * done // total:3d}% ({byte_size(done)} of {byte_size(total)})"
            print(f"\r{text:<{self.drawn}}", end="", file=sys.stderr)  # a shorter line covers a longer one's tail
            self.drawn = max(self.drawn, len(text))

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
    what = plural(report.requests, "request") + (f" to {report.endpoint}" if report.endpoint else "")
    lines = [f"{name}: {what}" + (f", model {report.model}" if report.model else "")]
    lines += [f"  {label}: {text}" for label, text in report_figures(report)]
    if report.ok:
        lines.append("  no problems found")
    else:
        lines.append(f"{plural(report.problems_total, 'problem')}:")
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
    lines = [f"{plural(stats.batches, 'batch')}{since}: {stats.finished:,} finished, {stats.active:,} active; "
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


class LiveLine:
    """How something long goes, on stderr. On a terminal, one live line rewritten at each look; elsewhere (a log,
    CI) a line only when what it is keyed on changes, so a day's wait leaves a short log. `with` it to end the
    live line."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.last: object = None
        self.drawn = 0

    def show(self, text: str, *, name: str, key: object) -> None:
        """Draw `text` (escaped already) as the live line, or as a line of the log naming `name` when `key`
        differs from the last one shown."""
        import shutil

        if self.live:
            width = shutil.get_terminal_size().columns - 1
            text = text if len(text) <= width else text[:width - 1] + "…"
            print(f"\r{text:<{self.drawn}}", end="", file=self.stream, flush=True)
            self.drawn = max(self.drawn, len(text))
        elif key != self.last:
            print(f"batchtui: {printable(name)}: {text}", file=self.stream, flush=True)
        self.last = key

    def say(self, message: str) -> None:
        """A line of its own (a retry, say), clearing the live line first so the two never share a line."""
        if self.drawn:
            print(f"\r{'':<{self.drawn}}\r", end="", file=self.stream)
            self.drawn = 0
        print(f"batchtui: {printable(message)}", file=self.stream, flush=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.drawn:
            print(file=self.stream, flush=True)


class WaitLine(LiveLine):
    """How a wait for a batch goes: status, counts, rate, ETA, elapsed; logged once per status change."""

    def __call__(self, batch: Batch, progress: Progress) -> None:
        """Workspace.wait_for's `on_poll`: show the batch as just fetched."""
        import time

        self.show(wait_text(batch, progress, time.time()), name=batch.id, key=batch.status)


def wait_text(batch: Batch, progress: Progress, now: float) -> str:
    """'in_progress · 120/500 done, 3 failed · 75 lines/min · ETA 5m 04s · elapsed 12m 30s': what a waiting user
    wants to know, the parts not known yet left out (a finished batch says how long it took); escaped."""
    from batchtui.core.domain import ACTIVE_STATUSES, TERMINAL_STATUSES

    parts = [printable(batch.status)]
    failed = batch.request_counts.failed if batch.request_counts else 0
    if progress.total:
        parts.append(f"{progress.done:,}/{progress.total:,} done" + (f", {failed:,} failed" if failed else ""))
    if progress.rate_per_minute and batch.status in ACTIVE_STATUSES:
        parts.append(rate(progress.rate_per_minute))
    if progress.eta is not None:
        parts.append(f"ETA {duration(progress.eta - now, exact=True)}" + (" (after it expires)" if progress.at_risk
                                                                           else ""))
    ended = getattr(batch, f"{batch.status}_at") if batch.status in TERMINAL_STATUSES else None
    if batch.created_at and ended:
        parts.append(f"took {duration(ended - batch.created_at, exact=True)}")
    elif batch.created_at:
        parts.append(f"elapsed {duration(now - batch.created_at, exact=True)}")
    return " · ".join(parts)


def detail_lines(batch: Batch, now: float, estimate: Cost | None) -> list[str]:
    """`batchtui show` for people: what the app's batch detail shows, as lines: header, requests, the timeline with
    when each phase began and how long it lasted, files, tokens and cost, then every validation error; escaped."""
    from batchtui.core.insights.pricing import batch_cost, cost_note, usd
    from batchtui.core.insights.timeline import timeline_steps, token_limit_failure
    from batchtui.core.timetext import clock

    counts_ = batch.request_counts
    lines = [f"{batch.id}  {batch.status}", f"endpoint   {batch.endpoint}", f"model      {batch.model or '-'}",
             f"window     {batch.completion_window}", f"created    {clock(batch.created_at)}"]
    lines += [f"metadata   {key} = {value}" for key, value in (batch.metadata or {}).items()]
    lines.append(f"requests   {counts_.total:,} total, {counts_.completed:,} completed, {counts_.failed:,} failed"
                 if counts_ else "requests   - (not counted yet)")
    lines.append("timeline")
    for step in timeline_steps(batch, now):
        spent = duration(step.spent, exact=True) if step.spent is not None else ""
        state = {"current": "  (now)", "next": "  (ahead)"}.get(step.state, "")
        lines.append(f"  {step.status:<12} {clock(step.started):<19}  {spent:>8}{state}".rstrip())
    lines.append("files")
    lines += [f"  {kind:<7} {file_id}" for kind, file_id in
              (("input", batch.input_file_id), ("output", batch.output_file_id), ("error", batch.error_file_id))
              if file_id]
    usage = batch.usage
    if usage is not None:
        cached = getattr(usage.input_tokens_details, "cached_tokens", None)
        reasoning = getattr(usage.output_tokens_details, "reasoning_tokens", None)
        lines.append(f"tokens     input {usage.input_tokens:,}" + (f" ({cached:,} cached)" if cached else "")
                     + f", output {usage.output_tokens:,}" + (f" ({reasoning:,} reasoning)" if reasoning else "")
                     + f", total {usage.total_tokens:,}")
    cost = batch_cost(batch)
    if cost is not None:
        lines.append(f"cost       {usd(cost.total_usd)} (input {usd(cost.input_usd)}, cached {usd(cost.cached_usd)}, "
                     f"output {usd(cost.output_usd)}; {cost.basis})")
    elif usage is not None and usage.total_tokens:
        lines.append(f"cost       {cost_note(batch) or 'no price'}")
    if estimate is not None:
        lines.append(f"estimated  {usd(estimate.total_usd)} (at validation, output at its max_tokens ceiling)")
    errors = (batch.errors.data if batch.errors else None) or []
    advice = token_limit_failure(batch)
    if advice is not None:
        lines += [advice, f"  submit it again: batchtui start-batch {batch.input_file_id} --endpoint {batch.endpoint}"]
    if errors:
        lines.append(f"errors     {len(errors):,}")
        lines += [f"  line {error.line if error.line is not None else '-'}: {error.code or '-'}"
                  + (f" ({error.param})" if error.param else "") + f": {error.message or ''}" for error in errors]
    return [printable(line) for line in lines]


def detail_json(batch: Batch, now: float, estimate: Cost | None) -> dict[str, Any]:
    """`batchtui show --json`: the batch as the API gives it, plus what the detail derives from it: the timeline
    (each phase's start and seconds, null while not known) and the cost at batch prices and validation's estimate
    (USD as decimal strings, exact; null when there is none)."""
    from batchtui.core.insights.pricing import batch_cost
    from batchtui.core.insights.timeline import timeline_steps

    def money(cost: Cost | None) -> dict[str, str] | None:
        if cost is None:
            return None
        return {"input_usd": str(cost.input_usd), "cached_usd": str(cost.cached_usd),
                "output_usd": str(cost.output_usd), "total_usd": str(cost.total_usd), "basis": cost.basis}

    timeline = [{"status": step.status, "started_at": step.started, "seconds": step.spent, "state": step.state}
                for step in timeline_steps(batch, now)]
    return {"batch": batch.to_dict(), "timeline": timeline, "cost": money(batch_cost(batch)),
            "estimate": money(estimate)}

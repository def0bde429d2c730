"""Planning a job: its input (a JSONL file, or a template and a data file made into one) cut into parts within the
API's limits, each part written to the job's folder and validated, and the whole reported as `validate` reports a
file: every problem at the input's own line, the requests, tokens and cost.

It reads the input a few times in a row, holding one line and one part's custom_ids at a time (the ids of all parts
go to a temporary SQLite file, to find one used in two parts): a million-row job plans in bounded memory.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import orjson

from batchtui.core.authoring.batch_file import make_batch_file
from batchtui.core.authoring.datasets import MAX_BYTES, bounded_lines
from batchtui.core.authoring.split import plan_ranges, write_parts
from batchtui.core.authoring.validate import (
    MAX_EMBEDDING_INPUTS,
    MAX_LINES,
    MAX_PROBLEMS,
    Problem,
    ValidationReport,
    price_requests,
    validate_file,
)
from batchtui.core.cache.llm_logs import OutputHistory
from batchtui.core.domain import Cancelled, ProgressCallback
from batchtui.core.errors import BatchtuiError
from batchtui.core.jobs.store import Attempt, Job, Part
from batchtui.core.paths import make_private_dirs

DEFAULT_MAX_ATTEMPTS = 3


class JobPlanError(BatchtuiError):
    """The job cannot be planned: its input cannot be read or made, or an option is out of range."""


class JobPlanCancelled(Cancelled):
    """Planning was cancelled; nothing of the job was kept."""


@dataclass(frozen=True)
class JobSource:
    """What a job is made from: a JSONL batch file, or a template and a data file (as make-batch-file takes)."""

    jsonl: Path | None = None
    template: Path | None = None
    data: Path | None = None
    id_column: str | None = None
    endpoint: str | None = None
    model: str | None = None

    def describe(self) -> str:
        if self.jsonl is not None:
            return str(self.jsonl)
        return f"{self.template} + {self.data}"


@dataclass(frozen=True)
class JobOptions:
    name: str | None = None
    max_cost_usd: Decimal | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    part_lines: int = MAX_LINES
    part_bytes: int = MAX_BYTES
    enqueued_tokens: int | None = None
    """The budget of input tokens in flight for the model; None: the profile's, else learnt from the API."""

    def check(self) -> None:
        for option, value, low, high in (("--max-attempts", self.max_attempts, 1, 100),
                                         ("--part-lines", self.part_lines, 1, MAX_LINES),
                                         ("--part-bytes", self.part_bytes, 1, MAX_BYTES)):
            if not low <= value <= high:
                raise JobPlanError(f"{option} must be from {low:,} to {high:,}, not {value:,}.")
        if self.enqueued_tokens is not None and self.enqueued_tokens < 1:
            raise JobPlanError(f"--enqueued-tokens must be at least 1, not {self.enqueued_tokens:,}.")
        if self.max_cost_usd is not None and not self.max_cost_usd > 0:
            raise JobPlanError(f"--max-cost must be more than 0, not {self.max_cost_usd}.")


@dataclass(frozen=True)
class JobPlan:
    """A planned job (not yet recorded) and the report on its whole input. When the report has problems there is
    no job (and no folder left): `job` is None."""

    report: ValidationReport
    job: Job | None
    parts: list[Part]
    attempts: list[Attempt]


def new_job_id() -> str:
    return f"job_{secrets.token_hex(8)}"


def plan_job(
    source: JobSource,
    options: JobOptions,
    jobs_dir: Path,
    *,
    kind: str = "openai",
    history: Callable[[str], OutputHistory | None] = lambda model: None,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> JobPlan:
    """Plan a job in a new folder under `jobs_dir` (blocking: run it in a thread). `history(model)` gives the
    model's past output per input token, to estimate the output of requests that set no max_tokens. The folder
    is removed again when the input has problems, planning fails, or it is cancelled (`cancelled()` turns true:
    JobPlanCancelled, whether it was making the input, between parts or validating one)."""
    options.check()
    job_id = new_job_id()
    folder = jobs_dir / job_id
    make_private_dirs(folder)
    try:
        plan = _plan(job_id, folder, source, options, kind, history, progress, cancelled)
    except Cancelled:  # while making the input, between parts or within one: one error for all
        shutil.rmtree(folder, ignore_errors=True)
        raise JobPlanCancelled("Planning the job was cancelled; nothing was kept.") from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if plan.job is None:
        shutil.rmtree(folder, ignore_errors=True)
    return plan


def _plan(
    job_id: str, folder: Path, source: JobSource, options: JobOptions, kind: str,
    history: Callable[[str], OutputHistory | None], progress: ProgressCallback | None, cancelled: Callable[[], bool],
) -> JobPlan:
    manifest: Path | None = None
    endpoint = source.endpoint
    whole = folder / f"{job_id}.jsonl"
    if source.jsonl is not None:
        try:  # the job's own copy: the file may change or go once the job runs, the viewer reads this one
            shutil.copyfile(source.jsonl, whole)
        except OSError as exc:
            raise JobPlanError(f"Cannot copy {source.jsonl} into the job: {exc.strerror or exc}.") from None
    else:
        if source.template is None or source.data is None:
            raise JobPlanError("A job needs a JSONL file, or a template and a data file.")
        made = make_batch_file(source.template, source.data, whole, id_column=source.id_column,
                               endpoint=source.endpoint, model=source.model, cancelled=cancelled)
        manifest, endpoint = made.manifest, made.endpoint
    try:
        ranges = plan_ranges(whole, options.part_lines, options.part_bytes, MAX_EMBEDDING_INPUTS, kind, None)
    except BatchtuiError as exc:
        raise JobPlanError(str(exc)) from None
    names = [folder / f"{job_id}-part-{i:04d}.jsonl" for i in range(1, len(ranges) + 1)]
    try:
        paths = write_parts(whole, ranges, names)
    except BatchtuiError as exc:
        raise JobPlanError(str(exc)) from None
    total = sum(end - start for start, end in ranges)
    reports: list[ValidationReport] = []
    done = lines = 0
    for path in paths:
        if cancelled():
            raise JobPlanCancelled  # plan_job gives it its message
        report = validate_file(path, endpoint=endpoint, kind=kind, first_line=lines + 1, cancelled=cancelled,
                               progress=_offset(progress, done, total))
        endpoint = endpoint or report.endpoint
        reports.append(report)
        done += path.stat().st_size
        lines += report.lines
    report = _whole_report(source.jsonl or whole, reports, *_duplicates(paths), history)
    if not report.ok:
        return JobPlan(report, None, [], [])
    now = time.time()
    parts, attempts, line = [], [], 1
    for number, (path, part_report) in enumerate(zip(paths, reports, strict=True), start=1):
        if part_report.model:
            part_report = part_report.with_history(history(part_report.model))
        estimate = part_report.cost.total_usd if part_report.cost else None
        parts.append(Part(job_id, number, line, part_report.requests, path.stat().st_size, part_report.input_tokens,
                          estimate, 0, 0, False))
        attempts.append(Attempt(job_id, number, 1, str(path), part_report.requests, part_report.input_tokens, True,
                                "waiting", None, None, None, None, None))
        line += part_report.lines
    job = Job(
        id=job_id, name=options.name or (source.jsonl or source.data or Path(job_id)).stem, created_at=now,
        status="running", reason=None, source=source.describe(), folder=str(folder),
        manifest=None if manifest is None else str(manifest), endpoint=report.endpoint or "",
        model=report.model, requests=report.requests, input_tokens=report.input_tokens,
        estimate_usd=report.cost.total_usd if report.cost else None, max_cost_usd=options.max_cost_usd,
        max_attempts=options.max_attempts, enqueued_tokens=options.enqueued_tokens, lease_owner=None,
        lease_until=None, updated_at=now,
    )
    return JobPlan(report, job, parts, attempts)


def _offset(progress: ProgressCallback | None, base: int, total: int) -> ProgressCallback | None:
    """A part's validation progress as the whole input's."""
    if progress is None:
        return None
    return lambda done, _: progress(base + done, total)


def _whole_report(path: Path, reports: list[ValidationReport], extra: list[Problem], extra_total: int,
                  history: Callable[[str], OutputHistory | None]) -> ValidationReport:
    """The parts' reports (each validated at the input's line numbers) as one report on the whole input: their
    problems and the parts' models that differ, figures summed, the cost priced on the sums."""
    problems: list[Problem] = []
    total = offset = 0
    first = reports[0]
    model = first.model
    for report in reports:
        problems += report.problems
        total += report.problems_total
        if model is not None and report.model is not None and report.model != model:
            problems.append(Problem(offset + 1, "mismatched_model", f"this part of the job uses model "
                                    f"'{report.model}', its first part '{model}': a job is one model", "body.model"))
            total += 1
        offset += report.lines
    problems += extra
    total += extra_total
    problems.sort(key=lambda p: (p.line or 0))
    ceilings = [r.output_ceiling for r in reports if r.output_ceiling is not None]
    whole = replace(
        first, path=path, lines=offset, requests=sum(r.requests for r in reports), problems=problems[:MAX_PROBLEMS],
        problems_total=total, input_tokens=sum(r.input_tokens for r in reports),
        output_ceiling=sum(ceilings) if ceilings else None,
        lines_without_ceiling=sum(r.lines_without_ceiling for r in reports),
        unbounded_input_tokens=sum(r.unbounded_input_tokens for r in reports),
    )
    if model is not None:
        whole = replace(whole, cost=price_requests(model, whole.requests, whole.input_tokens,
                                                   whole.output_ceiling or 0) or whole.cost)
        whole = whole.with_history(history(model))
    return whole


def _duplicates(paths: list[Path]) -> tuple[list[Problem], int]:
    """A custom_id used in two parts (validation finds repeats within one part): its first use in each part after
    the first part's, at its job line; the first MAX_PROBLEMS of them and how many in all. The ids of the parts
    before go to a temporary SQLite file, not to memory; those of the part at hand (a part's worth at most) are held
    to be looked up there at once."""
    if len(paths) < 2:
        return [], 0
    problems: list[Problem] = []
    total = line = 0
    with contextlib.closing(sqlite3.connect("")) as ids:  # "": a private temporary file, removed when closed
        ids.execute("CREATE TABLE ids (custom_id TEXT PRIMARY KEY, part INTEGER NOT NULL) WITHOUT ROWID")
        ids.execute("CREATE TABLE here (custom_id TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID")
        for number, path in enumerate(paths, start=1):
            here: dict[str, int] = {}  # each id of this part at its first job line in it
            for raw in _lines(path):
                line += 1
                custom_id = _custom_id(raw)
                if custom_id is not None:
                    here.setdefault(custom_id, line)
            ids.executemany("INSERT INTO here VALUES (?, ?)", here.items())
            for at, custom_id, first in ids.execute("SELECT line, custom_id, part FROM here JOIN ids USING (custom_id) "
                                                    "ORDER BY line"):
                total += 1
                if len(problems) < MAX_PROBLEMS:
                    problems.append(Problem(at, "duplicate_custom_id", f"custom_id {custom_id!r} is used in part "
                                            f"{first} of the job too; each request needs its own", "custom_id"))
            ids.execute("INSERT INTO ids SELECT custom_id, ? FROM here WHERE true ON CONFLICT DO NOTHING", (number,))
            ids.execute("DELETE FROM here")
    return problems, total


def _lines(path: Path):  # type: ignore[no-untyped-def]
    with open(path, "rb", buffering=1 << 20) as fh:
        yield from bounded_lines(fh, MAX_BYTES)


def _custom_id(raw: bytes | int) -> str | None:
    if isinstance(raw, int) or raw.isspace():
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    custom_id = value.get("custom_id") if isinstance(value, dict) else None
    return custom_id if isinstance(custom_id, str) else None



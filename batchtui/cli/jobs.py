"""`batchtui job ...`: one dataset through one model, carried to the end across as many batches as it takes.

A job's state lives in the profile's cache, so `job run` (or the app) picks it up after any crash or kill; a lease
there lets one process advance it while others watch.
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from cyclopts import App, Parameter

from batchtui.cli.common import JsonOption, ProfileOption, non_empty, run
from batchtui.cli.render import LiveLine, ProgressLine, fail, print_json, report_lines, say
from batchtui.core.errors import BatchtuiError
from batchtui.core.text import plural, printable
from batchtui.core.timetext import clock, duration

if TYPE_CHECKING:

    from batchtui.core.jobs.runner import JobRunner, JobView
    from batchtui.core.workspace import Workspace

job_app = App(name="job", help="Jobs: a dataset of any size through one model, cut into batches and carried to the "
                              "end (limits, retries, crashes).")

JobArgument = Annotated[str, Parameter(validator=non_empty, help="The job's id (or the start of it), or its name.")]
PollOption = Annotated[float, Parameter(help="Seconds between passes over the job's batches (at least 0.1).")]


def _money(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        amount = Decimal(text.strip().removeprefix("$").replace(",", ""))
    except InvalidOperation:
        fail(f"--max-cost {printable(text)}: not an amount in USD, e.g. 25 or 2.50", status=2)
    if not amount.is_finite() or amount <= 0:
        fail(f"--max-cost {printable(text)}: must be more than 0", status=2)
    return amount


def _check_poll(poll_seconds: float) -> None:
    if not poll_seconds >= 0.1:
        fail(f"--poll-seconds {poll_seconds:g}: must be at least 0.1", status=2)


@job_app.command
def start(
    source: Annotated[Path, Parameter(help="A batch JSONL file of any size, or a template (with DATA).")],
    data: Annotated[Path | None, Parameter(help="The rows for the template: .csv, .jsonl or .xlsx.")] = None,
    /,
    *,
    name: Annotated[str | None, Parameter(help="What to call the job (default: the file's name).")] = None,
    endpoint: Annotated[str | None, Parameter(help="Default: the lines' url (or the template's).")] = None,
    model: Annotated[str | None, Parameter(help="With a template: set body.model on every request.")] = None,
    id_column: Annotated[str | None, Parameter(help="With a template: the column of custom_ids.")] = None,
    max_cost: Annotated[str | None, Parameter(help="A ceiling in USD: refuse a job estimated over it, and pause "
                                                   "rather than pass it.")] = None,
    max_attempts: Annotated[int, Parameter(help="Times a request is sent at most (passing failures only).")] = 3,
    part_lines: Annotated[int, Parameter(help="Requests per batch at most (default: the API's 50,000).")] = 50_000,
    part_bytes: Annotated[int, Parameter(help="Bytes per batch at most (default: the API's 200 MB).")
                          ] = 200 * 1024 * 1024,
    enqueued_tokens: Annotated[int | None, Parameter(help="Input tokens of the model in flight at most (default: the "
                                                          "profile's enqueued_token_limit, else learnt).")] = None,
    detach: Annotated[bool, Parameter(negative=(), help="Print the job id and return; `job run` advances it.")
                      ] = False,
    poll_seconds: PollOption = 5.0,
    as_json: JsonOption = False,
    profile: ProfileOption = None,
) -> None:
    """Validate the whole input, print the estimate, record the job, then run it in the foreground with a live
    progress line (or, with --detach, print its id and return). Nothing is uploaded when the input has problems
    (every one is listed; exit 1) or its estimate is over --max-cost."""
    import asyncio

    from batchtui.core.jobs.plan import JobOptions, JobSource, plan_job
    from batchtui.core.jobs.runner import JobRunner

    _check_poll(poll_seconds)
    for path in (source, data):
        if path is not None and not path.is_file():
            fail(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file", status=2)
    job_source = (JobSource(jsonl=source, endpoint=endpoint) if data is None else
                  JobSource(template=source, data=data, id_column=id_column, endpoint=endpoint, model=model))
    if data is None and (model or id_column):
        fail("--model and --id-column go with a template and DATA", status=2)
    options = JobOptions(name=name, max_cost_usd=_money(max_cost), max_attempts=max_attempts, part_lines=part_lines,
                         part_bytes=part_bytes, enqueued_tokens=enqueued_tokens)
    try:
        options.check()
    except BatchtuiError as exc:
        fail(str(exc), status=2)

    async def work(workspace: Workspace) -> JobView | None:
        runner = JobRunner(workspace)
        with ProgressLine(f"planning {printable(source.name)}") as bar:
            plan = await asyncio.to_thread(plan_job, job_source, options, runner.jobs_dir, kind=workspace.profile.kind,
                                           history=workspace.output_history, progress=bar)
        for line in report_lines(plan.report):
            print(line, file=sys.stderr)
        if plan.job is None:
            return None
        job = await runner.record(plan)
        say(f"{job.id}: {plural(len(plan.parts), 'part')} of at most {part_lines:,} requests")
        if detach:
            return await runner.view(job.id)
        return await _run(runner, job.id, poll_seconds)

    view = run(work, profile)
    if view is None:
        raise SystemExit(1)
    if detach:
        print_json({"id": view.job.id}) if as_json else print(view.job.id)
        return
    _finish(view, as_json)


@job_app.command(name="list")
def list_jobs(*, as_json: JsonOption = False, profile: ProfileOption = None) -> None:
    """The jobs in this profile's cache, newest first."""
    from batchtui.core.jobs.runner import JobRunner

    views = run(lambda workspace: JobRunner(workspace).jobs(), profile)
    if as_json:
        print_json([view.to_dict() for view in views])
        return
    for view in views:
        job = view.job
        parts_done = sum(p.done for p in view.parts)
        print(f"{printable(job.id)}  {job.status:<9} {clock(job.created_at, seconds=False)}  "
              f"parts {parts_done}/{len(view.parts)}  {_requests(view)}  {_money_text(view)}  {printable(job.name)}")


@job_app.command
def show(job: JobArgument, /, *, as_json: JsonOption = False, profile: ProfileOption = None) -> None:
    """A job's status, each part with its batches (attempt, id, status, counts), its requests, estimate and spend."""
    from batchtui.core.jobs.runner import JobRunner

    view = run(lambda workspace: JobRunner(workspace).view(job), profile)
    if as_json:
        print_json(view.to_dict())
        return
    print("\n".join(show_lines(view, time.time())))


@job_app.command(name="run")
def run_job(
    job: JobArgument,
    /,
    *,
    max_cost: Annotated[str | None, Parameter(help="A new ceiling in USD, e.g. to go on with a job paused at its "
                                                   "ceiling.")] = None,
    poll_seconds: PollOption = 5.0,
    as_json: JsonOption = False,
    profile: ProfileOption = None,
) -> None:
    """Advance the job in the foreground until it ends, with a live progress line; safe to kill and run again.
    While another process holds the job, this one watches. Exit 0 when it completed, 1 otherwise (a job paused at
    its ceiling goes on with a higher --max-cost)."""
    from batchtui.core.jobs.runner import JobRunner

    _check_poll(poll_seconds)
    ceiling = _money(max_cost)

    async def work(workspace: Workspace) -> JobView:
        runner = JobRunner(workspace)
        job_id = (await runner.store.job(job)).id
        if ceiling is not None:
            await runner.set_ceiling(job_id, ceiling)
        return await _run(runner, job_id, poll_seconds)

    _finish(run(work, profile), as_json)


@job_app.command
def cancel(job: JobArgument, /, *, as_json: JsonOption = False, profile: ProfileOption = None) -> None:
    """Stop the job: nothing more is sent and its running batches are cancelled; finished answers stay and export."""
    from batchtui.core.jobs.runner import JobRunner

    view = run(lambda workspace: JobRunner(workspace).cancel(job), profile)
    if as_json:
        print_json(view.to_dict())
        return
    print(f"{printable(view.job.id)}: {view.job.status}" + (
        f" ({plural(len(view.running), 'batch', 'batches')} cancelling)" if view.running else ""))


@job_app.command
def delete(job: JobArgument, /, *, profile: ProfileOption = None) -> None:
    """Forget a job that has ended (or is paused) and remove its files from the cache (its input, parts and
    retries); its batches and their results stay. Export it first if you want its table."""
    from batchtui.core.jobs.runner import JobRunner

    gone = run(lambda workspace: JobRunner(workspace).delete(job), profile)
    say(f"{gone.id} ({gone.name}) deleted, with its folder {gone.folder}")


@job_app.command
def export(
    job: JobArgument,
    /,
    *,
    output: Annotated[Path, Parameter(name=["-o", "--output"], help="OUT.csv (with the data's columns for a "
                                                                    "template job) or OUT.jsonl.")],
    profile: ProfileOption = None,
) -> None:
    """Write each input row once, in the input's order, with its latest attempt's answer."""
    from batchtui.core.jobs.runner import JobRunner

    async def work(workspace: Workspace) -> int:
        with ProgressLine(f"writing {printable(output.name)}") as bar:
            return await JobRunner(workspace).export(job, output, progress=bar)

    rows = run(work, profile)
    say(f"{plural(rows, 'row')} written to {output}")


async def _run(runner: JobRunner, job_id: str, poll_seconds: float) -> JobView:
    with JobLine() as line:
        return await runner.run(job_id, poll_seconds=poll_seconds, on_pass=line,
                                on_retry=lambda exc, delay: line.say(f"{exc} (next try in {delay:.0f} s)"))


def _finish(view: JobView, as_json: bool) -> None:
    if as_json:
        print_json(view.to_dict())
    else:
        print(f"{printable(view.job.id)}: {_summary(view, time.time())}")
    if view.job.status != "completed":
        raise SystemExit(1)


def _requests(view: JobView) -> str:
    text = f"{view.succeeded:,}/{view.job.requests:,} ok"
    return text + (f", {view.failed:,} failed" if view.failed else "")


def _money_text(view: JobView) -> str:
    from batchtui.core.insights.pricing import usd

    ceiling = view.job.max_cost_usd
    return f"{usd(view.spend)}" + (f" of {usd(ceiling)}" if ceiling is not None else "")


def _summary(view: JobView, now: float) -> str:
    """'running · parts 3/20 done, 2 running · 9,000/12,000 ok, 40 failed, 2,960 pending · $1.23 · ETA 5m'."""
    parts_done = sum(p.done for p in view.parts)
    bits = [view.job.status + (f" ({printable(view.job.reason)})" if view.job.reason else "")]
    bits.append(f"parts {parts_done}/{len(view.parts)} done" + (f", {len(view.running)} running" if view.running
                                                                 else ""))
    bits.append(_requests(view) + (f", {view.pending:,} pending" if view.pending else ""))
    bits.append(f"spent {_money_text(view)}")
    if (eta := view.eta(now)) is not None:
        bits.append(f"ETA {duration(eta - now, exact=True)}")
    if view.watching:
        bits.append(f"watching: {printable(view.watching)} runs it")
    return " · ".join(bits)


def show_lines(view: JobView, now: float) -> list[str]:
    """The job for people: its header, then a line per part and one per batch of it."""
    from batchtui.core.insights.pricing import usd

    job = view.job
    lines = [
        f"{printable(job.id)}  {printable(job.name)}",
        f"  {_summary(view, now)}",
        f"  source: {printable(job.source)}",
        f"  {printable(job.endpoint)}, model {printable(job.model or '-')}, {plural(job.requests, 'request')}, "
        f"{job.input_tokens:,} input tokens",
        f"  estimate: {usd(job.estimate_usd) if job.estimate_usd is not None else 'no price'}; "
        f"at most {plural(job.max_attempts, 'attempt')} per request",
        f"  made {clock(job.created_at)}; folder {printable(job.folder)}",
    ]
    for part in view.parts:
        state = "done" if part.done else "open"
        lines.append(f"part {part.part}: {part.requests:,} requests, {part.succeeded:,} ok, {part.failed:,} failed, "
                     f"{part.pending:,} pending ({state})")
        for item in (a for a in view.attempts if a.attempt.part == part.part):
            attempt, batch = item.attempt, item.batch
            status = batch.status if batch else ("sending" if attempt.create_started else "waiting")
            counts = batch.request_counts if batch else None
            figures = f"{counts.completed:,}/{counts.total:,} done, {counts.failed:,} failed" if counts else ""
            note = " (refused for the enqueued-token limit; sent again)" if attempt.state == "limited" else ""
            lines.append(f"  attempt {attempt.attempt}: {printable(attempt.batch_id or '-')}  {printable(status)}  "
                         f"{figures}{note}".rstrip())
    return lines


class JobLine(LiveLine):
    """How a running job goes: parts, requests done, failed and pending, spend, ETA; logged whenever its status,
    its parts done or its batches running change."""

    def __call__(self, view: JobView) -> None:
        self.show(_summary(view, time.time()), name=view.job.id,
                  key=(view.job.status, sum(p.done for p in view.parts), len(view.running)))

"""The command line: `batchtui` opens the TUI; the other commands serve scripts.

Command names follow the openai-batch CLI. Every failure is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from cyclopts import App, Parameter
from openai.types import Batch

from batchtui import __version__
from batchtui.core.api.client import BATCH_ENDPOINTS
from batchtui.core.authoring.batch_file import make_batch_file as make_batch_file_from
from batchtui.core.config import Profile, resolve_profile
from batchtui.core.errors import BatchtuiError
from batchtui.core.insights.pricing import usd
from batchtui.core.results.export import export_csv, export_jsonl, export_rows
from batchtui.core.results.index import build_index
from batchtui.core.results.retry import RETRY_KINDS, RetryKind
from batchtui.core.text import printable, printable_json
from batchtui.core.workspace import Workspace

if TYPE_CHECKING:
    from batchtui.core.authoring.validate import ValidationReport
    from batchtui.core.insights.stats import BatchStats

T = TypeVar("T")


def _non_empty(type_: object, value: str | None) -> None:
    """Cyclopts validator: an id argument must name something."""
    if value is not None and not value.strip():
        raise ValueError("an id cannot be empty")


BatchIdArgument = Annotated[str, Parameter(validator=_non_empty)]
ProfileOption = Annotated[str | None, Parameter(help="Profile from config.toml (default: the OPENAI_* variables).")]
JsonOption = Annotated[bool, Parameter(negative=(), help="Print JSON for scripts.")]

app = App(
    name="batchtui",
    version=__version__,
    help="See into your OpenAI Batch API jobs: a terminal app, a CLI and a local sandbox.",
    error_formatter=lambda error: "batchtui: " + " ".join(str(error).split()),
)


class UsageError(BatchtuiError):
    """The command line itself is wrong."""


def _run(work: Callable[[Workspace], Awaitable[T]], profile_name: str | None) -> T:
    """Run one command's async work against the profile's workspace; errors become one line."""

    async def main() -> T:
        async with await Workspace.open(resolve_profile(profile_name)) as workspace:
            _say_notice(workspace.notice)
            return await work(workspace)

    try:
        return asyncio.run(main())
    except BatchtuiError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted")


def _say_notice(notice: str | None) -> None:
    """Tell the user, once, that a damaged cache file was set aside."""
    if notice is not None:
        _say(notice)


def _say(message: str) -> None:
    """One line on stderr, whatever the message quotes (a row's id, a column name, a file name, the API's text)."""
    print(f"batchtui: {printable(message)}", file=sys.stderr)


def _fail(message: str, status: int = 1) -> None:
    _say(message)
    raise SystemExit(status)


def _check_input_file(path: Path) -> None:
    """Fail in one line naming what `path` is, unless it is a file to read."""
    if path.is_dir():
        _fail(f"{path}: is a folder; name a batch JSONL file in it")
    if not path.is_file():
        _fail(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")


def _print_json(value: Any) -> None:
    print(printable_json(json.dumps(value, indent=2, ensure_ascii=False)))


def _when(timestamp: int | None) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M") if timestamp else "-"


def _counts(batch: Batch) -> str:
    counts = batch.request_counts
    if counts is None or counts.total == 0:
        return "-"
    text = f"{counts.completed}/{counts.total}"
    return text + (f" ({counts.failed} failed)" if counts.failed else "")


def _description(batch: Batch) -> str:
    return printable((batch.metadata or {}).get("description", ""))


class _ProgressLine:
    """A one-line byte counter on stderr, drawn only when stderr is a terminal; `with` it to end the line."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if self.enabled and total:
            share = 100 * done // total
            print(f"\r{self.label} {share:3d}% ({done / 1e6:.1f} of {total / 1e6:.1f} MB)", end="", file=sys.stderr)

    def __enter__(self) -> _ProgressLine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.enabled:
            print(file=sys.stderr)


@app.default
def tui(
    *,
    demo: bool = False,
    bell: Annotated[bool, Parameter(negative=(), help="Ring the terminal bell when a batch changes status.")] = False,
    profile: ProfileOption = None,
) -> None:
    """Open the terminal app (with --demo: against a seeded local sandbox, no account needed)."""
    from batchtui.tui.app import run_app

    try:
        if demo:
            _run_demo(functools.partial(run_app, bell=bell))
        else:
            run_app(resolve_profile(profile), bell=bell)
    except BatchtuiError as exc:
        _fail(str(exc))


def _run_demo(run_app: Callable[..., None]) -> None:
    import tempfile

    from batchtui.sandbox import SandboxConfig, SandboxServer

    with tempfile.TemporaryDirectory(prefix="batchtui-demo-") as home, SandboxServer(
        SandboxConfig(seed_demo=True)
    ) as server:
        profile = Profile(name="demo", base_url=server.base_url, api_key="sk-demo")
        run_app(profile, cache_dir=Path(home) / "cache", demo=True)


@app.command
def view(
    output: Annotated[Path | None, Parameter(help="The output file (or any batch JSONL file).")] = None,
    /,
    *,
    input: Annotated[Path | None, Parameter(name=["--input", "-i"], help="The batch's input file.")] = None,
    errors: Annotated[Path | None, Parameter(name=["--errors", "-e"], help="The batch's error file.")] = None,
    profile: ProfileOption = None,
) -> None:
    """Open the result viewer on local files: each request beside its response (no account needed)."""
    from batchtui.core.results.index import ResultFiles
    from batchtui.tui.viewer_app import ViewerApp

    given = [path for path in (output, input, errors) if path is not None]
    if not given:
        _fail("view: name at least one file: OUTPUT, --input or --errors")
    for path in given:
        _check_input_file(path)
    try:
        chosen = resolve_profile(profile)
    except BatchtuiError as exc:
        _fail(str(exc))
    ViewerApp(ResultFiles(input=input, output=output, errors=errors), chosen).run()


@app.command
def list_batches(
    *,
    status: Annotated[str | None, Parameter(help="Only batches in this status.")] = None,
    limit: Annotated[int | None, Parameter(help="At most this many, newest first.")] = None,
    json: JsonOption = False,
    profile: ProfileOption = None,
) -> None:
    """List batches, newest first (refreshes the local cache; offline, shows what it holds)."""

    async def work(workspace: Workspace) -> list[Batch]:
        try:
            await workspace.refresh()
        except BatchtuiError as exc:
            _say(f"showing cached batches only: {exc}")
        return await workspace.batches(status=status, limit=limit)

    batches = _run(work, profile)
    if json:
        _print_json([b.model_dump(mode="json") for b in batches])
        return
    for b in batches:
        print(f"{printable(b.id)}  {printable(b.status):<11} {_when(b.created_at)}  {printable(b.endpoint):<20} "
              f"{printable(b.model or '-'):<22} {_counts(b):<18} {_description(b)}".rstrip())


@app.command
def upload_batch_file(file: Path, /, *, json: JsonOption = False, profile: ProfileOption = None) -> None:
    """Upload a .jsonl batch input file; prints its file id."""
    _check_input_file(file)

    async def work(workspace: Workspace):
        with _ProgressLine(f"uploading {printable(file.name)}") as bar:
            return await workspace.upload(file, progress=bar)

    uploaded = _run(work, profile)
    if json:
        _print_json(uploaded.model_dump(mode="json"))
    else:
        print(printable(uploaded.id))


def _parse_metadata(pairs: list[str], description: str | None) -> dict[str, str]:
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--metadata '{pair}': expected KEY=VALUE")
        metadata[key] = value
    if description is not None:
        metadata["description"] = description
    return metadata


@app.command
def start_batch(
    file_id: BatchIdArgument,
    /,
    *,
    endpoint: Annotated[str, Parameter(help=f"One of {', '.join(BATCH_ENDPOINTS)}.")] = "/v1/chat/completions",
    description: Annotated[str | None, Parameter(help="Stored as metadata 'description'.")] = None,
    metadata: Annotated[list[str] | None, Parameter(help="KEY=VALUE, repeatable.", consume_multiple=True)] = None,
    json: JsonOption = False,
    profile: ProfileOption = None,
) -> None:
    """Start a batch over an uploaded file; prints the batch id."""
    try:
        pairs = _parse_metadata(metadata or [], description)
    except UsageError as exc:
        _fail(str(exc))

    batch = _run(lambda workspace: workspace.start_batch(file_id, endpoint, metadata=pairs or None), profile)
    if json:
        _print_json(batch.model_dump(mode="json"))
    else:
        print(printable(batch.id))


@app.command
def get_batch_results(
    batch_id: BatchIdArgument,
    /,
    *,
    output_dir: Annotated[Path, Parameter(name=["-o", "--output-dir"], help="Where to save the files.")] = Path("."),
    wait: Annotated[bool, Parameter(negative=(), help="Wait until the batch has finished.")] = False,
    poll_seconds: Annotated[float, Parameter(help="With --wait: seconds between checks (at least 1).")] = 5.0,
    json: JsonOption = False,
    profile: ProfileOption = None,
) -> None:
    """Download a batch's output and error files; if it has none yet, print its status and counts.

    With --wait, errors that pass (rate limits, server errors, a lost connection) are waited out, each
    noted on stderr; one that will not pass ends the wait."""
    from batchtui.core.workspace import MIN_POLL_SECONDS

    if wait and not poll_seconds >= MIN_POLL_SECONDS:
        _fail(f"--poll-seconds {poll_seconds:g}: must be at least {MIN_POLL_SECONDS:g}", status=2)

    def retrying(exc: BatchtuiError, delay: float) -> None:
        _say(f"{exc} (waiting: next try in {delay:.0f} s)")

    async def work(workspace: Workspace):
        if wait:
            batch = await workspace.wait_for(batch_id, poll_seconds, on_retry=retrying)
        else:
            batch = await workspace.fetch_batch(batch_id)
        with _ProgressLine("downloading") as bar:
            return batch, await workspace.fetch_results(batch, output_dir, progress=bar)

    batch, files = _run(work, profile)
    if json:
        _print_json({
            "batch": batch.model_dump(mode="json"),
            "files": [{"kind": f.kind, "file_id": f.file_id, "path": str(f.path), "bytes": f.bytes} for f in files],
        })
        return
    print(f"{printable(batch.id)}: {printable(batch.status)}, requests {_counts(batch)}")
    for f in files:
        print(f"{f.kind}: {printable(str(f.path))}")


@app.command
def cancel_batch(batch_id: BatchIdArgument, /, *, json: JsonOption = False, profile: ProfileOption = None) -> None:
    """Ask the API to cancel a batch; finished lines stay in its output file."""

    batch = _run(lambda workspace: workspace.cancel_batch(batch_id), profile)
    if json:
        _print_json(batch.model_dump(mode="json"))
    else:
        print(f"{printable(batch.id)}: {printable(batch.status)}")


def _report_lines(report: ValidationReport) -> list[str]:
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


@app.command
def validate(
    file: Path,
    /,
    *,
    endpoint: Annotated[str | None, Parameter(help="The batch endpoint (default: the url of the lines).")] = None,
    json: JsonOption = False,
) -> None:
    """Check a batch input file offline, as OpenAI will, and estimate its tokens and cost.

    Exit status: 0 no problems, 1 problems found, 2 the file could not be read."""
    from batchtui.core.authoring.validate import validate_file

    if endpoint is not None and endpoint not in BATCH_ENDPOINTS:
        _fail(f"--endpoint {endpoint}: not a batch endpoint ({', '.join(BATCH_ENDPOINTS)})", status=2)
    try:
        with _ProgressLine(f"validating {printable(file.name)}") as bar:
            report = validate_file(file, endpoint=endpoint, progress=bar)
    except BatchtuiError as exc:
        _fail(str(exc), status=2)
    if json:
        _print_json(report.to_dict())
    else:
        print("\n".join(_report_lines(report)))
    raise SystemExit(0 if report.ok else 1)


@app.command
def make_batch_file(
    template: Annotated[Path, Parameter(help="A request body (or whole request line) as JSON with {{Column}} "
                                             "placeholders.")],
    data: Annotated[Path, Parameter(help="The rows: .csv (header row), .jsonl or .xlsx.")],
    /,
    *,
    output: Annotated[Path | None, Parameter(name=["-o", "--output"], help="Default: DATA.batch.jsonl.")] = None,
    id_column: Annotated[str | None, Parameter(help="The column of custom_ids (default: id/ID, else row number).")
                         ] = None,
    endpoint: Annotated[str | None, Parameter(help="Default: told by the body (messages, input, prompt).")] = None,
    model: Annotated[str | None, Parameter(help="Set body.model on every request.")] = None,
    skip_bad_rows: Annotated[bool, Parameter(negative=(), help="List and skip bad rows instead of stopping.")] = False,
    split: Annotated[bool, Parameter(negative=(), help="Cut an over-limit file into parts within the API's limits.")
                     ] = False,
) -> None:
    """Make a batch input file from a prompt template and a data file; prints the file (or parts) written."""
    from batchtui.core.authoring.split import check_part_names, split_file

    out = output or data.with_suffix(".batch.jsonl")
    try:
        if split:
            check_part_names(out, [template, data])
        with _ProgressLine(f"writing {printable(out.name)}") as bar:
            made = make_batch_file_from(template, data, out, id_column=id_column, endpoint=endpoint, model=model,
                                        skip_bad_rows=skip_bad_rows, progress=bar)
        parts = split_file(made.out, keep=[template, data]) if split else [made.out]
    except BatchtuiError as exc:
        _fail(str(exc))
    for skipped in made.skipped:
        _say(f"skipped {data.name} row {skipped.row} (id {skipped.id}): {skipped.reason}")
    summary = f"{made.rows:,} requests to {made.endpoint}" + (f", {len(made.skipped):,} rows skipped"
                                                               if made.skipped else "")
    _say(f"{summary}; manifest {made.manifest}")
    for part in parts:
        print(printable(str(part)))


@app.command(name="split")
def split_command(
    file: Path,
    /,
    *,
    max_lines: Annotated[int, Parameter(help="Requests per part at most.")] = 50_000,
    max_bytes: Annotated[int, Parameter(help="Bytes per part at most.")] = 200 * 1024 * 1024,
) -> None:
    """Cut a batch input file into parts (FILE.part-001.jsonl, ...) that each stay within the limits (by default
    the API's: 50,000 requests and 200 MB)."""
    from batchtui.core.authoring.split import split_file

    for option, value in (("--max-lines", max_lines), ("--max-bytes", max_bytes)):
        if value < 1:
            _fail(f"{option} {value}: must be at least 1")
    try:
        parts = split_file(file, max_lines=max_lines, max_bytes=max_bytes)
    except BatchtuiError as exc:
        _fail(str(exc))
    for part in parts:
        print(printable(str(part)))


@app.command
def export_results(
    batch_id: BatchIdArgument,
    /,
    *,
    output: Annotated[Path, Parameter(name=["-o", "--output"], help="A .csv or .jsonl file.")],
    data: Annotated[Path | None, Parameter(help="The data file, if it moved since make-batch-file.")] = None,
    manifest: Annotated[Path | None, Parameter(help="make-batch-file's manifest, if the input file was not "
                                                    "uploaded from here.")] = None,
    profile: ProfileOption = None,
) -> None:
    """Export every request of a batch with its answer (the latest retry's, if retried). For a batch made by
    make-batch-file, CSV rows are the data file's rows with status, answer and tokens after them."""
    async def work(workspace: Workspace) -> int:
        with _ProgressLine(f"exporting {output.name}") as bar:
            return await export(workspace, bar)

    async def export(workspace: Workspace, bar: _ProgressLine) -> int:
        batch = await workspace.fetch_batch(batch_id)
        files = await workspace.batch_result_files(batch, progress=bar)
        own = await workspace.batch_sources(batch) | {path for path in (data, manifest, files.input, files.output,
                                                                         files.errors) if path is not None}
        if any(output.resolve() == path.resolve() for path in own):
            raise UsageError(f"{output}: is a file of the batch itself (its data, input or manifest); "
                             "export to another file")
        joined = None
        if output.suffix.lower() != ".jsonl":
            joined = await workspace.data_join(batch, manifest=manifest, data=data)
            if joined is None and (manifest or data):
                raise UsageError(f"{batch_id}: no make-batch-file manifest found for its input file; "
                                 "pass --manifest")
        index = await asyncio.to_thread(build_index, files, store_dir=workspace.index_dir())
        try:
            rows = range(len(index))
            if output.suffix.lower() == ".jsonl":
                return await asyncio.to_thread(export_jsonl, export_rows(index, rows), output, total=len(rows),
                                               progress=bar)
            return await asyncio.to_thread(export_csv, export_rows(index, rows), output, total=len(rows),
                                           progress=bar, data=joined)
        finally:
            index.close()

    written = _run(work, profile)
    _say(f"exported {written:,} requests to {output}")


@app.command
def retry_batch(
    batch_id: BatchIdArgument,
    /,
    *,
    only: Annotated[list[RetryKind] | None, Parameter(
        help="Which requests to send again: failed, expired, cancelled (repeatable; default: all three).",
        consume_multiple=True)] = None,
    json: JsonOption = False,
    profile: ProfileOption = None,
) -> None:
    """Send again, as a new batch linked by metadata retry_of, the requests whose latest attempt failed,
    expired or was cancelled; prints the new batch id."""
    kinds = only or list(RETRY_KINDS)

    async def work(workspace: Workspace) -> Batch:
        with _ProgressLine("retry") as bar:
            return await workspace.retry_batch(await workspace.fetch_batch(batch_id), kinds, progress=bar)

    batch = _run(work, profile)
    if json:
        _print_json(batch.model_dump(mode="json"))
    else:
        print(printable(batch.id))


class _ImportLine:
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

    def __enter__(self) -> _ImportLine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.enabled and self.drawn:
            print(file=sys.stderr)


@app.command
def import_batch(
    batch_id: Annotated[str | None, Parameter(help="The batch whose requests to import.", validator=_non_empty)
                        ] = None,
    /,
    *,
    all_batches: Annotated[bool, Parameter(name="--all", negative=(), help="Every batch in the cache (refreshed "
                                           "first) that has an input file.")] = False,
    since: Annotated[str | None, Parameter(help="With --all: only batches created on or after this day "
                                                "(YYYY-MM-DD, local time).")] = None,
    force: Annotated[bool, Parameter(negative=(), help="Read batches again even if unchanged since their last "
                                                       "import.")] = False,
    json: JsonOption = False,
    profile: ProfileOption = None,
) -> None:
    """Put every request of a batch into the cache's llm_logs table, one row each with its response (the latest
    retry's), to query with `batchtui sql`; prints each batch's count of requests."""
    from dataclasses import asdict

    from batchtui.core.cache.llm_logs import ImportResult

    if (batch_id is None) == (not all_batches):
        _fail("import-batch: name a BATCH_ID or give --all (not both)")
    cutoff = None
    if since is not None:
        if not all_batches:
            _fail("import-batch: --since goes with --all")
        try:
            cutoff = dt.datetime.combine(dt.date.fromisoformat(since), dt.time()).timestamp()
        except ValueError:
            _fail(f"--since '{since}': expected a day as YYYY-MM-DD")

    def report(line: _ImportLine, result: ImportResult) -> None:
        if not json:
            line.say(f"{printable(result.batch_id)}: {result.rows:,} requests, {result.with_response:,} with a response"
                     + (" (unchanged)" if result.unchanged else "")
                     + (f", {result.skipped:,} lines skipped (not JSON, or a repeated custom_id)"
                        if result.skipped else ""))

    async def work(workspace: Workspace) -> tuple[list[ImportResult], list[str]]:
        if batch_id is not None:
            with _ImportLine(1) as line:
                line.start(batch_id)
                result = await workspace.import_batch(batch_id, progress=line, force=force)
                report(line, result)
            return [result], []
        try:
            await workspace.refresh()
        except BatchtuiError as exc:
            _say(f"importing cached batches only: {exc}")
        batches = [b for b in reversed(await workspace.batches())
                   if b.input_file_id and (cutoff is None or (b.created_at or 0) >= cutoff)]
        results, failures = [], []
        with _ImportLine(len(batches)) as line:
            for batch in batches:
                line.start(batch.id)
                try:
                    results.append(await workspace.import_batch(batch, progress=line, force=force))
                except BatchtuiError as exc:
                    failures.append(f"{batch.id}: {exc}")
                    continue
                report(line, results[-1])
        return results, failures

    results, failures = _run(work, profile)
    if json:
        _print_json([asdict(result) for result in results])
    for failure in failures:
        _say(str(failure))
    if failures:
        raise SystemExit(1)


SQL_TABLE_ROWS = 10_000
"""Rows the sql command's table shows at most unless told: it holds them all to align the columns."""


def _sql_value(value: object) -> object:
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


def _sql_table(columns: list[str], rows: list[tuple[Any, ...]], width: int) -> list[str]:
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


@app.command
def sql(
    query: Annotated[str | None, Parameter(help="One SELECT statement, e.g. over llm_logs or batches.")] = None,
    /,
    *,
    output_format: Annotated[Literal["table", "csv", "json"], Parameter(
        name="--format", help="table (aligned, for reading), csv, or json (an array of objects).")] = "table",
    width: Annotated[int, Parameter(help="Table format: cut values to this many characters (0: never).")] = 80,
    max_rows: Annotated[int | None, Parameter(help=f"Stop after this many rows (0: never; default {SQL_TABLE_ROWS:,} "
                                                   "for the table, which holds its rows to align them, none for "
                                                   "csv and json, which stream).")] = None,
    examples: Annotated[bool, Parameter(negative=(), help="Print example queries and exit.")] = False,
    profile: ProfileOption = None,
) -> None:
    """Query the local cache with SQL, read-only: llm_logs (one row per imported request, with JSON columns
    request, response and metadata; Postgres' -> and ->> operators work), batches, files, observations."""
    import csv
    from itertools import islice

    from batchtui.core.cache.sql import EXAMPLE_QUERIES, ReadOnlyQueryError, stream_readonly_query
    from batchtui.core.results.export import formula_safe

    if examples:
        for title, example in EXAMPLE_QUERIES:
            print(f"-- {title}\n{example};\n")
        return
    if query is None:
        _fail("sql: give a query, e.g. batchtui sql \"SELECT count(*) FROM llm_logs\" (--examples shows more)")
    if max_rows is not None and max_rows < 0:
        _fail(f"--max-rows {max_rows}: give a count of rows, or 0 for no limit")
    limit = (SQL_TABLE_ROWS if output_format == "table" else 0) if max_rows is None else max_rows
    to_terminal = sys.stdout.isatty()
    try:
        path = resolve_profile(profile).cache_dir() / "cache.db"
    except BatchtuiError as exc:
        _fail(str(exc))
    if path.is_dir():
        _fail(f"{path}: cannot open the cache (it is a folder, not a file)")
    if not path.is_file():
        _fail(f"no cache at {path} yet: run `batchtui list-batches` or `batchtui import-batch` first")
    try:
        _say_notice(asyncio.run(_upgrade_cache(path)))
        with stream_readonly_query(path, query) as (columns, all_rows):
            rows = islice(all_rows, limit) if limit else all_rows
            if output_format == "table":
                print("\n".join(_sql_table(columns, list(rows), width)))
            elif output_format == "csv":
                # a spreadsheet must not run a cell; a terminal must not act on one (a file or pipe gets it exact)
                def cell(value: object) -> object:
                    value = formula_safe(_sql_value(value))
                    return printable(value) if to_terminal and isinstance(value, str) else value

                writer = csv.writer(sys.stdout, lineterminator="\n")
                writer.writerow([cell(name) for name in columns])
                writer.writerows([cell(v) for v in row] for row in rows)
            else:
                print("[", end="")
                for n, row in enumerate(rows):
                    item = {name: _sql_value(v) for name, v in zip(columns, row, strict=True)}
                    print(("," if n else "") + "\n  " + printable_json(json.dumps(item, ensure_ascii=False)), end="")
                print("\n]")
            if limit and next(all_rows, None) is not None:
                _say(f"stopped after {limit:,} rows; --max-rows N shows more (0: all)")
    except (ReadOnlyQueryError, BatchtuiError) as exc:
        _fail(str(exc))


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _stats_lines(stats: BatchStats) -> list[str]:
    """The stats for people: counts, outcome shares, the percentile tables, then tokens and cost per day."""
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
            lines.append(f"{printable(name)[:28]:<28} {p.count:>8,} {_span(p.p50):>9} {_span(p.p90):>9} "
                         f"{_span(p.max):>9}")
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


@app.command
def stats(
    *,
    since: Annotated[str | None, Parameter(help="Only batches created on or after this day (YYYY-MM-DD).")] = None,
    json: JsonOption = False,
    profile: ProfileOption = None,
) -> None:
    """How long the account's batches really take (turnaround and each phase, p50 / p90 / max by model, endpoint
    and size band), how they ended, and tokens and cost per day at batch prices."""
    from batchtui.core.insights.stats import batch_stats

    try:
        start = dt.datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=dt.UTC) if since else None
    except ValueError:
        _fail(f"--since {since}: expected a day as YYYY-MM-DD")

    async def work(workspace: Workspace) -> list[Batch]:
        try:
            await workspace.refresh()
        except BatchtuiError as exc:
            _say(f"counting cached batches only: {exc}")
        return await workspace.batches()

    figures = batch_stats(_run(work, profile), since=start)
    if json:
        _print_json(figures.to_dict())
    else:
        print("\n".join(_stats_lines(figures)))


async def _upgrade_cache(path: Path) -> str | None:
    """Bring a cache made by an older batchtui up to date (our own write, not the query's), or set a damaged one
    aside; returns the notice saying so. A cache that cannot be written here is read as it is: the query says so
    if it needed the upgrade."""
    from batchtui.core.cache.store import ReadOnlyCacheError, open_or_set_aside

    try:
        cache, notice = await open_or_set_aside(path)
    except ReadOnlyCacheError:
        return None
    await cache.close()
    return notice


@app.command
def sandbox(
    *,
    host: str = "127.0.0.1",
    port: int = 8750,
    speed: Annotated[float, Parameter(help="Run the clock this many times faster.")] = 1.0,
    fail_rate: Annotated[float, Parameter(help="Share of lines (0..1) that fail with a 400 body.")] = 0.0,
    data_dir: Annotated[Path | None, Parameter(help="Keep state here across restarts.")] = None,
    seed_demo: Annotated[bool, Parameter(negative=(), help="Start with a believable demo account.")] = False,
    faults: Annotated[str | None, Parameter(help="e.g. '429=0.1,500=0.05,slow=0.1,drop=0.05'.")] = None,
) -> None:
    """Serve a local OpenAI-compatible Batch and Files API with a fake model, until stopped."""
    from batchtui.sandbox import FaultConfig, SandboxConfig, run_forever

    if not 0 <= port <= 65535:
        _fail(f"--port {port}: expected 1-65535, or 0 for any free port")
    if data_dir is not None:
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            _fail(f"--data-dir {data_dir}: is a file, not a folder")
        except OSError as exc:
            _fail(f"--data-dir {data_dir}: cannot make the folder ({exc.strerror or exc})")
    try:
        fault_config = FaultConfig.parse(faults) if faults else FaultConfig.from_env()
        config = SandboxConfig(
            speed=speed, fail_rate=fail_rate, data_dir=data_dir, seed_demo=seed_demo, faults=fault_config
        )
    except ValueError as exc:
        _fail(f"{'--faults: ' if faults else ''}{exc}")

    def announce(base_url: str) -> None:
        print(base_url, flush=True)
        print(f"Point the SDK at it: OPENAI_BASE_URL={base_url} OPENAI_API_KEY=sk-anything", file=sys.stderr)

    try:
        run_forever(config, host, port, on_ready=announce)
    except OSError as exc:
        _fail(f"cannot serve on {host}:{port}: {exc.strerror or exc}")


def main() -> None:
    """Console-script entry point: whatever goes wrong ends in one line on stderr, a closed pipe in silence."""
    import sqlite3

    try:
        try:
            app()
        finally:
            sys.stdout.flush()  # here, so a reader that went away is caught below, not at exit
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop as Unix tools do, without a word
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush cannot fail again
        raise SystemExit(128 + signal.SIGPIPE) from None
    except KeyboardInterrupt:
        _fail("interrupted", 128 + signal.SIGINT)
    except BatchtuiError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_error_line(exc))
    except sqlite3.Error as exc:
        _fail(f"the local cache failed: {exc}")
    except Exception as exc:  # noqa: BLE001 - a bug: one line here, the traceback in a report
        _fail(f"unexpected error ({type(exc).__name__}); the full report is in {_crash_report(exc)}")


def _os_error_line(exc: OSError) -> str:
    """An OS error as one line naming its file(s), e.g. "out/x.csv: No space left on device"."""
    reason = exc.strerror or str(exc)
    names = [str(name) for name in (exc.filename, exc.filename2) if name is not None]
    return f"{' -> '.join(names)}: {reason}" if names else reason


def _crash_report(exc: BaseException) -> str:
    """Write the traceback of an unexpected error, with any key-like text redacted, to a private file; its path."""
    import tempfile
    import traceback

    from batchtui.core.errors import redact_keys
    from batchtui.core.paths import cache_root
    from batchtui.core.text import redact_urls

    text = f"batchtui {__version__}\nargs: {sys.argv[1:]}\n\n" + "".join(traceback.format_exception(exc))
    secret = os.environ.get("OPENAI_API_KEY")
    if secret:
        text = text.replace(secret, "<key>")
    for folder in (cache_root() / "crash-reports", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix="batchtui-crash-", suffix=".txt", dir=folder)
            with open(fd, "w", encoding="utf-8") as out:
                out.write(redact_urls(redact_keys(text)))
            return name
        except OSError:
            continue
    return "(nowhere: no folder could be written)"

"""The commands over the account's batches: list, show, upload, start, fetch results, cancel, retry."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from cyclopts import Parameter

from batchtui.cli.common import BatchIdArgument, JsonOption, ProfileOption, log_results, run
from batchtui.cli.render import (
    ProgressLine,
    WaitLine,
    check_input_file,
    counts,
    description,
    detail_json,
    detail_lines,
    fail,
    print_json,
    print_object,
    say,
)
from batchtui.core.domain import (
    ACTIVE_STATUSES,
    RETRY_KIND_NAMES,
    TERMINAL_STATUSES,
    MetadataError,
    RetryKind,
    batch_endpoints,
    parse_expiry,
    parse_metadata,
)
from batchtui.core.errors import BatchtuiError
from batchtui.core.text import printable
from batchtui.core.timetext import clock

if TYPE_CHECKING:
    from batchtui.core.api.models import Batch
    from batchtui.core.insights.pricing import Cost
    from batchtui.core.workspace import Workspace


def list_batches(
    *,
    status: Annotated[str | None, Parameter(help="Only batches in this status.")] = None,
    limit: Annotated[int | None, Parameter(help="At most this many, newest first.")] = None,
    as_json: JsonOption = False,
    profile: ProfileOption = None,
) -> None:
    """List batches, newest first (refreshes the local cache; when the API cannot be asked, shows what the cache
    holds, and fails if it holds nothing)."""

    async def work(workspace: Workspace) -> list[Batch]:
        try:
            await workspace.refresh()
        except BatchtuiError as exc:
            if not await workspace.batches(limit=1):
                raise  # nothing cached to answer from: an empty list would pass for "no batches"
            say(f"showing cached batches only: {exc}")
        return await workspace.batches(status=status, limit=limit)

    batches = run(work, profile)
    if as_json:
        print_json([b.to_dict() for b in batches])
        return
    for b in batches:
        print(f"{printable(b.id)}  {printable(b.status):<11} {clock(b.created_at, seconds=False)}  "
              f"{printable(b.endpoint):<20} {printable(b.model or '-'):<22} {counts(b):<18} {description(b)}".rstrip())


def show(batch_id: BatchIdArgument, /, *, as_json: JsonOption = False, profile: ProfileOption = None) -> None:
    """Print a batch's detail, as the app's detail shows it: counts, the timeline with when each phase began and
    how long it lasted, files, tokens and cost, validation errors (the API's copy; the cache's, said so on
    stderr, when the API cannot be asked)."""
    import time

    async def work(workspace: Workspace) -> tuple[Batch, Cost | None]:
        try:
            batch = await workspace.fetch_batch(batch_id)
        except BatchtuiError as exc:
            cached = await workspace.batch(batch_id)
            if cached is None:
                raise
            say(f"showing the cached copy only: {exc}")
            batch = cached
        return batch, await workspace.batch_estimate(batch.id)

    batch, estimate = run(work, profile)
    if as_json:
        print_json(detail_json(batch, time.time(), estimate))
    else:
        print("\n".join(detail_lines(batch, time.time(), estimate)))


def upload_batch_file(
    file: Path,
    /,
    *,
    expires_after: Annotated[str | None, Parameter(help="Delete the file on the API this long after upload: 1h "
                                                        "to 30d, e.g. 7d, 12h (default: OpenAI's 30d).")] = None,
    as_json: JsonOption = False,
    profile: ProfileOption = None,
) -> None:
    """Upload a .jsonl batch input file; prints its file id."""
    check_input_file(file)
    seconds = _expiry("--expires-after", expires_after)

    async def work(workspace: Workspace):
        with ProgressLine(f"uploading {printable(file.name)}") as bar:
            return await workspace.upload(file, expires_after_seconds=seconds, progress=bar)

    uploaded = run(work, profile)
    print_object(uploaded, as_json)


def start_batch(
    file_id: BatchIdArgument,
    /,
    *,
    endpoint: Annotated[str, Parameter(help=f"One of {', '.join(batch_endpoints())}; with an Azure profile one of "
                                            f"{', '.join(batch_endpoints('azure'))}.")] = "/v1/chat/completions",
    description: Annotated[str | None, Parameter(help="Stored as metadata 'description'.")] = None,
    metadata: Annotated[list[str] | None, Parameter(help="KEY=VALUE, repeatable.", consume_multiple=True)] = None,
    output_expires_after: Annotated[str | None, Parameter(help="Delete the output and error files on the API this "
                                                               "long after they are made: 1h to 30d, e.g. 7d "
                                                               "(default: OpenAI's 30d).")] = None,
    as_json: JsonOption = False,
    profile: ProfileOption = None,
) -> None:
    """Start a batch over an uploaded file; prints the batch id."""
    try:
        pairs = parse_metadata(metadata or [], description or "")
    except MetadataError as exc:
        fail(f"--metadata '{exc.pair}': expected KEY=VALUE" if exc.pair is not None else f"--metadata: {exc}")
    seconds = _expiry("--output-expires-after", output_expires_after)

    batch = run(lambda workspace: workspace.start_batch(file_id, endpoint, metadata=pairs or None,
                                                        output_expires_after_seconds=seconds), profile)
    print_object(batch, as_json)


def _expiry(option: str, text: str | None) -> int | None:
    """The seconds an expiry option gives, or None when it is not given; a usage error (status 2) when it is
    not a duration OpenAI takes."""
    if text is None:
        return None
    try:
        return parse_expiry(text)
    except ValueError as exc:
        fail(f"{option}: {exc}", status=2)


def get_batch_results(
    batch_id: BatchIdArgument,
    /,
    *,
    output_dir: Annotated[Path, Parameter(name=["-o", "--output-dir"], help="Where to save the files.")] = Path("."),
    wait: Annotated[bool, Parameter(negative=(), help="Wait until the batch has finished.")] = False,
    poll_seconds: Annotated[float, Parameter(help="With --wait: seconds between checks (at least 1).")] = 5.0,
    as_json: JsonOption = False,
    profile: ProfileOption = None,
) -> None:
    """Download a batch's output and error files; if it has none yet, print its status and counts.

    With --wait, stderr tells how the wait goes: on a terminal one live line (status, counts, rate, ETA,
    elapsed), else a line per status change. Errors that pass (rate limits, server errors, a lost connection)
    are waited out, each noted on stderr; one that will not pass ends the wait."""
    from batchtui.core.results.index import ResultFiles
    from batchtui.core.workspace import MIN_POLL_SECONDS

    if wait and not poll_seconds >= MIN_POLL_SECONDS:
        fail(f"--poll-seconds {poll_seconds:g}: must be at least {MIN_POLL_SECONDS:g}", status=2)

    async def work(workspace: Workspace):
        if wait:
            with WaitLine() as line:
                batch = await workspace.wait_for(
                    batch_id, poll_seconds, on_poll=line,
                    on_retry=lambda exc, delay: line.say(f"{exc} (waiting: next try in {delay:.0f} s)"))
        else:
            batch = await workspace.fetch_batch(batch_id)
        with ProgressLine("downloading") as bar:
            files = await workspace.fetch_results(batch, output_dir, progress=bar)
        if files and batch.status not in ACTIVE_STATUSES:
            paths = {f.kind: f.path for f in files}
            await log_results(workspace, batch, ResultFiles(output=paths.get("output"), errors=paths.get("error")))
        return batch, files

    batch, files = run(work, profile)
    if as_json:
        print_json({
            "batch": batch.to_dict(),
            "files": [{"kind": f.kind, "file_id": f.file_id, "path": str(f.path), "bytes": f.bytes} for f in files],
        })
        return
    print(f"{printable(batch.id)}: {printable(batch.status)}, requests {counts(batch)}")
    for f in files:
        print(f"{f.kind}: {printable(str(f.path))}")


def cancel_batch(batch_id: BatchIdArgument, /, *, as_json: JsonOption = False, profile: ProfileOption = None) -> None:
    """Ask the API to cancel a batch; finished lines stay in its output file."""

    batch = run(lambda workspace: workspace.cancel_batch(batch_id), profile)
    if batch.status in TERMINAL_STATUSES and batch.status != "cancelled":
        say(f"{printable(batch.id)} had already finished ({batch.status}): nothing to cancel")
    print_object(batch, as_json, f"{batch.id}: {batch.status}")


def retry_batch(
    batch_id: BatchIdArgument,
    /,
    *,
    only: Annotated[list[RetryKind] | None, Parameter(
        help="Which requests to send again: failed, expired, cancelled (repeatable; default: all three).",
        consume_multiple=True)] = None,
    as_json: JsonOption = False,
    profile: ProfileOption = None,
) -> None:
    """Send again, as a new batch linked by metadata retry_of, the requests whose latest attempt failed,
    expired or was cancelled; prints the new batch id. With none to send it says so on stderr, prints nothing
    (`null` with --json) and exits 0."""
    from batchtui.core.results.retry import NothingToRetry

    kinds = only or list(RETRY_KIND_NAMES)

    async def work(workspace: Workspace) -> Batch | None:
        with ProgressLine("retry") as bar:
            try:
                return await workspace.retry_batch(await workspace.fetch_batch(batch_id), kinds, progress=bar)
            except NothingToRetry:
                return None

    batch = run(work, profile)
    if batch is None:  # not a failure: a `set -e` script that retries whatever failed goes on
        *first, last = dict.fromkeys(kinds)
        say(f"{batch_id}: no {', '.join(first) + ' or ' if first else ''}{last} requests to retry; nothing sent")
        if as_json:
            print_json(None)
        return
    print_object(batch, as_json)

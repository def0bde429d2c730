"""The commands that make and check batch input files offline: make-batch-file, validate, split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from cyclopts import Parameter

from batchtui.cli.common import JsonOption, ProfileOption
from batchtui.cli.render import ProgressLine, fail, print_json, report_lines, say
from batchtui.core.domain import batch_endpoints, canonical_endpoint
from batchtui.core.errors import BatchtuiError
from batchtui.core.text import plural, printable


def validate(
    file: Path,
    /,
    *,
    endpoint: Annotated[str | None, Parameter(help="The batch endpoint (default: the url of the lines).")] = None,
    as_json: JsonOption = False,
    profile: ProfileOption = None,
) -> None:
    """Check a batch input file offline, as OpenAI (or, for an Azure profile, Azure) will, and estimate its tokens
    and cost.

    Exit status: 0 no problems, 1 problems found, 2 the file could not be read."""
    from batchtui.core.authoring.validate import validate_file
    from batchtui.core.cache.llm_logs import output_history
    from batchtui.core.config import resolve_profile

    try:
        chosen = resolve_profile(profile)
    except BatchtuiError as exc:
        fail(str(exc), status=2)
    _check_endpoint(endpoint, chosen.kind)
    try:
        with ProgressLine(f"validating {printable(file.name)}") as bar:
            report = validate_file(file, endpoint=endpoint, kind=chosen.kind, progress=bar)
    except BatchtuiError as exc:
        fail(str(exc), status=2)
    if report.lines_without_ceiling and report.model is not None:
        report = report.with_history(output_history(chosen.cache_dir() / "cache.db", report.model))
    if as_json:
        print_json(report.to_dict())
    else:
        print("\n".join(report_lines(report)))
    raise SystemExit(0 if report.ok else 1)


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
    profile: ProfileOption = None,
) -> None:
    """Make a batch input file from a prompt template and a data file; prints the file (or parts) written."""
    from batchtui.core.authoring.batch_file import make_batch_file as make_batch_file_from
    from batchtui.core.authoring.split import check_part_names, split_file

    kind = _kind_of(profile)
    _check_endpoint(endpoint, kind)
    out = output or data.with_suffix(".batch.jsonl")
    try:
        if split:
            check_part_names(out, [template, data])
        with ProgressLine(f"writing {printable(out.name)}") as bar:
            made = make_batch_file_from(template, data, out, id_column=id_column, endpoint=endpoint, model=model,
                                        skip_bad_rows=skip_bad_rows, progress=bar)
        parts = split_file(made.out, keep=[template, data], kind=kind) if split else [made.out]
    except BatchtuiError as exc:
        fail(str(exc))
    for skipped in made.skipped:
        say(f"skipped {data.name} row {skipped.row} (id {skipped.id}): {skipped.reason}")
    summary = f"{plural(made.rows, 'request')} to {made.endpoint}" + (
        f", {plural(len(made.skipped), 'row')} skipped" if made.skipped else "")
    say(f"{summary}; manifest {made.manifest}")
    for part in parts:
        print(printable(str(part)))


def split_command(
    file: Path,
    /,
    *,
    max_lines: Annotated[int, Parameter(help="Requests per part at most.")] = 50_000,
    max_bytes: Annotated[int, Parameter(help="Bytes per part at most.")] = 200 * 1024 * 1024,
    profile: ProfileOption = None,
) -> None:
    """Cut a batch input file into parts (FILE.part-001.jsonl, ...) that each stay within the limits (by default
    the API's: 50,000 requests and 200 MB)."""
    from batchtui.core.authoring.split import split_file

    for option, value in (("--max-lines", max_lines), ("--max-bytes", max_bytes)):
        if value < 1:
            fail(f"{option} {value}: must be at least 1")
    kind = _kind_of(profile)
    try:
        parts = split_file(file, max_lines=max_lines, max_bytes=max_bytes, kind=kind)
    except BatchtuiError as exc:
        fail(str(exc))
    for part in parts:
        print(printable(str(part)))


def _kind_of(profile: str | None, status: int = 1) -> str:
    """The kind of the profile named (default: the default one), whose rules a file is made and checked by; a
    config that cannot be read fails the command with `status`."""
    from batchtui.core.config import resolve_profile

    try:
        return resolve_profile(profile).kind
    except BatchtuiError as exc:
        fail(str(exc), status=status)


def _check_endpoint(endpoint: str | None, kind: str) -> None:
    """Fail (status 2, a usage error) when `--endpoint` names no batch endpoint on a profile of `kind`."""
    if endpoint is not None and canonical_endpoint(endpoint, kind) is None:
        fail(f"--endpoint {printable(endpoint)}: not a batch endpoint ({', '.join(batch_endpoints(kind))})", status=2)

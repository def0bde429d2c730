"""The commands over what the cache holds: export a batch's results, import batches into llm_logs, query the
cache with SQL, and the account's stats."""

from __future__ import annotations

import datetime as dt
import math
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from cyclopts import Parameter

from batchtui.cli.common import BatchIdArgument, JsonOption, ProfileOption, UsageError, log_results, non_empty, run
from batchtui.cli.render import (
    ImportLine,
    ProgressLine,
    fail,
    print_json,
    say,
    say_notice,
    sql_table,
    sql_value,
    stats_lines,
)
from batchtui.core.domain import ACTIVE_STATUSES
from batchtui.core.errors import BatchtuiError
from batchtui.core.text import plural, printable, printable_json

if TYPE_CHECKING:
    from collections.abc import Iterator

    from batchtui.core.api.models import Batch
    from batchtui.core.cache.llm_logs import ImportResult
    from batchtui.core.config import Profile
    from batchtui.core.workspace import Workspace

SQL_TABLE_ROWS = 10_000
"""Rows the sql command's table shows at most unless told: it holds them all to align the columns."""


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
    import asyncio

    from batchtui.core.results.export import check_export_dest, wants_data
    from batchtui.core.results.export import export_results as write_export
    from batchtui.core.results.index import build_index

    async def work(workspace: Workspace) -> int:
        batch = await workspace.fetch_batch(batch_id)
        with ProgressLine(f"exporting {output.name}") as bar:
            written = await export(workspace, batch, bar)
        if batch.status not in ACTIVE_STATUSES:
            await log_results(workspace, batch)
        return written

    async def export(workspace: Workspace, batch: Batch, bar: ProgressLine) -> int:
        files = await workspace.batch_result_files(batch, progress=bar)
        check_export_dest(output, [*await workspace.batch_sources(batch), data, manifest, files.input, files.output,
                                   files.errors])
        joined = None
        if wants_data(output):
            joined = await workspace.data_join(batch, manifest=manifest, data=data)
            if joined is None and (manifest or data):
                raise UsageError(f"{batch_id}: no make-batch-file manifest found for its input file; "
                                 "pass --manifest")
        index = await asyncio.to_thread(build_index, files, store_dir=workspace.index_dir(),
                                        batch_ended=batch.status not in ACTIVE_STATUSES)
        try:
            return await asyncio.to_thread(write_export, index, range(len(index)), output, data=joined, progress=bar)
        finally:
            index.close()

    written = run(work, profile)
    say(f"exported {plural(written, 'request')} to {output}")


def import_batch(
    batch_id: Annotated[str | None, Parameter(help="The batch whose requests to import.", validator=non_empty)
                        ] = None,
    /,
    *,
    all_batches: Annotated[bool, Parameter(name="--all", negative=(), help="Every batch in the cache (refreshed "
                                           "first) that has an input file.")] = False,
    since: Annotated[str | None, Parameter(help="With --all: only batches created on or after this day "
                                                "(YYYY-MM-DD, local time).")] = None,
    force: Annotated[bool, Parameter(negative=(), help="Read batches again even if unchanged since their last "
                                                       "import.")] = False,
    as_json: JsonOption = False,
    profile: ProfileOption = None,
) -> None:
    """Put every request of a batch into the cache's llm_logs table, one row each with its response (the latest
    retry's), to query with `batchtui sql`; prints each batch's count of requests."""
    from dataclasses import asdict

    if (batch_id is None) == (not all_batches):
        fail("import-batch: name a BATCH_ID or give --all (not both)")
    cutoff = None
    if since is not None:
        if not all_batches:
            fail("import-batch: --since goes with --all")
        try:
            cutoff = dt.datetime.combine(dt.date.fromisoformat(since), dt.time()).timestamp()
        except ValueError:
            fail(f"--since '{since}': expected a day as YYYY-MM-DD")

    def report(line: ImportLine, result: ImportResult) -> None:
        if not as_json:
            line.say(f"{printable(result.batch_id)}: {plural(result.rows, 'request')}, "
                     f"{result.with_response:,} with a response"
                     + (" (unchanged)" if result.unchanged else "")
                     + (f", {plural(result.skipped, 'line')} skipped (not JSON, or a repeated custom_id)"
                        if result.skipped else ""))

    async def work(workspace: Workspace) -> tuple[list[ImportResult], list[str]]:
        if batch_id is not None:
            with ImportLine(1) as line:
                line.start(batch_id)
                result = await workspace.import_batch(batch_id, progress=line, force=force)
                report(line, result)
            return [result], []
        try:
            await workspace.refresh()
        except BatchtuiError as exc:
            say(f"importing cached batches only: {exc}")
        batches = [b for b in reversed(await workspace.batches())
                   if b.input_file_id and (cutoff is None or (b.created_at or 0) >= cutoff)]
        results, failures = [], []
        with ImportLine(len(batches)) as line:
            for batch in batches:
                line.start(batch.id)
                try:
                    results.append(await workspace.import_batch(batch, progress=line, force=force))
                except BatchtuiError as exc:
                    failures.append(f"{batch.id}: {exc}")
                    continue
                report(line, results[-1])
        return results, failures

    results, failures = run(work, profile)
    if as_json:
        print_json([asdict(result) for result in results])
    for failure in failures:
        say(str(failure))
    if failures:
        raise SystemExit(1)


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
    on: Annotated[Literal["cache", "store"], Parameter(help="cache (this machine's) or store (the team's "
                                                             "PostgreSQL log store, [log_store] in config.toml)."
                                                        )] = "cache",
    profile: ProfileOption = None,
) -> None:
    """Query the local cache with SQL, read-only: llm_logs (one row per imported request, with JSON columns
    request, response and metadata; Postgres' -> and ->> operators work), batches, files, observations. With
    --on store, the team's log store instead, in a read-only transaction."""
    import asyncio

    from batchtui.core.cache.sql import EXAMPLE_QUERIES, ReadOnlyQueryError, stream_readonly_query
    from batchtui.core.config import resolve_profile

    if examples:
        for title, example in EXAMPLE_QUERIES:
            print(f"-- {title}\n{example};\n")
        return
    if query is None:
        fail("sql: give a query, e.g. batchtui sql \"SELECT count(*) FROM llm_logs\" (--examples shows more)")
    if max_rows is not None and max_rows < 0:
        fail(f"--max-rows {max_rows}: give a count of rows, or 0 for no limit")
    limit = (SQL_TABLE_ROWS if output_format == "table" else 0) if max_rows is None else max_rows
    try:
        chosen = resolve_profile(profile)
    except BatchtuiError as exc:
        fail(str(exc))
    path = chosen.cache_dir() / "cache.db"
    if path.is_dir() and on == "cache":
        fail(f"{path}: cannot open the cache (it is a folder, not a file)")
    if not path.is_file() and on == "cache":
        fail(f"no cache at {path} yet: run `batchtui list-batches` or `batchtui import-batch` first")
    try:
        if on == "store":
            columns, rows = _store_query(chosen, query, limit)
            _print_rows(columns, iter(rows), limit, output_format, width)
            return
        say_notice(asyncio.run(_upgrade_cache(path)))
        with stream_readonly_query(path, query) as (columns, all_rows):
            _print_rows(columns, all_rows, limit, output_format, width)
    except (ReadOnlyQueryError, BatchtuiError) as exc:
        fail(str(exc))


def _store_query(profile: Profile, query: str, limit: int) -> tuple[list[str], list[tuple[object, ...]]]:
    """The query's columns and rows on the team's log store; says on stderr when rows past `limit` were left
    out."""
    from batchtui.core.logstore import LogStore

    if profile.log_store is None:
        fail("no log store is set: add [log_store] url = \"postgresql://...\" to config.toml, or set "
             "BATCHTUI_LOG_STORE")
    store = LogStore(profile.log_store, profile.cache_dir() / "cache.db", profile.name)
    result = store.query(query, max_rows=limit or None)
    if result.truncated:
        say(f"stopped after {limit:,} rows; --max-rows N shows more (0: all)")
    return result.columns, list(result.rows)


def _print_rows(columns: list[str], all_rows: Iterator[tuple[object, ...]], limit: int, output_format: str,
                width: int) -> None:
    """Write a query's rows as a table, CSV or JSON on stdout (at most `limit`, 0: all), saying on stderr when
    rows were left out."""
    import csv
    import json
    from itertools import islice

    from batchtui.core.results.export import formula_safe

    to_terminal = sys.stdout.isatty()
    rows = islice(all_rows, limit) if limit else all_rows
    if output_format == "table":
        print("\n".join(sql_table(columns, [tuple(map(_plain_real, row)) for row in rows], width)))
    elif output_format == "csv":
        # a spreadsheet must not run a cell; a terminal must not act on one (a file or pipe gets it exact)
        def cell(value: object) -> object:
            value = _plain_real(formula_safe(sql_value(value)))
            return printable(value) if to_terminal and isinstance(value, str) else value

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([cell(name) for name in columns])
        writer.writerows([cell(v) for v in row] for row in rows)
    else:
        print("[", end="")
        for n, row in enumerate(rows):
            item = {name: sql_value(v) for name, v in zip(columns, row, strict=True)}
            print(("," if n else "") + "\n  " + printable_json(json.dumps(item, ensure_ascii=False)), end="")
        print("\n]")
    if limit and next(all_rows, None) is not None:
        say(f"stopped after {limit:,} rows; --max-rows N shows more (0: all)")


class _PlainReal(float):
    """A REAL that writes itself in plain decimals with all its digits (9.45e-06 as 0.00000945): a cost read off a
    CSV or a table is never in scientific notation. Still a float, so the table aligns it as a number."""

    def __str__(self) -> str:
        return f"{Decimal(repr(float(self))):f}" if math.isfinite(self) else repr(float(self))

    __repr__ = __str__


def _plain_real(value: object) -> object:
    """A query's value as the table and CSV write it: a REAL in plain decimals, the rest as it is."""
    return _PlainReal(value) if type(value) is float else value


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


def stats(
    *,
    since: Annotated[str | None, Parameter(help="Only batches created on or after this day (YYYY-MM-DD).")] = None,
    as_json: JsonOption = False,
    profile: ProfileOption = None,
) -> None:
    """How long the account's batches really take (turnaround and each phase, p50 / p90 / max by model, endpoint
    and size band), how they ended, and tokens and cost per day at batch prices."""
    from batchtui.core.insights.stats import batch_stats

    try:
        start = dt.datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=dt.UTC) if since else None
    except ValueError:
        fail(f"--since {since}: expected a day as YYYY-MM-DD")

    async def work(workspace: Workspace) -> list[Batch]:
        try:
            await workspace.refresh()
        except BatchtuiError as exc:
            say(f"counting cached batches only: {exc}")
        return await workspace.batches()

    figures = batch_stats(run(work, profile), since=start)
    if as_json:
        print_json(figures.to_dict())
    else:
        print("\n".join(stats_lines(figures)))

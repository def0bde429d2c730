"""Every request of a batch as one SQL row: the `llm_logs` view of the cache, for queries across batches.

Importing a batch unfurls its input file into one row per request (custom_id) and fills in each request's
response from the output and error files, the latest retry's when the batch was retried: the rows come from the
batch's ResultIndex, which already joins the files and follows retries. A request with no result yet has a NULL
response; importing the batch again when it has finished fills it in. A batch that failed validation has only its
input: its rows keep a NULL response, and the line its error names carries that error. Expired and cancelled
requests have a NULL response too (their result line has none) and their error in the metadata.

One import is one write transaction on its own connection to the cache file (WAL mode lets the app keep
reading meanwhile): an import that fails or is cancelled leaves the rows as they were. Rows are upserted by
(batch_id, custom_id), and a row whose content is unchanged is not written, so its `updated_at` stays. The files
and statuses an import read are remembered, so importing a batch that has not changed since is a no-op.

Columns of `llm_logs`: id, request (the input line), response (the result line's response: status_code,
request_id, body), metadata (below), created_at (when the batch was created) and updated_at (when the row last
changed), both UTC text as SQLite's datetime() writes it. metadata:
    model, provider, status ("ok", "failed", "expired", "cancelled", "pending", "no_result", "unreadable"),
    batch {id (the result line's batch_req id), batch_id, custom_id, status (the batch's), input_file {id,
    filename, bytes, purpose, created_at, status}, output_file {id} (the file its result line is in),
    attempt (1: this batch, 2: its first retry, ...), attempt_batch_id},
    usage {prompt_tokens, completion_tokens, total_tokens, cached_tokens, model},
    cost {input_cost, output_cost, total_cost, and the same in cents; USD at batch prices} or null with cost_note,
    error (the result line's error, else the response body's error, else the batch's validation error for the
    input line it names; or null).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from batchtui.core.api.downloads import cached_name, result_file_ids
from batchtui.core.api.models import Batch, FileObject
from batchtui.core.cache.store import BUSY_TIMEOUT_MS, Cache, cache_errors
from batchtui.core.domain import ACTIVE_STATUSES, Cancelled, ProgressCallback
from batchtui.core.insights.pricing import price_of, priced_per_request, rates_on
from batchtui.core.results.index import Outcome, ResultFiles, ResultIndex, build_index

__all__ = [
    "FORMAT",
    "ImportCancelled",
    "ImportResult",
    "LogSource",
    "OutputHistory",
    "align_retries",
    "import_batch",
    "import_rows",
    "last_import",
    "output_history",
    "signature",
]

FORMAT = 1
"""The shape of the rows; raising it makes every batch import again, even when its files are unchanged."""

REPORT_EVERY = 1_000
"""Rows between two progress reports and cancellation checks."""

_STATUS = {
    Outcome.OK: "ok",
    Outcome.FAILED: "failed",
    Outcome.EXPIRED: "expired",
    Outcome.CANCELLED: "cancelled",
    Outcome.UNREADABLE: "unreadable",
}
_MILLION = 1_000_000

_UPSERT = """
    INSERT INTO llm_log_rows (batch_id, custom_id, created_at, updated_at, metadata, request, response)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (batch_id, custom_id) DO UPDATE SET
        created_at = excluded.created_at, updated_at = excluded.updated_at, metadata = excluded.metadata,
        request = excluded.request, response = excluded.response
    WHERE metadata IS NOT excluded.metadata OR request IS NOT excluded.request
        OR response IS NOT excluded.response OR created_at IS NOT excluded.created_at
"""


class ImportCancelled(Cancelled):
    """The import was stopped before it committed; the batch's rows are as they were."""


@dataclass(frozen=True)
class ImportResult:
    """What an import left in llm_logs for one batch.

    `rows` requests, `with_response` of them with a response; `skipped` input lines that are not JSON or repeat
    a custom_id (only in a batch that failed validation); `changed` rows written (0 when all were already so);
    `unchanged` when the batch had not changed since its last import and nothing was read."""

    batch_id: str
    rows: int
    with_response: int
    skipped: int = 0
    changed: int = 0
    unchanged: bool = False


@dataclass(frozen=True, slots=True)
class OutputHistory:
    """How much output past requests of a model gave per input token, by their usage in llm_logs: what the output
    of requests that set no max_tokens is estimated from."""

    model: str
    requests: int
    input_tokens: int
    output_tokens: int

    @property
    def ratio(self) -> float:
        """Output tokens per input token."""
        return self.output_tokens / self.input_tokens


HISTORY_ROWS = 10_000
"""The latest answered requests of a model that its output history reads: enough to be steady, and a bounded read."""

_HISTORY = """
    SELECT count(*), sum(prompt), sum(completion) FROM (
        SELECT json_extract(metadata, '$.usage.prompt_tokens') AS prompt,
               json_extract(metadata, '$.usage.completion_tokens') AS completion
        FROM llm_log_rows
        WHERE prompt > 0 AND completion IS NOT NULL AND (
            json_extract(metadata, '$.model') = ?1
            OR (substr(json_extract(metadata, '$.model'), 1, length(?1) + 1) = ?1 || '-'
                AND length(json_extract(metadata, '$.model')) = length(?1) + 11
                AND substr(json_extract(metadata, '$.model'), -10) GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'))
        ORDER BY id DESC LIMIT ?2)
"""


def output_history(db_path: Path, model: str, *, rows: int = HISTORY_ROWS) -> OutputHistory | None:
    """The output per input token of the latest `rows` answered requests of `model` in the cache's llm_logs, a dated
    snapshot of it included (the API answers gpt-4o-mini as gpt-4o-mini-2024-07-18); None when there are none.

    Read-only and blocking. A cache that is missing, older than llm_logs or unreadable has no history to give, and
    the estimate goes without it."""
    if not db_path.is_file():
        return None
    uri = f"file:{quote(str(db_path.absolute()))}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)) as conn:
            requests, input_tokens, output_tokens = conn.execute(_HISTORY, (model, rows)).fetchone()
    except sqlite3.Error:
        return None
    if not requests:
        return None
    return OutputHistory(model, requests, int(input_tokens), int(output_tokens))


@dataclass(frozen=True)
class LogSource:
    """A batch to import and its files on disk.

    `retries` are the batches of `files.retries`, in the same order (None where unknown: their rows then have no
    attempt_batch_id or output_file); `provider` is the profile's kind ("openai", "azure")."""

    batch: Batch
    files: ResultFiles
    input_file: FileObject | None = None
    retries: tuple[Batch | None, ...] = ()
    provider: str = "openai"


def signature(batch: Batch, retries: Sequence[Batch], provider: str) -> str:
    """What an import of the batch depends on: its status and files, and the files of its retries (a retry still
    running has none yet). Files never change under one id, so an equal signature means the same rows."""
    errors = batch.errors.to_dict() if batch.errors is not None else None
    parts = [
        FORMAT, provider, batch.id, batch.status, batch.input_file_id, batch.output_file_id, batch.error_file_id,
        errors, [[r.id, r.output_file_id, r.error_file_id] for r in retries if r.output_file_id or r.error_file_id],
    ]
    return orjson.dumps(parts).decode()


def align_retries(files: ResultFiles, retries: Sequence[Batch]) -> tuple[Batch | None, ...]:
    """The retry batch whose files each of `files.retries` holds, told by the names downloads give them."""
    by_name = {
        cached_name(file_id, kind, retry.id): retry
        for retry in retries
        for kind, file_id in result_file_ids(retry)
    }
    return tuple(
        next((by_name[p.name] for p in (attempt.output, attempt.errors) if p is not None and p.name in by_name), None)
        for attempt in files.retries
    )


def last_import(db_path: Path, batch_id: str) -> tuple[str, ImportResult] | None:
    """The signature and result of the batch's last import, or None if it was never imported (blocking)."""
    with cache_errors(db_path), contextlib.closing(_connect(db_path)) as conn:
        return _last_import(conn, batch_id)


async def import_batch(
    cache: Cache,
    source: LogSource,
    *,
    store_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    force: bool = False,
) -> ImportResult:
    """Import the batch into the cache's llm_logs in a worker thread; see `import_rows`.

    Cancelled, it stops the import, waits for its rollback, then re-raises: the rows stay as they were."""
    stop = threading.Event()
    work = asyncio.ensure_future(asyncio.to_thread(
        import_rows, cache.path, source, store_dir=store_dir, progress=progress, cancelled=stop.is_set, force=force
    ))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        stop.set()
        with contextlib.suppress(Exception):
            await work
        raise


def import_rows(
    db_path: Path,
    source: LogSource,
    *,
    store_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    force: bool = False,
) -> ImportResult:
    """Write one row per request of the batch into llm_logs, in one transaction (blocking: run it in a thread).

    A batch whose signature matches its last import is left alone unless `force`. `store_dir` is where result
    indexes are kept (the viewer's), so the files are scanned once. When `cancelled()` turns True the import
    rolls back and raises ImportCancelled; a missing or unreadable file raises ResultFileError; a failure of the
    cache file (a full disk, a damaged page) raises CacheError naming it, and leaves the rows as they were."""
    batch = source.batch
    sig = signature(batch, [r for r in source.retries if r is not None], source.provider)
    with cache_errors(db_path), contextlib.closing(_connect(db_path)) as conn:
        if not force and (last := _last_import(conn, batch.id)) is not None and last[0] == sig:
            return last[1]
        index = build_index(source.files, store_dir=store_dir, cancelled=cancelled)
        try:
            rows = _Rows(source, index, progress, cancelled)
            conn.execute("BEGIN IMMEDIATE")
            try:
                changed = conn.executemany(_UPSERT, iter(rows)).rowcount
                changed += _delete_stale(conn, batch.id, rows.seen)
                result = ImportResult(batch.id, len(rows.seen), rows.with_response, rows.skipped, max(changed, 0))
                conn.execute(
                    "INSERT OR REPLACE INTO llm_log_imports (batch_id, signature, rows, with_response, skipped, "
                    "imported_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (batch.id, sig, result.rows, result.with_response, result.skipped, time.time()),
                )
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        finally:
            index.close()
    if progress is not None:
        progress(rows.total_bytes, rows.total_bytes)
    return result


def _delete_stale(conn: sqlite3.Connection, batch_id: str, seen: set[str]) -> int:
    """Delete the batch's rows of custom_ids this import did not see; returns how many. Compared in Python, not
    through a JSON array: SQLite's JSON functions cut a string at an escaped NUL, so the row would not match."""
    stale = [(row_id,) for row_id, custom_id in conn.execute(
        "SELECT id, custom_id FROM llm_log_rows WHERE batch_id = ?", (batch_id,)) if custom_id not in seen]
    return conn.executemany("DELETE FROM llm_log_rows WHERE id = ?", stale).rowcount if stale else 0


def _connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _last_import(conn: sqlite3.Connection, batch_id: str) -> tuple[str, ImportResult] | None:
    row = conn.execute(
        "SELECT signature, rows, with_response, skipped FROM llm_log_imports WHERE batch_id = ?", (batch_id,)
    ).fetchone()
    if row is None:
        return None
    return row[0], ImportResult(batch_id, row[1], row[2], row[3], unchanged=True)


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _sql_time(moment: datetime, *, millis: bool = False) -> str:
    """UTC time as SQLite's datetime() writes it, so its date functions and comparisons work on the column."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if millis else moment.strftime("%Y-%m-%d %H:%M:%S")


def _int(value: object) -> int | None:
    return value if type(value) is int and value >= 0 else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _file_meta(file: FileObject | None, file_id: str) -> dict[str, Any]:
    if file is None:
        return {"id": file_id, "filename": None, "bytes": None, "purpose": None, "created_at": None, "status": None}
    return {
        "id": file.id, "filename": getattr(file, "filename", None), "bytes": getattr(file, "bytes", None),
        "purpose": getattr(file, "purpose", None), "created_at": getattr(file, "created_at", None),
        "status": getattr(file, "status", None),
    }


def _usage(body: dict[str, Any], model: str | None) -> tuple[dict[str, Any] | None, int]:
    """The body's usage in chat terms (responses' input/output tokens mapped), and its cached input tokens."""
    usage = body.get("usage")
    if not isinstance(usage, dict):
        return None, 0
    prompt = _int(usage.get("prompt_tokens", usage.get("input_tokens")))
    completion = _int(usage.get("completion_tokens", usage.get("output_tokens"))) or 0
    if prompt is None:
        return None, 0
    details = _dict(usage.get("prompt_tokens_details", usage.get("input_tokens_details")))
    cached = min(_int(details.get("cached_tokens")) or 0, prompt)
    total = _int(usage.get("total_tokens"))
    return {
        "prompt_tokens": prompt, "completion_tokens": completion,
        "total_tokens": prompt + completion if total is None else total, "cached_tokens": cached, "model": model,
    }, cached


@dataclass(frozen=True)
class _Rates:
    """A model's batch prices per token (uncached input, cached input, output) in units of 10**-scale USD: a
    row's cost is then integer arithmetic, as exact as Decimal and several times quicker."""

    input: int
    cached: int
    output: int
    scale: int


_TIERED = "tiered"


class _Prices:
    """The rate book's rates of each model as whole units, looked up once per model: `price_of` takes ~0.2 ms, too
    long for 50,000 rows. A model priced per request (tiers, e.g. above 272k input tokens) has each of its rows
    priced by `price_of` itself."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self._day = int(at.timestamp() // 86_400)
        self._rates: dict[str, _Rates | str | None] = {}

    def cost_fields(self, model: str, prompt: int, completion: int, cached: int) -> dict[str, float] | None:
        """metadata.cost of one request, or None when the model has no price."""
        if model not in self._rates:
            self._rates[model] = self._lookup(model)
        rates = self._rates[model]
        if isinstance(rates, _Rates):
            return _cost_fields((prompt - cached) * rates.input + cached * rates.cached, completion * rates.output,
                                rates.scale)
        cost = price_of(model, prompt, completion, cached, at=self.at) if rates == _TIERED else None
        units = _units(cost.input_usd + cost.cached_usd, cost.output_usd) if cost is not None else None
        if units is None:
            return None
        (input_units, output_units), scale = units
        return _cost_fields(input_units, output_units, scale)

    def _lookup(self, model: str) -> _Rates | str | None:
        try:
            if priced_per_request(model):
                return _TIERED
            rates = rates_on(model, self._day)
        except Exception:  # noqa: BLE001 - a surprise in genai-prices' data leaves the cost null, not the import
            return None
        if rates is None:
            return None
        units = _units(rates.input / _MILLION, rates.cached / _MILLION, rates.output / _MILLION)
        if units is None:
            return None
        (input_rate, cached_rate, output_rate), scale = units
        return _Rates(input_rate, cached_rate, output_rate, scale)


def _units(*amounts: Decimal) -> tuple[list[int], int] | None:
    """The amounts as whole numbers of 10**-scale USD, and the scale; None if one is not a finite number."""
    if not all(amount.is_finite() for amount in amounts):
        return None
    amounts = tuple(amount.normalize() for amount in amounts)
    scale = max(0, *(-int(amount.as_tuple().exponent) for amount in amounts))
    return [int(amount.scaleb(scale)) for amount in amounts], scale


def _cost_fields(input_units: int, output_units: int, scale: int) -> dict[str, float]:
    """Cost in USD and in cents (cached input counts as input). Dividing ints rounds correctly, so each figure is
    the float nearest the exact amount, as float(Decimal) would give."""
    unit, total = 10**scale, input_units + output_units
    return {
        "input_cost": input_units / unit, "output_cost": output_units / unit, "total_cost": total / unit,
        "input_cost_cents": input_units * 100 / unit, "output_cost_cents": output_units * 100 / unit,
        "total_cost_cents": total * 100 / unit,
    }


class _Rows:
    """The rows of one import as parameter tuples for the upsert, made one at a time as SQLite asks for them."""

    def __init__(self, source: LogSource, index: ResultIndex, progress: ProgressCallback | None,
                 cancelled: Callable[[], bool]) -> None:
        self.source = source
        self.index = index
        self.progress = progress
        self.cancelled = cancelled
        self.seen: set[str] = set()
        self.with_response = 0
        self.skipped = 0
        self.total_bytes = sum(p.stat().st_size for p in source.files.paths() if p is not None)
        batch = source.batch
        self.prices = _Prices(_utc(batch.created_at or 0))
        self.created_at = _sql_time(_utc(batch.created_at or 0))
        self.updated_at = _sql_time(datetime.now(UTC), millis=True)
        self.input_file = _file_meta(source.input_file, batch.input_file_id)
        self.active = batch.status in ACTIVE_STATUSES
        self.line_errors = {
            e.line: {key: value for key, value in e.to_dict().items() if value is not None}
            for e in (batch.errors.data or [] if batch.errors is not None else [])
            if e.line is not None
        }
        attempts: list[Batch | None] = [batch, *source.retries]
        self.files = [(b.output_file_id, b.error_file_id) if b is not None else (None, None) for b in attempts]
        self.attempt_ids = [b.id if b is not None else None for b in attempts]

    def __iter__(self) -> Iterator[tuple[object, ...]]:
        index, done = self.index, 0
        for row in range(len(index)):
            if row % REPORT_EVERY == 0:
                if self.cancelled():
                    raise ImportCancelled(f"Import of {self.source.batch.id} cancelled; its rows are unchanged.")
                if self.progress is not None:
                    self.progress(min(done, self.total_bytes), self.total_bytes)
            made = self._row(row)
            if made is None:
                self.skipped += 1
                continue
            done += made[1]
            yield made[0]

    def _row(self, row: int) -> tuple[tuple[object, ...], int] | None:
        index, batch = self.index, self.source.batch
        custom_id = index.custom_id(row)
        if not custom_id or custom_id in self.seen:
            return None
        raw_in = index.input_line(row)
        request_obj: dict[str, Any] | None = None
        request = None
        if raw_in is not None:
            try:
                request_obj = orjson.loads(raw_in)
            except orjson.JSONDecodeError:
                return None
            if not isinstance(request_obj, dict):
                return None
            request = raw_in.decode().strip()
        raw_out = index.output_line(row)
        line: dict[str, Any] = {}
        if raw_out is not None:
            with contextlib.suppress(orjson.JSONDecodeError):
                line = _dict(orjson.loads(raw_out))
        self.seen.add(custom_id)

        response = line.get("response")
        response = response if isinstance(response, dict) else None
        body = _dict(response.get("body")) if response is not None else {}
        request_body = _dict(request_obj.get("body")) if request_obj is not None else {}
        model = body.get("model") if isinstance(body.get("model"), str) else None
        model = model or (request_body.get("model") if isinstance(request_body.get("model"), str) else None)

        outcome = index.outcome(row)
        status = _STATUS.get(outcome) or ("pending" if self.active else "no_result")
        error = line.get("error") or None
        if error is None and outcome == Outcome.FAILED:
            error = body.get("error") or None
        if error is None and raw_in is not None and self.line_errors:
            error = self.line_errors.get(index.line_number(row, "input") or 0)

        attempt = index.attempt(row)
        output_file = None
        if attempt and attempt <= len(self.files):
            in_output = index.line_number(row, "output") is not None
            file_id = self.files[attempt - 1][0 if in_output else 1]
            output_file = {"id": file_id} if file_id else None

        usage, cached = _usage(body, model)
        metadata: dict[str, Any] = {
            "model": model,
            "provider": self.source.provider,
            "status": status,
            "batch": {
                "id": line.get("id") if isinstance(line.get("id"), str) else None,
                "batch_id": batch.id,
                "custom_id": custom_id,
                "status": batch.status,
                "input_file": self.input_file,
                "output_file": output_file,
                "attempt": attempt,
                "attempt_batch_id": self.attempt_ids[attempt - 1] if 0 < attempt <= len(self.attempt_ids) else None,
            },
            "usage": usage,
            "cost": None,
            "error": error,
        }
        if response is None:
            metadata["cost_note"] = "no response" if status != "pending" else "no response yet"
        elif usage is None:
            metadata["cost_note"] = "no usage in the response"
        elif model is None:
            metadata["cost_note"] = "no model in the request or response"
        elif (cost := self.prices.cost_fields(model, usage["prompt_tokens"], usage["completion_tokens"],
                                              cached)) is None:
            metadata["cost_note"] = f"no price for {model}"
        else:
            metadata["cost"] = cost
        if response is not None:
            self.with_response += 1
        values = (
            batch.id, custom_id, self.created_at, self.updated_at, orjson.dumps(metadata).decode(), request,
            orjson.dumps(response).decode() if response is not None else None,
        )
        return values, len(raw_in or b"") + len(raw_out or b"")

"""A team's request log in PostgreSQL: llm_logs rows pushed from each person's cache into one `llm_logs` table.

The store has the cache's columns, with `request`, `response` and `metadata` as jsonb and the times as timestamptz,
so the Postgres JSON queries written for proxy loggers (`->`, `->>`, `metadata ? 'batch'`) run on it verbatim; plus
`batch_id` and `custom_id` (the key: any number of people may push the same batch, a row is upserted, never
doubled) and who pushed it (`pushed_by` profile, `pushed_from` host). The local cache stays the source of truth:
a push reads its rows, and what was pushed is noted in the cache (`log_pushes`), so `status` can say what waits.

A push COPYs a new batch's rows straight into llm_logs, or a batch the store has into a temporary table and upserts
them from there, in one transaction: 50,000 requests go in seconds, and a failed push leaves the store as it was.
psycopg is an optional extra (`batchtui[postgres]`); the password comes from the URL's environment variable, libpq's
PGPASSWORD or .pgpass, and is never written anywhere or shown (URLs are shown redacted).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from batchtui.core.cache.sql import QueryResult, Value
from batchtui.core.cache.store import BUSY_TIMEOUT_MS
from batchtui.core.config import LogStoreSettings
from batchtui.core.domain import ProgressCallback
from batchtui.core.errors import BatchtuiError

SCHEMA_VERSION = 1
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS batchtui_schema (version integer NOT NULL)",
    """
    CREATE TABLE IF NOT EXISTS llm_logs (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        batch_id text NOT NULL,
        custom_id text NOT NULL,
        request jsonb,
        response jsonb,
        metadata jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        pushed_by text NOT NULL,
        pushed_from text NOT NULL,
        pushed_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (batch_id, custom_id)
    )
    """,
    "CREATE INDEX IF NOT EXISTS llm_logs_by_custom_id ON llm_logs (custom_id)",
    "CREATE INDEX IF NOT EXISTS llm_logs_by_created_at ON llm_logs (created_at)",
    "CREATE INDEX IF NOT EXISTS llm_logs_by_updated_at ON llm_logs (updated_at)",
)
"""Version 1 of the store's schema (the unique key serves lookups by batch id)."""
CHUNK_ROWS = 5_000
"""Rows read from the cache and copied at a time: memory stays bounded whatever the batch's size."""
INSTALL_HINT = "The log store needs psycopg: pip install 'batchtui[postgres]'"


class LogStoreError(BatchtuiError):
    """The store cannot be reached, refused a statement, or psycopg is not installed; one line, URL redacted."""

    retryable = True


@dataclass(frozen=True)
class PushResult:
    batches: int
    rows: int


@dataclass(frozen=True)
class PushStatus:
    """What the store has of this cache's llm_logs: batches pushed as they are now, and those waiting (never
    pushed, or imported again since)."""

    pushed: list[tuple[str, int]]
    waiting: list[tuple[str, int]]


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise LogStoreError(INSTALL_HINT) from None
    return psycopg


class LogStore:
    """One team store, reached from one cache file (whose rows it pushes) on behalf of one profile."""

    def __init__(self, settings: LogStoreSettings, cache_path: Path, pushed_by: str) -> None:
        self.settings = settings
        self.cache_path = cache_path
        self.pushed_by = pushed_by
        self.pushed_from = socket.gethostname()

    @contextlib.contextmanager
    def _store(self) -> Iterator[Any]:
        psycopg = _psycopg()
        try:
            with psycopg.connect(**self.settings.connect_args()) as conn:
                yield conn
        except psycopg.Error as exc:
            raise LogStoreError(self._one_line(exc)) from None

    def _one_line(self, exc: Exception) -> str:
        """The driver's error on one line, naming the store by its redacted URL, any password taken out."""
        text = " ".join(str(exc).split()) or type(exc).__name__
        secrets = [urlsplit(self.settings.url).password, os.environ.get(self.settings.password_env or "")]
        for secret in filter(None, secrets):
            text = text.replace(secret, "***")
        return f"The log store at {self.settings.shown}: {text}"

    @contextlib.contextmanager
    def _cache(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.cache_path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()

    def ensure_schema(self, conn: Any) -> None:
        """Create the tables on a new store; a store of a newer batchtui is refused, not changed."""
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(4801190)")  # two first pushes at once make it once
            for statement in SCHEMA:
                conn.execute(statement)
            row = conn.execute("SELECT max(version) FROM batchtui_schema").fetchone()
            if row[0] is None:
                # Stored uncompressed: pglz took a third of a push's time for a store a quarter smaller
                # (docs/benchmarks.md); a team's server has room, its people should not wait.
                for column in ("request", "response", "metadata"):
                    conn.execute(f"ALTER TABLE llm_logs ALTER COLUMN {column} SET STORAGE EXTERNAL")
                conn.execute("INSERT INTO batchtui_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
            elif row[0] > SCHEMA_VERSION:
                raise LogStoreError(f"The log store at {self.settings.shown} has schema version {row[0]}, newer than "
                                    f"this batchtui knows ({SCHEMA_VERSION}); upgrade batchtui.")

    # -- what waits ------------------------------------------------------------------------------------------

    def status(self) -> PushStatus:
        """Blocking. Each imported batch with its rows, pushed or waiting, from the cache's notes alone."""
        with self._cache() as conn:
            rows = conn.execute(
                "SELECT i.batch_id, i.rows, p.imported_at IS NOT NULL AND p.imported_at >= i.imported_at "
                "FROM llm_log_imports i LEFT JOIN log_pushes p ON p.batch_id = i.batch_id AND p.store = ? "
                "WHERE i.rows > 0 ORDER BY i.imported_at", (self.settings.key,)).fetchall()
        return PushStatus([(b, n) for b, n, done in rows if done], [(b, n) for b, n, done in rows if not done])

    # -- pushing ---------------------------------------------------------------------------------------------

    def push(self, batch_ids: list[str] | None = None, *, progress: ProgressCallback | None = None,
             cancelled: Callable[[], bool] = lambda: False) -> PushResult:
        """Blocking. Push the rows of these batches (None: every batch that waits), each in one transaction;
        returns what was pushed. A batch not in llm_logs is skipped."""
        waiting = [b for b, _ in self.status().waiting] if batch_ids is None else batch_ids
        total = self._row_count(waiting)
        done = batches = 0
        with self._store() as store:
            self.ensure_schema(store)
            for batch_id in waiting:
                if cancelled():
                    break
                imported_at = self._imported_at(batch_id)
                if imported_at is None:
                    continue
                done += self._push_batch(store, batch_id, _offset(progress, done, total))
                self._note_pushed(batch_id, imported_at)
                batches += 1
        if progress:
            progress(done, total)
        return PushResult(batches, done)

    def _row_count(self, batch_ids: list[str]) -> int:
        with self._cache() as conn:
            return sum(conn.execute("SELECT count(*) FROM llm_log_rows WHERE batch_id = ?", (b,)).fetchone()[0]
                       for b in batch_ids)

    def _imported_at(self, batch_id: str) -> float | None:
        with self._cache() as conn:
            row = conn.execute("SELECT imported_at FROM llm_log_imports WHERE batch_id = ?", (batch_id,)).fetchone()
        return None if row is None else float(row[0])

    def _push_batch(self, store: Any, batch_id: str, progress: Callable[[int], None]) -> int:
        """Write the batch's rows into llm_logs in one transaction. A batch the store has no row of yet is copied
        straight into llm_logs; otherwise its rows go into a temporary table and are upserted from there.

        Either way the server parses the JSON (and compresses it) while the rows stream in, alongside this side's
        reading and formatting, so little is left for after the COPY: 50,000 rows take under twice a bare COPY
        of the same text (tests/bench/log_store_push.py). A per-batch lock makes two first pushes of one batch
        take turns: the second finds the rows there and upserts."""
        with store.transaction():
            store.execute("SELECT pg_advisory_xact_lock(4801190, hashtext(%s))", (batch_id,))
            store.execute("SET LOCAL TimeZone = 'UTC'")  # the cache's times are UTC without an offset
            new = store.execute("SELECT NOT EXISTS (SELECT FROM llm_logs WHERE batch_id = %s)", (batch_id,)).fetchone()
            if new[0]:
                return self._copy_rows(store, "llm_logs (batch_id, custom_id, request, response, metadata, "
                                       "created_at, updated_at, pushed_by, pushed_from)", batch_id, progress,
                                       (self.pushed_by, self.pushed_from))
            store.execute("CREATE TEMPORARY TABLE incoming (batch_id text, custom_id text, request jsonb, "
                          "response jsonb, metadata jsonb, created_at timestamptz, updated_at timestamptz) "
                          "ON COMMIT DROP")
            sent = self._copy_rows(store, "incoming", batch_id, progress, ())
            store.execute(
                """
                INSERT INTO llm_logs (batch_id, custom_id, request, response, metadata, created_at, updated_at,
                                      pushed_by, pushed_from)
                SELECT batch_id, custom_id, request, response, metadata, created_at, updated_at, %s, %s
                FROM incoming
                ON CONFLICT (batch_id, custom_id) DO UPDATE SET
                    request = excluded.request, response = excluded.response, metadata = excluded.metadata,
                    created_at = excluded.created_at, updated_at = excluded.updated_at,
                    pushed_by = excluded.pushed_by, pushed_from = excluded.pushed_from, pushed_at = now()
                WHERE llm_logs.updated_at < excluded.updated_at  -- a row pushed again unchanged is left alone
                """,
                (self.pushed_by, self.pushed_from),
            )
        return sent

    def _copy_rows(self, store: Any, into: str, batch_id: str, progress: Callable[[int], None],
                   extra: tuple[str, ...]) -> int:
        """COPY the batch's rows from the cache into `into` (a table and its columns), each followed by `extra`;
        returns how many. One COPY keeps the server busy throughout; the cache is read a chunk at a time."""
        sent = 0
        with self._cache() as cache, store.cursor().copy(f"COPY {into} FROM STDIN") as copy:
            rows = cache.execute("SELECT batch_id, custom_id, request, response, metadata, created_at, updated_at "
                                 "FROM llm_log_rows WHERE batch_id = ? ORDER BY id", (batch_id,))
            while chunk := rows.fetchmany(CHUNK_ROWS):
                for row in chunk:
                    copy.write_row(row + extra)
                sent += len(chunk)
                progress(sent)
        return sent

    def _note_pushed(self, batch_id: str, imported_at: float) -> None:
        with self._cache() as conn:
            conn.execute("INSERT INTO log_pushes (store, batch_id, imported_at, pushed_at) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT (store, batch_id) DO UPDATE SET imported_at = excluded.imported_at, "
                         "pushed_at = excluded.pushed_at", (self.settings.key, batch_id, imported_at, time.time()))

    # -- reading ---------------------------------------------------------------------------------------------

    def query(self, sql: str, *, max_rows: int | None = None) -> QueryResult:
        """Blocking. Run `sql` in a read-only transaction (a statement that would write is refused by the
        server): its columns and at most `max_rows` rows, with values as the cache's queries give them (JSON as
        its text, times as ISO 8601 text, numbers as numbers), `truncated` when there were more."""
        with self._store() as store:
            store.read_only = True
            with store.transaction(), store.cursor() as cursor:
                try:
                    cursor.execute(sql)
                except _psycopg().Error as exc:
                    raise LogStoreError(self._one_line(exc)) from None
                if cursor.description is None:
                    return QueryResult([], [])
                columns = [c.name for c in cursor.description]
                rows = cursor.fetchmany(max_rows + 1) if max_rows else cursor.fetchall()
        truncated = bool(max_rows) and len(rows) > (max_rows or 0)
        kept = rows[:max_rows] if max_rows else rows
        return QueryResult(columns, [tuple(_value(v) for v in row) for row in kept], truncated)


def _value(item: object) -> Value:
    """A store's value as the cache would hold it."""
    if item is None or isinstance(item, int | float | str | bytes):
        return item
    if isinstance(item, dict | list):
        return json.dumps(item, ensure_ascii=False)
    if isinstance(item, datetime.datetime | datetime.date):
        return item.isoformat()
    if isinstance(item, Decimal):
        return int(item) if item == item.to_integral_value() else float(item)
    return str(item)


def _offset(progress: ProgressCallback | None, base: int, total: int) -> Callable[[int], None]:
    """A batch's rows sent as the whole push's progress."""
    def report(sent: int) -> None:
        if progress is not None:
            progress(base + sent, total)
    return report


async def push_async(store: LogStore, batch_ids: list[str] | None = None, *,
                     progress: ProgressCallback | None = None) -> PushResult:
    """`LogStore.push` in a worker thread."""
    return await asyncio.to_thread(store.push, batch_ids, progress=progress)

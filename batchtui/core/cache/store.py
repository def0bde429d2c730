"""Local SQLite cache of batches, files, progress observations and downloads.

Open with ``cache = await Cache.open(path)`` and close with ``await cache.close()``, or let
``async with cache:`` close it. Several processes may share one file: the database runs in WAL
mode and every write is a short ``BEGIN IMMEDIATE`` transaction that waits on ``busy_timeout``.
A file that is damaged or from a newer batchtui is set aside, never deleted: see `open_or_set_aside`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import aiosqlite
import orjson

from batchtui.core.api.models import ApiObject, Batch, FileObject, sane
from batchtui.core.domain import ACTIVE_STATUSES, TERMINAL_STATUSES
from batchtui.core.errors import BatchtuiError
from batchtui.core.paths import private_dir
from batchtui.core.text import printable

__all__ = [
    "SCHEMA_VERSION",
    "Cache",
    "CacheError",
    "DownloadedFile",
    "ProgressObservation",
    "ReadOnlyCacheError",
    "UnusableCacheError",
    "cache_errors",
    "open_or_set_aside",
    "unwritable",
]

BUSY_TIMEOUT_MS = 120_000
"""How long a write waits for another process's: an import of 50,000 requests holds the lock for 3-8 s."""
PAGE_SIZE = 32_768
"""Bytes per page of a new cache. llm_logs rows hold 1-8 KB of request and answer each: on 4 KB pages a 2 KB row
takes a page of its own and a 7 KB row spills, so a batch took 1.7-2.5x its size and imports took twice as long.
32 KB pages hold them with little waste, at the cost of rewriting 32 KB for a small change (192 KB of WAL for a
sync pass in which 50 batches moved, against 65 KB). A cache made with other pages keeps them."""
OFF_LOOP_ROWS = 200

_T = TypeVar("_T")
_ACTIVE_SQL = ", ".join(f"'{status}'" for status in sorted(ACTIVE_STATUSES))
_TERMINAL_SQL = ", ".join(f"'{status}'" for status in sorted(TERMINAL_STATUSES))

_RETRY_OF = "json_extract(raw, '$.metadata.retry_of')"
"""The batch a batch retries (metadata set by `batchtui retry-batch`), as the index on it spells it."""

_LOG_BATCH_FIELD = "metadata -> 'batch' ->> '{key}'"
"""A field of an llm_logs row's metadata.batch, spelled as queries spell it so that its index serves them."""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE batches (
            id TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            endpoint TEXT NOT NULL,
            model TEXT,
            description TEXT,
            input_file_id TEXT NOT NULL,
            output_file_id TEXT,
            error_file_id TEXT,
            completed INTEGER NOT NULL,
            failed INTEGER NOT NULL,
            total INTEGER NOT NULL,
            updated_at REAL NOT NULL,
            raw TEXT NOT NULL
        )
        """,
        "CREATE INDEX batches_by_created ON batches (created_at DESC, id DESC)",
        "CREATE INDEX batches_by_status ON batches (status, created_at DESC, id DESC)",
        """
        CREATE TABLE files (
            id TEXT PRIMARY KEY,
            purpose TEXT NOT NULL,
            filename TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER,
            raw TEXT NOT NULL
        )
        """,
        "CREATE INDEX files_by_created ON files (created_at DESC, id DESC)",
        "CREATE INDEX files_by_purpose ON files (purpose, created_at DESC, id DESC)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    (
        """
        CREATE TABLE observations (
            batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
            observed_at REAL NOT NULL,
            status TEXT NOT NULL,
            completed INTEGER NOT NULL,
            failed INTEGER NOT NULL,
            total INTEGER NOT NULL
        )
        """,
        "CREATE INDEX observations_by_batch ON observations (batch_id, observed_at)",
        """
        CREATE TABLE downloads (
            file_id TEXT PRIMARY KEY,
            batch_id TEXT,
            kind TEXT NOT NULL CHECK (kind IN ('input', 'output', 'error')),
            path TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            downloaded_at REAL NOT NULL
        )
        """,
        "CREATE INDEX downloads_by_batch ON downloads (batch_id)",
    ),
    (
        # Where a file uploaded from here came from, so a batch's results can be joined back to the data
        # its input file was made from (the manifest beside it).
        """
        CREATE TABLE uploads (
            file_id TEXT PRIMARY KEY,
            path TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            uploaded_at REAL NOT NULL
        )
        """,
        f"CREATE INDEX batches_by_retry_of ON batches ({_RETRY_OF}) WHERE {_RETRY_OF} IS NOT NULL",
    ),
    (
        # Every request of an imported batch as a row (batchtui.core.cache.llm_logs). The view `llm_logs` shows the
        # columns users query; the table also keeps batch_id and custom_id as real columns for the upsert. The
        # metadata JSON comes before the large request and response texts, so a scan reads it from the row's
        # first page. The expression indexes serve queries written with Postgres' JSON operators (SQLite 3.38+).
        """
        CREATE TABLE llm_log_rows (
            id INTEGER PRIMARY KEY,
            batch_id TEXT NOT NULL,
            custom_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            metadata TEXT NOT NULL,
            request TEXT,
            response TEXT,
            UNIQUE (batch_id, custom_id)
        )
        """,
        *(
            (
                f"CREATE INDEX llm_log_rows_by_{key} ON llm_log_rows ({_LOG_BATCH_FIELD.format(key=key)})"
                for key in ("batch_id", "custom_id")
            )
            if sqlite3.sqlite_version_info >= (3, 38)
            else ()
        ),
        """
        CREATE VIEW llm_logs AS
        SELECT id, request, response, metadata, created_at, updated_at FROM llm_log_rows
        """,
        """
        CREATE TABLE llm_log_imports (
            batch_id TEXT PRIMARY KEY,
            signature TEXT NOT NULL,
            rows INTEGER NOT NULL,
            with_response INTEGER NOT NULL,
            skipped INTEGER NOT NULL,
            imported_at REAL NOT NULL
        )
        """,
    ),
    (
        # Jobs (batchtui.core.jobs): one dataset cut into parts, each part sent as one or more attempts (batches).
        """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_at REAL NOT NULL,
            status TEXT NOT NULL,
            reason TEXT,
            source TEXT NOT NULL,
            folder TEXT NOT NULL,
            manifest TEXT,
            endpoint TEXT NOT NULL,
            model TEXT,
            requests INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL,
            estimate_usd TEXT,
            max_cost_usd TEXT,
            max_attempts INTEGER NOT NULL,
            enqueued_tokens INTEGER,
            lease_owner TEXT,
            lease_until REAL,
            updated_at REAL NOT NULL
        )
        """,
        """
        CREATE TABLE job_parts (
            job_id TEXT NOT NULL REFERENCES jobs (id),
            part INTEGER NOT NULL,
            first_line INTEGER NOT NULL,
            requests INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL,
            estimate_usd TEXT,
            succeeded INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            done INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (job_id, part)
        )
        """,
        """
        CREATE TABLE job_attempts (
            job_id TEXT NOT NULL REFERENCES jobs (id),
            part INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            file TEXT NOT NULL,
            requests INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL,
            counted INTEGER NOT NULL,
            state TEXT NOT NULL,
            upload_started REAL,
            file_id TEXT,
            create_started REAL,
            batch_id TEXT,
            retry_of TEXT,
            PRIMARY KEY (job_id, part, attempt)
        )
        """,
    ),
    (
        # What was pushed to a team's log store (batchtui.core.logstore): each batch as it was imported then.
        """
        CREATE TABLE log_pushes (
            store TEXT NOT NULL,
            batch_id TEXT NOT NULL,
            imported_at REAL NOT NULL,
            pushed_at REAL NOT NULL,
            PRIMARY KEY (store, batch_id)
        )
        """,
    ),
)
"""Schema migrations in order; applying entry ``i`` moves the file to ``user_version = i + 1``."""

SCHEMA_VERSION = len(MIGRATIONS)

_BATCH_COLUMNS = (
    "id, status, created_at, endpoint, model, description, input_file_id, output_file_id, "
    "error_file_id, completed, failed, total, updated_at, raw"
)
_UPSERT_BATCH = f"""
    INSERT INTO batches ({_BATCH_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET
        status = excluded.status, created_at = excluded.created_at, endpoint = excluded.endpoint,
        model = excluded.model, description = excluded.description,
        input_file_id = excluded.input_file_id, output_file_id = excluded.output_file_id,
        error_file_id = excluded.error_file_id, completed = excluded.completed,
        failed = excluded.failed, total = excluded.total, updated_at = excluded.updated_at,
        raw = excluded.raw
"""
_UPSERT_FILE = """
    INSERT INTO files (id, purpose, filename, bytes, created_at, expires_at, raw)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET
        purpose = excluded.purpose, filename = excluded.filename, bytes = excluded.bytes,
        created_at = excluded.created_at, expires_at = excluded.expires_at, raw = excluded.raw
"""


class CacheError(BatchtuiError):
    """The cache file cannot be used: not a database, or written by a newer batchtui."""


class ReadOnlyCacheError(CacheError):
    """The cache file cannot be written here (a read-only file system, or no permission); it can still be read."""


class UnusableCacheError(CacheError):
    """The file holds no cache this batchtui can use; `label` names why ("damaged" or "newer-schema") and
    `identity` is the file's (st_dev, st_ino), so only that file is ever set aside."""

    def __init__(self, message: str, *, label: str, identity: tuple[int, int] | None) -> None:
        super().__init__(message)
        self.label = label
        self.identity = identity


_DAMAGED = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
"""SQLite's answers for a file that is not a database or is malformed; a lock or an I/O error is not damage."""
OBSERVE_UNCHANGED_SECONDS = 60.0
"""How often an active batch that has not moved is recorded anyway: often enough for the rate to show it stalled,
seldom enough that a day-long batch polled every 5 s leaves 1,440 rows instead of 17,280."""

_CHECKED_TABLES = ("meta", "batches", "files", "observations", "downloads", "uploads", "llm_log_imports", "jobs",
                   "job_parts", "job_attempts", "log_pushes")
"""Tables checked at open (~20 ms at 10,000 batches); llm_log_rows is left out: checking 400 MB of it takes 0.4-4 s."""


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file is at `path` now (None: none)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino


def unwritable(path: Path) -> str | None:
    """Why the cache at `path` cannot be written here (e.g. "Read-only file system"), or None if it can: the file
    must open for writing, and its folder must take the -wal and -shm files SQLite keeps beside it."""
    try:
        os.close(os.open(path, os.O_RDWR))
    except OSError as exc:
        return exc.strerror or str(exc)
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return f"its folder {path.parent} cannot be written"
    return None


def cache_failure(path: Path, exc: sqlite3.Error | OSError) -> CacheError:
    """A SQLite or OS failure met while using the cache at `path`, as one line naming the file and the cause."""
    if isinstance(exc, OSError):
        return CacheError(f"{exc.filename or path}: {exc.strerror or exc}")
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    what = " ".join(str(exc).split())
    if code == sqlite3.SQLITE_BUSY:
        return CacheError(f"{path} stayed locked by another batchtui for {BUSY_TIMEOUT_MS // 1000} s; try again")
    if code == sqlite3.SQLITE_FULL:
        return CacheError(f"{path}: the disk is full ({what}); free some space and try again")
    if code in _DAMAGED:
        return UnusableCacheError(f"{path}: the cache file is damaged ({what}); move it aside and batchtui starts "
                                  "a new one, filled from the API", label="damaged", identity=_identity(path))
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM) and (why := unwritable(path)):
        return ReadOnlyCacheError(f"{path}: cannot write the cache ({why})")
    return CacheError(f"{path}: {what}")


@contextlib.contextmanager
def cache_errors(path: Path) -> Iterator[None]:
    """Turn a SQLite or OS failure in the block into a CacheError naming the cache file (see `cache_failure`)."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise cache_failure(path, exc) from exc


def set_aside(path: Path, label: str) -> Path:
    """Rename the cache file and its -wal and -shm to ``<name>.<label>-<time>`` (never deleting them)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.{label}-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.{label}-{stamp}-{n}")
    for suffix in ("-wal", "-shm"):  # the WAL first: left beside a new cache file, SQLite would replay it into it
        with contextlib.suppress(FileNotFoundError):
            os.replace(path.with_name(path.name + suffix), aside.with_name(aside.name + suffix))
    os.replace(path, aside)
    return aside


async def open_or_set_aside(path: Path) -> tuple[Cache, str | None]:
    """Open the cache at `path`; a file that is damaged or from a newer batchtui is renamed aside and a new cache
    made in its place, to be filled from the API. The second item says what happened in one sentence, or is None.
    """
    try:
        return await Cache.open(path), None
    except UnusableCacheError as exc:
        why = "was written by a newer batchtui" if exc.label == "newer-schema" else "was damaged"
        try:
            if _identity(path) != exc.identity:
                where = "another batchtui moved it aside"
            else:
                where = f"moved it to {set_aside(path, exc.label).name}"
        except OSError as error:
            raise CacheError(f"{exc}; it cannot be moved aside ({error.strerror or error})") from error
    return await Cache.open(path), f"The cache file {path} {why}; {where} and started a new one, filled from the API."


@dataclass(frozen=True)
class ProgressObservation:
    """A batch's status and request counts as seen by one sync pass."""

    batch_id: str
    observed_at: float
    status: str
    completed: int
    failed: int
    total: int


@dataclass(frozen=True)
class DownloadedFile:
    """A batch file streamed into the cache directory; ``kind`` is "input", "output" or "error"."""

    file_id: str
    batch_id: str | None
    kind: str
    path: Path
    bytes: int
    downloaded_at: float


def _field(model: Batch | FileObject, name: str, default: object = None) -> object:
    """A field of an SDK object; the SDK builds responses without validation, so fields may be absent."""
    value = getattr(model, name, None)
    return default if value is None else value


def _counts(batch: Batch) -> tuple[int, int, int]:
    counts = _field(batch, "request_counts")
    return (
        int(getattr(counts, "completed", None) or 0),
        int(getattr(counts, "failed", None) or 0),
        int(getattr(counts, "total", None) or 0),
    )


def _batch_row(batch: Batch, counts: tuple[int, int, int], updated_at: float, raw: str) -> tuple[object, ...]:
    metadata = _field(batch, "metadata", {})
    description = metadata.get("description") if isinstance(metadata, dict) else None
    return (
        batch.id,
        _field(batch, "status", ""),
        _field(batch, "created_at", 0),
        _field(batch, "endpoint", ""),
        _field(batch, "model"),
        description,
        _field(batch, "input_file_id", ""),
        _field(batch, "output_file_id"),
        _field(batch, "error_file_id"),
        *counts,
        updated_at,
        raw,
    )


def _file_row(file: FileObject) -> tuple[object, ...]:
    return (
        file.id,
        _field(file, "purpose", ""),
        _field(file, "filename", ""),
        _field(file, "bytes", 0),
        _field(file, "created_at", 0),
        _field(file, "expires_at"),
        file.to_json(),
    )


def _load(model: type[ApiObject], raw: str) -> ApiObject:
    """Parse stored JSON, made sane as an answer of the API is: a row written by an older batchtui, or edited by
    hand, is read as well as it can be rather than lost."""
    found = sane(model, orjson.loads(raw))
    if found is None:
        raise CacheError(f"A cached {model.__name__} has no id: {printable(raw[:80])}")
    return found


async def _off_loop_if_large(work: Callable[[], _T], size: int) -> _T:
    """Parse or dump many models in a thread: 10,000 batches take ~0.2 s, far more than a frame."""
    return await asyncio.to_thread(work) if size > OFF_LOOP_ROWS else work()


def _download(row: Sequence[Any]) -> DownloadedFile:
    file_id, batch_id, kind, path, size, downloaded_at = row
    return DownloadedFile(file_id, batch_id, kind, Path(path), size, downloaded_at)


class Cache:
    """The local store. All methods are safe to call from concurrent tasks on one event loop."""

    def __init__(self, path: Path, conn: aiosqlite.Connection) -> None:
        self.path = path
        self._conn = conn
        self._lock = asyncio.Lock()
        self._closed = False
        self._file_locks: dict[str, asyncio.Lock] = {}

    def file_lock(self, file_id: str) -> asyncio.Lock:
        """Held while a file is downloaded through this cache: a second download of it (the viewer and a background
        import at once) waits, then finds the first one's copy."""
        return self._file_locks.setdefault(file_id, asyncio.Lock())

    @classmethod
    async def open(cls, path: Path) -> Cache:
        """Open or create the cache at ``path`` (dir 0700, files 0600) and bring its schema up to date.

        Cancelled, it lets the open finish and closes it before re-raising: aiosqlite's thread cannot be
        interrupted, and a connection left to it would outlive the event loop (and keep the process alive).
        """
        opening = asyncio.ensure_future(cls._open(Path(path)))
        try:
            return await asyncio.shield(opening)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await (await opening).close()
            raise

    @classmethod
    async def _open(cls, path: Path) -> Cache:
        if "\0" in str(path):  # the OS refuses such a path outright (ValueError, not OSError)
            raise CacheError(f"{printable(str(path))}: cannot create the cache (a path cannot hold a NUL character)")
        existed = path.exists()
        try:
            if not path.parent.exists():
                private_dir(path.parent)
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        except OSError as exc:
            if not existed:
                raise CacheError(f"{path}: cannot create the cache ({exc.strerror})") from exc
            if path.is_dir():
                raise CacheError(f"{path}: cannot open the cache (it is a folder, not a file)") from exc
            raise ReadOnlyCacheError(f"{path}: cannot write the cache ({exc.strerror})") from exc
        if existed and (why := unwritable(path)):
            raise ReadOnlyCacheError(f"{path}: cannot write the cache ({why})")
        with contextlib.suppress(OSError):
            path.chmod(0o600)
        try:  # connected here, not by aiosqlite.connect: a failed connect there leaves its thread to an ended loop
            raw = await asyncio.to_thread(sqlite3.connect, path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise CacheError(f"{path}: cannot open the cache ({exc})") from exc
        conn = await aiosqlite.Connection(lambda: raw, iter_chunk_size=64)
        cache = cls(path, conn)
        try:
            await cache._setup()
        except BaseException as exc:
            await conn.close()
            if not isinstance(exc, sqlite3.Error):
                raise
            if exc.sqlite_errorcode & 0xFF in _DAMAGED:
                raise UnusableCacheError(f"{path}: not a usable batchtui cache ({exc})", label="damaged",
                                         identity=_identity(path)) from exc
            raise cache_failure(path, exc) from exc
        for suffix in ("-wal", "-shm"):
            sidecar = path.with_name(path.name + suffix)
            with contextlib.suppress(OSError):
                sidecar.chmod(0o600)
        return cache

    async def _setup(self) -> None:
        await self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await self._conn.execute("PRAGMA foreign_keys = ON")
        version = await self._scalar("PRAGMA user_version")
        self._check_version(version)
        await self._conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # takes effect only on a new, empty file
        mode = await self._switch_to_wal()
        if str(mode).lower() != "wal":
            raise CacheError(f"{self.path}: cannot switch the cache to WAL mode (got {mode!r})")
        await self._conn.execute("PRAGMA synchronous = NORMAL")
        if version < SCHEMA_VERSION:
            for target, statements in enumerate(MIGRATIONS, start=1):
                await self._migrate(target, statements)
        for table in _CHECKED_TABLES:
            (verdict,) = await self._conn.execute_fetchall(f"PRAGMA quick_check({table})")
            if verdict[0] != "ok":
                raise UnusableCacheError(f"{self.path}: not a usable batchtui cache (table {table}: {verdict[0]})",
                                         label="damaged", identity=_identity(self.path))

    async def _switch_to_wal(self) -> object:
        """Put the file in WAL mode; the journal mode it is in after. Two processes opening a new file at once both
        switch it, and SQLite answers the second "locked" at once, without waiting on busy_timeout: that one tries
        again (for as long as a write would wait)."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                async with self._conn.execute("PRAGMA journal_mode = WAL") as cursor:
                    (mode,) = await cursor.fetchone() or ("?",)
                return mode
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.02)

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise UnusableCacheError(
                f"{self.path}: cache schema version {version} is newer than this batchtui "
                f"understands ({SCHEMA_VERSION}); upgrade batchtui or delete the file",
                label="newer-schema",
                identity=_identity(self.path),
            )

    async def _migrate(self, target: int, statements: tuple[str, ...]) -> None:
        """Apply one migration in its own transaction, unless another process already has."""
        async with self._write():
            current = await self._scalar("PRAGMA user_version")
            self._check_version(current)
            if current >= target:
                return
            for statement in statements:
                await self._conn.execute(statement)
            await self._conn.execute(f"PRAGMA user_version = {target:d}")

    async def close(self) -> None:
        """Close the connection; calling it twice is harmless."""
        if not self._closed:
            self._closed = True
            await self._conn.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[None]:
        """One short write transaction, taken with BEGIN IMMEDIATE so it waits for the lock."""
        async with self._lock:
            with cache_errors(self.path):
                await self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield
                    await self._conn.commit()
                except BaseException:
                    if self._conn.in_transaction:
                        await self._conn.rollback()
                    raise

    async def _fetchall(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        async with self._lock:
            with cache_errors(self.path):
                return list(await self._conn.execute_fetchall(sql, params))

    async def _scalar(self, sql: str, params: Sequence[object] = ()) -> int:
        async with self._conn.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def schema_version(self) -> int:
        """The file's ``PRAGMA user_version``."""
        async with self._lock:
            return await self._scalar("PRAGMA user_version")

    async def upsert_batches(self, batches: Iterable[Batch], observed_at: float) -> list[str]:
        """Store batches; return ids that are new or whose JSON changed.

        Records an observation for each batch whose status or counts differ from its cached copy, and for an
        active batch that has none from the last OBSERVE_UNCHANGED_SECONDS. A batch first seen already terminal
        gets none: its own timestamps tell its story. One BEGIN IMMEDIATE transaction for the whole call.
        """
        incoming = {batch.id: batch for batch in batches}
        if not incoming:
            return []
        dumped = await _off_loop_if_large(
            lambda: {batch_id: batch.to_json() for batch_id, batch in incoming.items()}, len(incoming)
        )
        ids = orjson.dumps(list(incoming)).decode()
        async with self._write():
            cached = {
                row[0]: (row[1], row[2], (row[3], row[4], row[5]))
                for row in await self._conn.execute_fetchall(
                    "SELECT id, raw, status, completed, failed, total FROM batches "
                    "WHERE id IN (SELECT value FROM json_each(?))",
                    (ids,),
                )
            }
            last_observed: dict[str, float] = dict(await self._conn.execute_fetchall(  # type: ignore[arg-type]
                "SELECT batch_id, max(observed_at) FROM observations "
                "WHERE batch_id IN (SELECT value FROM json_each(?)) GROUP BY batch_id",
                (ids,),
            ))
            changed: list[str] = []
            rows: list[tuple[object, ...]] = []
            observations: list[tuple[object, ...]] = []
            for batch_id, batch in incoming.items():
                raw = dumped[batch_id]
                counts = _counts(batch)
                status = _field(batch, "status", "")
                before = cached.get(batch_id)
                if before is None or before[0] != raw:
                    changed.append(batch_id)
                    rows.append(_batch_row(batch, counts, observed_at, raw))
                moved = before is not None and (before[1], before[2]) != (status, counts)
                due = observed_at - last_observed.get(batch_id, float("-inf")) >= OBSERVE_UNCHANGED_SECONDS
                if moved or (status in ACTIVE_STATUSES and due):
                    observations.append((batch_id, observed_at, status, *counts))
            if rows:
                await self._conn.executemany(_UPSERT_BATCH, rows)
            if observations:
                await self._conn.executemany(
                    "INSERT INTO observations (batch_id, observed_at, status, completed, failed, total) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    observations,
                )
        return changed

    async def get_batch(self, batch_id: str) -> Batch | None:
        """The cached batch, or None."""
        rows = await self._fetchall("SELECT raw FROM batches WHERE id = ?", (batch_id,))
        return _load(Batch, rows[0][0]) if rows else None

    async def get_batches(self, batch_ids: Iterable[str]) -> list[Batch]:
        """The cached batches of these ids (unknown ids are left out), newest first."""
        rows = await self._fetchall(
            "SELECT raw FROM batches WHERE id IN (SELECT value FROM json_each(?)) ORDER BY created_at DESC, id DESC",
            (orjson.dumps(list(batch_ids)).decode(),),
        )
        return await _off_loop_if_large(lambda: [_load(Batch, row[0]) for row in rows], len(rows))

    async def list_batches(self, *, status: str | None = None, limit: int | None = None) -> list[Batch]:
        """Cached batches, newest first, optionally of one status and at most ``limit`` of them."""
        where = "WHERE status = ?" if status is not None else ""
        params: list[object] = [status] if status is not None else []
        params.append(-1 if limit is None else limit)
        rows = await self._fetchall(
            f"SELECT raw FROM batches {where} ORDER BY created_at DESC, id DESC LIMIT ?", params
        )
        return await _off_loop_if_large(lambda: [_load(Batch, row[0]) for row in rows], len(rows))

    async def request_models(self, batch_ids: Iterable[str]) -> dict[str, str]:
        """The model the requests of each batch name, from its rows in llm_logs (one row each): the API says a
        batch's model only once it runs, but a batch started from here has its requests there from the start."""
        ids = list(batch_ids)
        if not ids:
            return {}
        rows = await self._fetchall(
            "SELECT wanted.value, (SELECT json_extract(metadata, '$.model') FROM llm_log_rows "
            "WHERE batch_id = wanted.value LIMIT 1) FROM json_each(?) AS wanted",
            (orjson.dumps(ids).decode(),),
        )
        return {batch_id: model for batch_id, model in rows if isinstance(model, str) and model}

    async def unlogged_batches(self) -> list[Batch]:
        """Finished batches whose rows llm_logs lacks: never imported, or imported before they finished (as a
        batch started from here is, with its requests alone), oldest first. The status of the last import is the
        fourth item of its signature (`llm_logs.signature`)."""
        rows = await self._fetchall(
            "SELECT raw FROM batches LEFT JOIN llm_log_imports AS imported ON imported.batch_id = batches.id "
            f"WHERE status IN ({_TERMINAL_SQL}) AND (imported.batch_id IS NULL "
            "OR json_extract(imported.signature, '$[3]') IS NOT status) ORDER BY created_at, id"
        )
        return await _off_loop_if_large(lambda: [_load(Batch, row[0]) for row in rows], len(rows))

    async def terminal_ids(self, batch_ids: Iterable[str]) -> set[str]:
        """Which of ``batch_ids`` are cached with a terminal status (sync stops paging at one)."""
        ids = list(batch_ids)
        if not ids:
            return set()
        rows = await self._fetchall(
            "SELECT batches.id FROM json_each(?) AS wanted CROSS JOIN batches ON batches.id = wanted.value "
            f"WHERE batches.status IN ({_TERMINAL_SQL})",
            (orjson.dumps(ids).decode(),),
        )
        return {row[0] for row in rows}

    async def active_batch_ids(self) -> list[str]:
        """Ids of cached batches still in an active status, newest first."""
        rows = await self._fetchall(
            f"SELECT id FROM batches WHERE status IN ({_ACTIVE_SQL}) ORDER BY created_at DESC, id DESC"
        )
        return [row[0] for row in rows]

    async def observations(self, batch_id: str, *, since: float | None = None) -> list[ProgressObservation]:
        """A batch's progress observations (those at or after `since`, when given), oldest first."""
        rows = await self._fetchall(
            "SELECT batch_id, observed_at, status, completed, failed, total FROM observations "
            "WHERE batch_id = ? AND observed_at >= ? ORDER BY observed_at, rowid",
            (batch_id, since if since is not None else float("-inf")),
        )
        return [ProgressObservation(*row) for row in rows]

    async def upsert_files(self, files: Iterable[FileObject]) -> None:
        """Store file objects, replacing cached copies."""
        rows = [_file_row(file) for file in files]
        if rows:
            async with self._write():
                await self._conn.executemany(_UPSERT_FILE, rows)

    async def get_file(self, file_id: str) -> FileObject | None:
        """The cached file object, or None."""
        rows = await self._fetchall("SELECT raw FROM files WHERE id = ?", (file_id,))
        return _load(FileObject, rows[0][0]) if rows else None

    async def list_files(self, *, purpose: str | None = None) -> list[FileObject]:
        """Cached file objects, newest first, optionally of one purpose."""
        where, params = ("WHERE purpose = ?", (purpose,)) if purpose is not None else ("", ())
        rows = await self._fetchall(f"SELECT raw FROM files {where} ORDER BY created_at DESC, id DESC", params)
        return [_load(FileObject, row[0]) for row in rows]

    async def forget_file(self, file_id: str) -> None:
        """Drop a file deleted on the API, and its download record; the file on disk is the caller's."""
        async with self._write():
            await self._conn.execute("DELETE FROM files WHERE id = ?", (file_id,))
            await self._conn.execute("DELETE FROM downloads WHERE file_id = ?", (file_id,))

    async def record_download(self, record: DownloadedFile) -> None:
        """Remember a file streamed into the cache dir, replacing any earlier record for it."""
        async with self._write():
            await self._conn.execute(
                "INSERT OR REPLACE INTO downloads (file_id, batch_id, kind, path, bytes, downloaded_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    record.file_id,
                    record.batch_id,
                    record.kind,
                    str(record.path),
                    record.bytes,
                    record.downloaded_at,
                ),
            )

    async def get_download(self, file_id: str) -> DownloadedFile | None:
        """The download record for a file, or None."""
        rows = await self._fetchall(
            "SELECT file_id, batch_id, kind, path, bytes, downloaded_at FROM downloads WHERE file_id = ?",
            (file_id,),
        )
        return _download(rows[0]) if rows else None

    async def retries_of(self, batch_id: str) -> list[Batch]:
        """Batches made to retry this one's failed requests, and their own retries in turn, oldest first. Two made
        in the same second (created_at counts seconds) come in the order the cache first heard of them: a retry
        started from here is stored as it is created."""
        rows = await self._fetchall(
            f"""
            WITH RECURSIVE chain (id) AS (
                SELECT ? UNION SELECT batches.id FROM batches JOIN chain ON {_RETRY_OF} = chain.id
            )
            SELECT raw FROM batches WHERE id IN (SELECT id FROM chain) AND id != ? ORDER BY created_at, rowid
            """,
            (batch_id, batch_id),
        )
        return [_load(Batch, row[0]) for row in rows]

    async def record_upload(self, file_id: str, path: Path, size: int) -> None:
        """Remember which local file an upload came from."""
        async with self._write():
            await self._conn.execute(
                "INSERT OR REPLACE INTO uploads (file_id, path, bytes, uploaded_at) VALUES (?, ?, ?, ?)",
                (file_id, str(path.absolute()), size, time.time()),
            )

    async def upload_source(self, file_id: str) -> Path | None:
        """The local file an upload came from, if it was uploaded from here."""
        rows = await self._fetchall("SELECT path FROM uploads WHERE file_id = ?", (file_id,))
        return Path(rows[0][0]) if rows else None

    async def get_meta(self, key: str) -> str | None:
        """A bookkeeping value, or None."""
        rows = await self._fetchall("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    async def set_meta(self, key: str, value: str) -> None:
        """Set a bookkeeping value (e.g. the last successful sync time)."""
        async with self._write():
            await self._conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

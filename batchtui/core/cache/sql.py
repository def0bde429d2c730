"""Read-only SQL over the cache: the `batchtui sql` command and the app's SQL screen.

A query runs on its own connection opened with `mode=ro` and `PRAGMA query_only=ON`, behind an authorizer that
refuses every statement that could write, attach a file or change a setting; the statement must also start with
SELECT, WITH, VALUES, EXPLAIN or PRAGMA. Any one of these alone keeps the cache intact; together they also give
a clear refusal ("DELETE is refused: ...") instead of SQLite's "not authorized".

A cache on a read-only medium is read as it is (with `immutable=1` when SQLite cannot make the WAL's shared-memory
file beside it and no WAL holds data); a failure of the file itself (damaged, unreadable, a full disk) is one line
naming the file.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from batchtui.core.cache.store import SCHEMA_VERSION, cache_failure, unwritable
from batchtui.core.errors import BatchtuiError

__all__ = ["EXAMPLE_QUERIES", "QueryResult", "ReadOnlyQueryError", "open_readonly", "run_readonly_query",
           "stream_readonly_query"]

Value = int | float | str | bytes | None


class ReadOnlyQueryError(BatchtuiError):
    """The query was refused (it would write) or failed; the message is SQLite's, on one line."""


@dataclass(frozen=True)
class QueryResult:
    """Column names and rows of a query; `truncated` when rows past the limit were left out."""

    columns: list[str]
    rows: list[tuple[Value, ...]]
    truncated: bool = False


EXAMPLE_QUERIES: list[tuple[str, str]] = [
    (
        "Requests whose custom_id starts with 'person' (Postgres JSON operators work as written)",
        "SELECT metadata -> 'batch' ->> 'custom_id', request -> 'body' ->> 'temperature'\n"
        "FROM llm_logs\n"
        "WHERE metadata -> 'batch' ->> 'custom_id' LIKE 'person%'",
    ),
    (
        "Failed requests with their prompts",
        "SELECT metadata -> 'batch' ->> 'batch_id' AS batch_id,\n"
        "       metadata -> 'batch' ->> 'custom_id' AS custom_id,\n"
        "       coalesce(metadata -> 'error' ->> 'code', metadata -> 'error' ->> 'type') AS error_code,\n"
        "       metadata -> 'error' ->> 'message' AS error,\n"
        "       coalesce(request ->> '$.body.messages[#-1].content', request -> 'body' ->> 'input',\n"
        "                request -> 'body' ->> 'prompt') AS prompt\n"
        "FROM llm_logs\n"
        "WHERE metadata ->> 'error' IS NOT NULL\n"
        "ORDER BY created_at DESC\n"
        "LIMIT 200",
    ),
    (
        "Token use and cost by model",
        "SELECT metadata ->> 'model' AS model,\n"
        "       count(*) AS requests,\n"
        "       sum(metadata -> 'usage' ->> 'prompt_tokens') AS prompt_tokens,\n"
        "       sum(metadata -> 'usage' ->> 'completion_tokens') AS completion_tokens,\n"
        "       sum(metadata -> 'usage' ->> 'total_tokens') AS total_tokens,\n"
        "       round(sum(metadata -> 'cost' ->> 'total_cost'), 4) AS cost_usd\n"
        "FROM llm_logs\n"
        "GROUP BY 1\n"
        "ORDER BY total_tokens DESC",
    ),
    (
        "Slowest batches (completed_at - created_at)",
        "SELECT id, model, total AS requests,\n"
        "       datetime(created_at, 'unixepoch') AS created,\n"
        "       (raw ->> 'completed_at') - created_at AS seconds,\n"
        "       printf('%d:%02d:%02d', ((raw ->> 'completed_at') - created_at) / 3600,\n"
        "              ((raw ->> 'completed_at') - created_at) % 3600 / 60,\n"
        "              ((raw ->> 'completed_at') - created_at) % 60) AS took,\n"
        "       description\n"
        "FROM batches\n"
        "WHERE raw ->> 'completed_at' IS NOT NULL\n"
        "ORDER BY seconds DESC\n"
        "LIMIT 20",
    ),
    (
        "Answers that mention a word ('refund')",
        "SELECT metadata -> 'batch' ->> 'batch_id' AS batch_id,\n"
        "       metadata -> 'batch' ->> 'custom_id' AS custom_id,\n"
        "       coalesce(response -> 'body' -> 'choices' -> 0 -> 'message' ->> 'content',\n"
        "                response ->> '$.body.output[#-1].content[0].text',\n"
        "                response -> 'body' -> 'choices' -> 0 ->> 'text') AS answer\n"
        "FROM llm_logs\n"
        "WHERE answer LIKE '%refund%'\n"
        "LIMIT 200",
    ),
    (
        "Requests, answers and cost by batch",
        "SELECT metadata -> 'batch' ->> 'batch_id' AS batch_id,\n"
        "       min(created_at) AS created_at,\n"
        "       count(*) AS requests,\n"
        "       count(response) AS with_response,\n"
        "       sum(metadata ->> 'error' IS NOT NULL) AS errors,\n"
        "       round(sum(metadata -> 'cost' ->> 'total_cost'), 4) AS cost_usd\n"
        "FROM llm_logs\n"
        "GROUP BY 1\n"
        "ORDER BY created_at DESC",
    ),
]
"""(title, SQL) pairs to start from; each runs on the cache as it is."""

_QUERY_START = frozenset({"SELECT", "WITH", "VALUES", "EXPLAIN", "PRAGMA"})
_WRITE_START = frozenset({
    "INSERT", "REPLACE", "UPDATE", "DELETE", "UPSERT", "CREATE", "DROP", "ALTER", "ATTACH", "DETACH", "VACUUM",
    "REINDEX", "ANALYZE", "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE",
})
"""Statements refused before SQLite sees them; any other word that is not a query's gets SQLite's own error."""
_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?(?:\*/|$)|\()*", re.DOTALL)
_WORD = re.compile(r"[A-Za-z_]+")

_READ_PRAGMAS = frozenset({
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list",
    "database_list", "collation_list", "function_list", "module_list", "pragma_list", "compile_options",
    "user_version", "schema_version", "application_id", "page_size", "page_count", "freelist_count",
    "encoding", "journal_mode", "foreign_keys", "query_only", "data_version",
})
"""Pragmas a query may read; one given a value (`PRAGMA user_version = 5`) is refused unless it names a table."""
_PRAGMAS_WITH_TABLE = frozenset({
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list",
})
_ALLOWED = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE})
_SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"})
"""SQLite itself asks to update these while it sets up a table-valued function (json_each, pragma_table_info)."""
_REFUSED_WORDS = {
    sqlite3.SQLITE_INSERT: "INSERT",
    sqlite3.SQLITE_UPDATE: "UPDATE",
    sqlite3.SQLITE_DELETE: "DELETE",
    sqlite3.SQLITE_ATTACH: "ATTACH",
    sqlite3.SQLITE_DETACH: "DETACH",
    sqlite3.SQLITE_TRANSACTION: "a transaction",
    sqlite3.SQLITE_SAVEPOINT: "SAVEPOINT",
    sqlite3.SQLITE_ANALYZE: "ANALYZE",
    sqlite3.SQLITE_REINDEX: "REINDEX",
    sqlite3.SQLITE_ALTER_TABLE: "ALTER TABLE",
}


def _words_of(action: int) -> str:
    name = next((n for n in dir(sqlite3) if n.startswith(("SQLITE_CREATE_", "SQLITE_DROP_"))
                 and getattr(sqlite3, n) == action), None)
    return _REFUSED_WORDS.get(action) or (name.removeprefix("SQLITE_").replace("_", " ") if name else "this statement")


class _Guard:
    """The connection's authorizer: lets reads through, remembers the first thing it refused."""

    def __init__(self) -> None:
        self.refused: str | None = None

    def __call__(self, action: int, arg1: str | None, arg2: str | None, _db: str | None, _src: str | None) -> int:
        if action in _ALLOWED:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_UPDATE and arg1 in _SCHEMA_TABLES:
            return sqlite3.SQLITE_OK  # a table-valued function's setup; a real write is stopped by mode=ro anyway
        if action == sqlite3.SQLITE_PRAGMA:
            name = (arg1 or "").lower()
            if name in _READ_PRAGMAS and (arg2 is None or name in _PRAGMAS_WITH_TABLE):
                return sqlite3.SQLITE_OK
            what = f"PRAGMA {name}" + (f" = {arg2}" if arg2 is not None else "")
        else:
            what = _words_of(action)
        self.refused = self.refused or what
        return sqlite3.SQLITE_DENY


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _first_word(sql: str) -> str:
    start = _LEADING.match(sql)
    word = _WORD.match(sql, start.end() if start else 0)
    return word.group().upper() if word else ""


_UNREADABLE = frozenset({sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM})
_FILE_FAILURES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL})
"""SQLite's answers that are about the file, not the query: said with the file's name."""


def _failure(path: Path, exc: sqlite3.Error) -> BatchtuiError:
    """A SQLite error met while reading `path`, as one line: the query's fault in SQLite's words, the file's naming
    it."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code in _UNREADABLE:
        try:
            os.close(os.open(path, os.O_RDONLY))
        except OSError as error:
            return ReadOnlyQueryError(f"{path}: cannot read the cache ({error.strerror or error})")
        why = unwritable(path)
        return ReadOnlyQueryError(f"{path}: cannot read the cache (" + (
            f"{why}, and its WAL holds writes that SQLite can only read with a file it must make beside it)" if why
            else f"{_one_line(str(exc))})"))
    if code in _FILE_FAILURES:
        return cache_failure(path, exc)
    return ReadOnlyQueryError(_query_error(exc))


def _connect(path: Path, *, immutable: bool) -> sqlite3.Connection:
    """A read-only connection, opened now; the schema's version read through it, so a file SQLite cannot read fails
    here and not at the first row."""
    uri = f"file:{quote(str(path.absolute()))}?mode=ro" + ("&immutable=1" if immutable else "")
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=10)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except BaseException:
        conn.close()
        raise
    if version < SCHEMA_VERSION:
        conn.close()
        why = unwritable(path)
        raise ReadOnlyQueryError(
            f"{path}: the cache was made by an older batchtui (schema {version}, now {SCHEMA_VERSION}) and "
            + (f"cannot be upgraded here ({why})" if why else "must be opened by batchtui once to upgrade it"))
    return conn


def _may_read_immutable(path: Path) -> bool:
    """Whether the file can be read as unchanging: no one can write it here (so no one can start a WAL beside it)
    and no WAL holds data that reading it so would miss."""
    wal = path.with_name(path.name + "-wal")
    return unwritable(path) is not None and not (wal.exists() and wal.stat().st_size)


@contextlib.contextmanager
def open_readonly(db_path: Path, *, cancelled: Callable[[], bool] | None = None) -> Iterator[sqlite3.Connection]:
    """A connection that can only read the database at `db_path` (which must exist); closed on exit."""
    path = Path(db_path)
    if not path.is_file():
        raise ReadOnlyQueryError(f"{path}: no such database")
    try:
        try:
            conn = _connect(path, immutable=False)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_CANTOPEN or not _may_read_immutable(path):
                raise
            conn = _connect(path, immutable=True)
    except sqlite3.Error as exc:
        raise _failure(path, exc) from exc
    try:
        conn.execute("PRAGMA query_only = ON")
        if cancelled is not None:
            conn.set_progress_handler(lambda: 1 if cancelled() else 0, 10_000)
        yield conn
    except sqlite3.Error as exc:
        raise _failure(path, exc) from exc
    finally:
        conn.close()


@contextlib.contextmanager
def stream_readonly_query(
    db_path: Path, sql: str, *, cancelled: Callable[[], bool] | None = None
) -> Iterator[tuple[list[str], Iterator[tuple[Value, ...]]]]:
    """(column names, rows as they are read) of one read-only query; the rows must be read inside the `with`.

    Raises ReadOnlyQueryError for a statement that would write or does not parse, with one line saying why."""
    db_path = Path(db_path)
    word = _first_word(sql)
    if not word:
        raise ReadOnlyQueryError("empty query: write a SELECT statement")
    if word in _WRITE_START:
        raise ReadOnlyQueryError(_refusal(word))
    with open_readonly(db_path, cancelled=cancelled) as conn:
        guard = _Guard()
        conn.set_authorizer(guard)
        try:
            cursor = conn.execute(sql)
        except sqlite3.Error as exc:
            raise (ReadOnlyQueryError(_refusal(guard.refused)) if guard.refused else _failure(db_path, exc)) from exc
        if word not in _QUERY_START:
            raise ReadOnlyQueryError(_refusal(word))
        columns = [d[0] for d in cursor.description or ()]

        def rows() -> Iterator[tuple[Value, ...]]:
            try:
                while batch := cursor.fetchmany(500):
                    yield from batch
            except sqlite3.Error as exc:
                raise _failure(db_path, exc) from exc

        yield columns, rows()


def _refusal(what: str) -> str:
    return (f"{what} is refused: the cache can only be read here "
            "(SELECT, WITH, VALUES, EXPLAIN or a read-only PRAGMA)")


def _query_error(exc: sqlite3.Error) -> str:
    text = _one_line(str(exc))
    return "query interrupted" if text == "interrupted" else text


def run_readonly_query(
    db_path: Path, sql: str, *, limit: int | None = None, cancelled: Callable[[], bool] | None = None
) -> QueryResult:
    """Run one query on a read-only connection and return at most `limit` rows (blocking: run it in a thread).

    `cancelled()` is checked while SQLite works, to interrupt a long query ("query interrupted")."""
    with stream_readonly_query(db_path, sql, cancelled=cancelled) as (columns, rows):
        taken: list[tuple[Value, ...]] = []
        for row in rows:
            if limit is not None and len(taken) >= limit:
                return QueryResult(columns, taken, truncated=True)
            taken.append(row)
    return QueryResult(columns, taken)

"""Read-only SQL over a real cache file: queries run, writes of every kind are refused, the file never changes."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from pathlib import Path

import orjson
import pytest
from cache_helpers import damage_llm_log_rows
from mounts import read_only_view

from batchtui.core.api.models import Batch
from batchtui.core.cache.llm_logs import LogSource, import_rows
from batchtui.core.cache.sql import EXAMPLE_QUERIES, ReadOnlyQueryError, run_readonly_query, stream_readonly_query
from batchtui.core.cache.store import SCHEMA_VERSION, Cache, CacheError, ReadOnlyCacheError
from batchtui.core.results.index import ResultFiles

T0 = 1_760_000_000


def batch(batch_id: str, took: int) -> Batch:
    return Batch.from_dict({
        "id": batch_id, "object": "batch", "endpoint": "/v1/chat/completions", "input_file_id": f"file-in-{batch_id}",
        "completion_window": "24h", "status": "completed", "created_at": T0, "completed_at": T0 + took,
        "output_file_id": f"file-out-{batch_id}", "request_counts": {"total": 3, "completed": 3, "failed": 0}})


def line(record: dict) -> bytes:
    return orjson.dumps(record) + b"\n"


@pytest.fixture
async def cache_db(tmp_path) -> Path:
    """A cache with two finished batches, one imported into llm_logs (one answer holds an escape sequence)."""
    path = tmp_path / "cache" / "cache.db"
    async with await Cache.open(path) as cache:
        await cache.upsert_batches([batch("batch_fast", 60), batch("batch_slow", 7_260)], observed_at=T0)
    inputs = tmp_path / "in.jsonl"
    inputs.write_bytes(b"".join(line({"custom_id": f"person-{i}", "method": "POST", "url": "/v1/chat/completions",
                                      "body": {"model": "gpt-4o-mini", "temperature": 0.5,
                                               "messages": [{"role": "user", "content": f"q{i}"}]}})
                                for i in range(3)))
    outputs = tmp_path / "out.jsonl"
    outputs.write_bytes(b"".join(line({
        "id": f"batch_req_{i}", "custom_id": f"person-{i}", "error": None,
        "response": {"status_code": 200, "request_id": f"req_{i}", "body": {
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"message": {"role": "assistant", "content": f"\x1b[31mno refund {i}"}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}}}) for i in range(3)))
    import_rows(path, LogSource(batch("batch_fast", 60), ResultFiles(input=inputs, output=outputs)))
    return path


def snapshot(db: Path) -> dict[str, bytes]:
    """Every file beside the database and the WAL's content, byte for byte. SQLite may create an empty WAL (and the
    shared-memory index) to read a WAL database: neither holds data."""
    return {p.name: p.read_bytes() for p in sorted(db.parent.iterdir())
            if p.is_file() and not p.name.endswith("-shm") and not (p.name.endswith("-wal") and not p.stat().st_size)}


def test_the_issues_query_and_the_examples_run(cache_db):
    found = run_readonly_query(cache_db, "SELECT metadata -> 'batch' ->> 'custom_id', request -> 'body' ->> "
                                         "'temperature' FROM llm_logs WHERE metadata -> 'batch' ->> 'custom_id' "
                                         "LIKE 'person%'")
    assert found.columns == ["metadata -> 'batch' ->> 'custom_id'", "request -> 'body' ->> 'temperature'"]
    assert sorted(found.rows) == [("person-0", 0.5), ("person-1", 0.5), ("person-2", 0.5)]
    assert not found.truncated
    results = {title: run_readonly_query(cache_db, sql) for title, sql in EXAMPLE_QUERIES}
    assert len(results) == len(EXAMPLE_QUERIES) >= 5
    slowest = results["Slowest batches (completed_at - created_at)"]
    assert [(row[0], row[4], row[5]) for row in slowest.rows] == [("batch_slow", 7_260, "2:01:00"),
                                                                   ("batch_fast", 60, "0:01:00")]
    answers = results["Answers that mention a word ('refund')"]
    assert sorted(row[2] for row in answers.rows) == [f"\x1b[31mno refund {i}" for i in range(3)]  # as stored
    assert results["Failed requests with their prompts"].rows == []
    tokens = results["Token use and cost by model"]
    assert tokens.rows[0][:5] == ("gpt-4o-mini-2024-07-18", 3, 30, 15, 45)
    assert "person%" in EXAMPLE_QUERIES[0][1]


def test_expression_indexes_serve_the_json_operators(cache_db):
    plan = run_readonly_query(cache_db, "EXPLAIN QUERY PLAN SELECT id FROM llm_logs "
                                        "WHERE metadata -> 'batch' ->> 'custom_id' = 'person-1'")
    assert "USING INDEX llm_log_rows_by_custom_id" in " ".join(str(row[-1]) for row in plan.rows)
    plan = run_readonly_query(cache_db, "EXPLAIN QUERY PLAN SELECT count(*) FROM llm_logs "
                                        "WHERE metadata -> 'batch' ->> 'batch_id' = 'batch_x'")
    assert "llm_log_rows_by_batch_id" in " ".join(str(row[-1]) for row in plan.rows)


def test_limit_reads_and_reading_pragmas(cache_db):
    limited = run_readonly_query(cache_db, "SELECT id FROM llm_logs ORDER BY id", limit=2)
    assert limited.rows == [(1,), (2,)] and limited.truncated
    assert run_readonly_query(cache_db, "SELECT id FROM llm_logs", limit=3).truncated is False
    info = run_readonly_query(cache_db, "PRAGMA table_info(llm_logs)")
    assert [row[1] for row in info.rows] == ["id", "request", "response", "metadata", "created_at", "updated_at"]
    assert run_readonly_query(cache_db, "select * from pragma_table_info('llm_logs')").rows == info.rows
    assert run_readonly_query(cache_db, "PRAGMA user_version").rows == [(6,)]
    assert run_readonly_query(cache_db, "-- counting\nWITH t AS (SELECT 1) SELECT count(*) FROM json_each('[1,2]')"
                              ).rows == [(2,)]
    with stream_readonly_query(cache_db, "VALUES (1, x'00ff'), (NULL, 'a')") as (columns, rows):
        assert columns == ["column1", "column2"] and list(rows) == [(1, b"\x00\xff"), (None, "a")]


REFUSED = [
    ("DELETE FROM llm_logs", "DELETE"),
    ("delete from llm_log_rows where id = 1", "DELETE"),
    ("INSERT INTO meta VALUES ('k', 'v')", "INSERT"),
    ("REPLACE INTO meta VALUES ('k', 'v')", "REPLACE"),
    ("UPDATE batches SET status = 'failed'", "UPDATE"),
    ("DROP TABLE batches", "DROP"),
    ("DROP VIEW llm_logs", "DROP"),
    ("CREATE TABLE x (a)", "CREATE"),
    ("CREATE TEMP TABLE x (a)", "CREATE"),
    ("ALTER TABLE batches ADD COLUMN x", "ALTER"),
    ("ATTACH DATABASE '{dir}/other.db' AS other", "ATTACH"),
    ("DETACH DATABASE main", "DETACH"),
    ("VACUUM", "VACUUM"),
    ("VACUUM INTO '{dir}/copy.db'", "VACUUM"),
    ("REINDEX", "REINDEX"),
    ("ANALYZE", "ANALYZE"),
    ("BEGIN", "BEGIN"),
    ("PRAGMA user_version = 99", "PRAGMA user_version"),
    ("PRAGMA query_only = OFF", "PRAGMA query_only"),
    ("PRAGMA journal_mode = DELETE", "PRAGMA journal_mode"),
    ("PRAGMA writable_schema = ON", "PRAGMA writable_schema"),
    ("PRAGMA wal_checkpoint(TRUNCATE)", "PRAGMA wal_checkpoint"),
    ("  /* sneaky */ -- comment\n  DELETE FROM batches", "DELETE"),
    ("WITH doomed AS (SELECT id FROM batches) DELETE FROM batches WHERE id IN doomed", "DELETE"),
    ("WITH x AS (SELECT 1) INSERT INTO meta SELECT 'k', 'v' FROM x", "INSERT"),
    ("EXPLAIN DELETE FROM batches", "DELETE"),
    ("SELECT 1; DELETE FROM batches", "one statement"),
]


@pytest.mark.parametrize(("statement", "named"), REFUSED)
def test_writes_are_refused_and_the_cache_stays_byte_identical(cache_db, statement, named):
    before = snapshot(cache_db)
    with pytest.raises(ReadOnlyQueryError) as info:
        run_readonly_query(cache_db, statement.format(dir=cache_db.parent))
    message = str(info.value)
    assert named in message and "\n" not in message
    assert snapshot(cache_db) == before
    assert run_readonly_query(cache_db, "SELECT count(*) FROM llm_logs").rows == [(3,)]


def test_bad_sql_gives_sqlites_own_words(cache_db):
    for statement, words in [("SELEC 1", 'near "SELEC": syntax error'), ("SELECT nope FROM llm_logs",
                                                                          "no such column: nope"),
                             ("SELECT * FROM no_table", "no such table: no_table"), ("", "empty query"),
                             ("SELECT json_extract('{', '$')", "malformed JSON")]:
        with pytest.raises(ReadOnlyQueryError, match=words):
            run_readonly_query(cache_db, statement)


def test_a_long_query_can_be_interrupted(cache_db):
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    with pytest.raises(ReadOnlyQueryError, match="query interrupted"):
        run_readonly_query(cache_db, endless, cancelled=lambda: True)


def test_a_missing_database_is_an_error_not_a_new_file(tmp_path):
    missing = tmp_path / "nothing.db"
    with pytest.raises(ReadOnlyQueryError, match="no such database"):
        run_readonly_query(missing, "SELECT 1")
    assert not missing.exists()


async def test_refused_while_the_app_holds_the_cache_open(cache_db):
    async with await Cache.open(cache_db) as cache:
        await cache.set_meta("last_sync", "1")  # the app's write sits in the WAL, not yet checkpointed
        before = snapshot(cache_db)
        assert before["cache.db-wal"]
        for statement in ("WITH x AS (SELECT 1) DELETE FROM meta", "PRAGMA wal_checkpoint(TRUNCATE)", "VACUUM"):
            with pytest.raises(ReadOnlyQueryError, match="refused"):
                run_readonly_query(cache_db, statement)
        assert run_readonly_query(cache_db, "SELECT value FROM meta WHERE key = 'last_sync'").rows == [("1",)]
        assert snapshot(cache_db) == before


def test_a_damaged_page_is_one_line_naming_the_file(cache_db):
    assert not cache_db.with_name("cache.db-wal").exists()  # every write is in the file itself
    damage_llm_log_rows(cache_db)
    assert run_readonly_query(cache_db, "SELECT count(*) FROM batches").rows == [(2,)]
    for query in ("SELECT sum(length(request)) FROM llm_logs", "SELECT * FROM llm_logs"):
        with pytest.raises(CacheError) as info:
            run_readonly_query(cache_db, query)
        assert str(info.value) == (f"{cache_db}: the cache file is damaged (database disk image is malformed); "
                                   "move it aside and batchtui starts a new one, filled from the API")


async def test_a_read_only_cache_is_read_as_it_is(cache_db, tmp_path):
    """On a read-only file system (root writes through file permissions, not through a read-only mount) a query
    reads the cache as it is, though SQLite cannot make the WAL's shared-memory file beside it."""
    with read_only_view(cache_db.parent, tmp_path / "view") as view:
        db = view / "cache.db"
        with pytest.raises(ReadOnlyCacheError) as info:
            await Cache.open(db)
        assert str(info.value) == f"{db}: cannot write the cache (Read-only file system)"
        found = run_readonly_query(db, "SELECT metadata -> 'batch' ->> 'custom_id' FROM llm_logs ORDER BY 1")
        assert found.rows == [("person-0",), ("person-1",), ("person-2",)]
        assert sorted(p.name for p in view.iterdir()) == ["cache.db"]


async def test_a_read_only_cache_that_needs_an_upgrade_says_so(cache_db, tmp_path):
    with contextlib.closing(sqlite3.connect(cache_db)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    with read_only_view(cache_db.parent, tmp_path / "view") as view:
        db = view / "cache.db"
        with pytest.raises(ReadOnlyQueryError) as info:
            run_readonly_query(db, "SELECT count(*) FROM llm_logs")
        assert str(info.value) == (f"{db}: the cache was made by an older batchtui (schema {SCHEMA_VERSION - 1}, "
                                   f"now {SCHEMA_VERSION}) and cannot be upgraded here (Read-only file system)")


def test_an_endless_query_stops_at_the_limit(cache_db):
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i, printf('%.500c', 'x') FROM n"
    found = run_readonly_query(cache_db, endless, limit=10_000)
    assert len(found.rows) == 10_000 and found.truncated and found.rows[-1][0] == 10_000


async def test_a_read_only_cache_whose_wal_holds_writes_says_why_it_cannot_be_read(cache_db, tmp_path):
    """A copy taken while the app was writing: its WAL holds rows that reading the file alone would miss."""
    copy = tmp_path / "copy"
    copy.mkdir()
    async with await Cache.open(cache_db) as cache:
        await cache.set_meta("last_sync", "1")
        for name in ("cache.db", "cache.db-wal"):
            shutil.copy(cache_db.with_name(name), copy / name)
    with read_only_view(copy, tmp_path / "view") as view:
        with pytest.raises(ReadOnlyQueryError) as info:
            run_readonly_query(view / "cache.db", "SELECT value FROM meta")
        assert str(info.value) == (f"{view / 'cache.db'}: cannot read the cache (Read-only file system, and its WAL "
                                   "holds writes that SQLite can only read with a file it must make beside it)")

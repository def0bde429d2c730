"""`batchtui import-batch` and `batchtui sql` as a script runs them, against a sandbox process that fails some
requests."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import resource
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import batchtui
from mounts import read_only_view

from batchtui.core.cache.store import SCHEMA_VERSION, Cache
from batchtui.core.config import resolve_profile

ISSUE_QUERY = (
    "SELECT metadata -> 'batch' ->> 'custom_id', request -> 'body' ->> 'temperature' FROM llm_logs "
    "WHERE metadata -> 'batch' ->> 'custom_id' LIKE 'person%'"
)


@pytest.fixture
def env(failing_cli_env) -> dict[str, str]:
    return failing_cli_env


def people(path: Path, count: int) -> Path:
    path.write_text("".join(json.dumps({
        "custom_id": f"person-{i}", "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "temperature": 0.7, "messages": [{"role": "user", "content": f"Hi {i}"}]},
    }) + "\n" for i in range(count)))
    return path


def cache_files(home: Path) -> dict[str, bytes]:
    """The cache database and its WAL's content, byte for byte (an empty WAL holds nothing)."""
    (db,) = home.rglob("cache.db")
    return {p.name: p.read_bytes() for p in db.parent.iterdir()
            if p.name == "cache.db" or (p.name == "cache.db-wal" and p.stat().st_size)}


def test_import_a_batch_and_query_it_in_three_formats(env, tmp_path, isolated_home):
    file_id = batchtui("upload-batch-file", str(people(tmp_path / "people.jsonl", 30)), env=env).stdout.strip()
    batch_id = batchtui("start-batch", file_id, env=env).stdout.strip()
    pending = batchtui("sql", "SELECT count(*) AS n, count(response) AS answered FROM llm_logs", "--format", "json",
                       env=env)
    assert json.loads(pending.stdout) == [{"n": 30, "answered": 0}]  # from the moment of upload
    batchtui("get-batch-results", batch_id, "--wait", "--poll-seconds", "1", "-o", str(tmp_path / "raw"), env=env)

    answered = batchtui("sql", "SELECT count(response) AS answered FROM llm_logs", "--format", "json", env=env)
    assert json.loads(answered.stdout) == [{"answered": 30}]  # get-batch-results put what it fetched in llm_logs
    imported = batchtui("import-batch", batch_id, env=env)
    assert imported.stdout == f"{batch_id}: 30 requests, 30 with a response (unchanged)\n"
    again = batchtui("import-batch", "--all", "--since", "2000-01-01", "--json", env=env)
    assert [(r["batch_id"], r["rows"], r["unchanged"]) for r in json.loads(again.stdout)] == [(batch_id, 30, True)]
    assert batchtui("import-batch", "--all", "--since", "2999-01-01", "--json", env=env).stdout.strip() == "[]"

    table = batchtui("sql", ISSUE_QUERY, env=env).stdout.splitlines()
    assert table[0].split() == ["metadata", "->", "'batch'", "->>", "'custom_id'", "request", "->", "'body'", "->>",
                                "'temperature'"]
    assert set(table[1]) == {"-", " "} and table[-1] == "(30 rows)"
    assert sorted(line.split() for line in table[2:-1]) == sorted([f"person-{i}", "0.7"] for i in range(30))

    as_csv = list(csv.reader(io.StringIO(batchtui("sql", ISSUE_QUERY, "--format", "csv", env=env).stdout)))
    assert as_csv[0] == ["metadata -> 'batch' ->> 'custom_id'", "request -> 'body' ->> 'temperature'"]
    assert sorted(as_csv[1:]) == sorted([f"person-{i}", "0.7"] for i in range(30))

    as_json = json.loads(batchtui("sql", "SELECT metadata ->> 'status' AS status, count(*) AS n, "
                                         "sum(response IS NOT NULL) AS answered FROM llm_logs GROUP BY 1 ORDER BY 1",
                                  "--format", "json", env=env).stdout)
    counts = {row["status"]: row["n"] for row in as_json}
    assert set(counts) == {"failed", "ok"} and sum(counts.values()) == 30 and counts["failed"] > 0
    assert all(row["answered"] == row["n"] for row in as_json)

    shown = batchtui("sql", "SELECT 'a' || char(27) || '[31m' || char(10) || 'b' AS odd, NULL AS missing",
                     env=env).stdout.splitlines()
    assert shown[2].split() == ["a\\x1b[31m\\nb", "NULL"] and "\x1b" not in "".join(shown)


def test_sql_refuses_writes_and_leaves_the_cache_as_it_was(env, tmp_path, isolated_home):
    batchtui("upload-batch-file", str(people(tmp_path / "people.jsonl", 3)), env=env)
    before = cache_files(isolated_home)
    for statement, word in [("DELETE FROM llm_logs", "DELETE"), ("DROP TABLE batches", "DROP"),
                            ("WITH x AS (SELECT 1) DELETE FROM batches", "DELETE"),
                            ("PRAGMA user_version = 0", "PRAGMA user_version = 0")]:
        refused = batchtui("sql", statement, env=env, check=False)
        assert refused.returncode == 1 and refused.stdout == ""
        assert refused.stderr.startswith(f"batchtui: {word} is refused") and refused.stderr.count("\n") == 1
    assert cache_files(isolated_home) == before
    bad = batchtui("sql", "SELECT nope FROM batches", env=env, check=False)
    assert (bad.returncode, bad.stderr) == (1, "batchtui: no such column: nope\n")


def test_usage_errors_are_one_line(env, tmp_path):
    for args, words in [(("import-batch",), "name a BATCH_ID or give --all"),
                        (("import-batch", "batch_x", "--all"), "name a BATCH_ID or give --all"),
                        (("import-batch", "batch_x", "--since", "2024-01-01"), "--since goes with --all"),
                        (("import-batch", "--all", "--since", "yesterday"), "expected a day as YYYY-MM-DD"),
                        (("sql", "SELECT 1"), "no cache at")]:
        done = batchtui(*args, env=env, check=False)
        assert done.returncode == 1 and done.stderr.startswith("batchtui: ") and words in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1
    examples = batchtui("sql", "--examples", env=env).stdout
    assert "LIKE 'person%'" in examples and "-- Slowest batches" in examples



async def cache_at(path: Path, *, version: int = SCHEMA_VERSION) -> Path:
    """A closed cache at `path` holding one batch, at schema `version` (an older one stands for an older batchtui's)."""
    async with await Cache.open(path) as cache:
        await cache.set_meta("last_sync", "1")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {version}")
    return path


@pytest.mark.parametrize("version", [SCHEMA_VERSION, SCHEMA_VERSION - 1], ids=["current", "older"])
def test_sql_on_a_read_only_file_system(tmp_path, isolated_home, version):
    """A cache that needs no upgrade is read as it is; one that does says why it cannot have it, naming the file."""
    asyncio.run(cache_at(resolve_profile(None).cache_dir() / "cache.db", version=version))
    with read_only_view(isolated_home, tmp_path / "view") as view:
        env = {**os.environ, "BATCHTUI_HOME": str(view)}
        done = batchtui("sql", "SELECT value FROM meta", "--format", "csv", env=env, check=False)
        if version == SCHEMA_VERSION:
            assert (done.returncode, done.stderr, done.stdout) == (0, "", "value\n1\n")
        else:
            db = view / "cache" / "default" / "cache.db"
            assert (done.returncode, done.stdout) == (1, "")
            assert done.stderr == (f"batchtui: {db}: the cache was made by an older batchtui (schema {version}, now "
                                   f"{SCHEMA_VERSION}) and cannot be upgraded here (Read-only file system)\n")


def test_sql_table_stops_an_endless_query_at_a_row_limit(isolated_home):
    """The table holds its rows to align them: an endless query stops at 10,000 (or --max-rows) and says so; the
    process is held to 1 GiB of address space, so a regression fails here instead of filling the machine."""
    asyncio.run(cache_at(resolve_profile(None).cache_dir() / "cache.db"))
    env = {**os.environ, "BATCHTUI_HOME": str(isolated_home)}
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n"
    for options, shown in [((), 10_000), (("--max-rows", "25"), 25)]:
        done = subprocess.run([sys.executable, "-m", "batchtui", "sql", endless, *options], env=env, text=True,
                              capture_output=True, timeout=120, preexec_fn=_one_gib)
        lines = done.stdout.splitlines()
        assert done.returncode == 0 and lines[-1] == f"({shown:,} rows)" and lines[-2].strip() == str(shown)
        assert done.stderr == f"batchtui: stopped after {shown:,} rows; --max-rows N shows more (0: all)\n"


def _one_gib() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def test_sql_writes_reals_in_plain_decimals(isolated_home):
    """A small cost in CSV or the table reads 0.00000945, never 9.45e-06, with all its digits; REALs still align
    right in the table as numbers."""
    asyncio.run(cache_at(resolve_profile(None).cache_dir() / "cache.db"))
    env = {**os.environ, "BATCHTUI_HOME": str(isolated_home)}
    query = "SELECT 9.45e-06 AS cost, 1e21 AS big, -0.000123456789012345 AS neg, 2.0 AS two, 'x' AS name"
    done = batchtui("sql", query, "--format", "csv", env=env)
    assert done.stdout == "cost,big,neg,two,name\n0.00000945,1000000000000000000000,-0.000123456789012345,2.0,x\n"
    table = batchtui("sql", "SELECT 9.45e-06 AS cost UNION ALL SELECT 12.5", env=env).stdout.splitlines()
    assert table[2:] == ["0.00000945", "      12.5", "(2 rows)"]

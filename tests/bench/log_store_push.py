"""Log store push: 50,000 llm_logs rows (requests with responses) from a cache into the team's PostgreSQL store.

The rows are those batchtui's import writes for a classification-sized chat batch (a sentence or two in, a sentence
out, usage and cost in the metadata; 2% errors): the batch's files are generated, imported into a cache once, and
pushed from there. PostgreSQL is a real server started from the `pgserver` wheel, on a unix socket.

Timed, each round in fresh databases of the same server: LogStore.push of the batch into an empty store (schema,
COPY into a temporary table, one upsert with the jsonb/timestamptz casts, three indexes); the same push again
(every row an upsert of an existing one); and the baseline, a bare COPY of the same rows (the same 7 text columns,
read from the cache the same way) into a plain unindexed table. Reading the rows from the cache alone is shown too.
The target is a push within 2x of the bare COPY. Sizes: the store's llm_logs (pg_total_relation_size, indexes and
TOAST included) after each push, the bare table's, and the cache file's.
Run: .venv/bin/python tests/bench/log_store_push.py [--requests 50000] [--rounds 3] [--dir DIR (files kept and
     reused)] [--db-dir DIR (where the cache and the server's data go, e.g. /dev/shm to leave the disk out)]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pgserver
import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from import_batch import batch_of, fresh_cache  # noqa: E402
from result_files import result_files_in  # noqa: E402

from batchtui.core.cache.llm_logs import LogSource, import_rows  # noqa: E402
from batchtui.core.config import LogStoreSettings  # noqa: E402
from batchtui.core.logstore import CHUNK_ROWS, LogStore  # noqa: E402

COLUMNS = "batch_id, custom_id, request, response, metadata, created_at, updated_at"


def read_rows(cache: Path, batch_id: str, sink: Callable[[list[tuple]], None] = lambda chunk: None) -> int:
    """The batch's rows read from the cache in the push's chunks, each handed to `sink`."""
    conn = sqlite3.connect(cache)
    try:
        rows = conn.execute(f"SELECT {COLUMNS} FROM llm_log_rows WHERE batch_id = ? ORDER BY id", (batch_id,))
        count = 0
        while chunk := rows.fetchmany(CHUNK_ROWS):
            sink(chunk)
            count += len(chunk)
        return count
    finally:
        conn.close()


def bare_copy(url: str, cache: Path, batch_id: str) -> int:
    """The baseline: the same rows, read the same way, in one COPY as text into a plain table, one transaction."""
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute("CREATE TABLE plain (batch_id text, custom_id text, request text, response text, "
                     "metadata text, created_at text, updated_at text)")
        with conn.cursor().copy("COPY plain FROM STDIN") as copy:

            def copy_chunk(chunk: list[tuple]) -> None:
                for row in chunk:
                    copy.write_row(row)

            return read_rows(cache, batch_id, copy_chunk)


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def size_of(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT pg_total_relation_size(%s)", (table,)).fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="write the batch's files here and keep them (reused when present)")
    parser.add_argument("--db-dir", type=Path, help="put the cache and the server here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, tempfile.TemporaryDirectory(dir=args.db_dir) as dbs:
        folder = args.dir or Path(scratch) / "batch"
        files = result_files_in(folder.with_name(folder.name + "-short"), args.requests, short=True)
        cache = fresh_cache(Path(dbs) / "cache.db")
        batch_id = import_rows(cache, LogSource(batch_of(args.requests), files)).batch_id
        reader = sqlite3.connect(cache)
        rows, request, response, metadata = reader.execute(
            "SELECT count(*), avg(length(request)), avg(length(response)), avg(length(metadata)) "
            "FROM llm_log_rows").fetchone()
        reader.close()
        cache_mb = cache.stat().st_size / 1e6

        server = pgserver.get_server(Path(dbs) / "pg", cleanup_mode="stop")
        try:
            times: dict[str, list[float]] = {"read": [], "copy": [], "push": [], "again": []}
            for n in range(args.rounds):
                for name in (f"copy_{n}", f"push_{n}"):
                    server.psql(f"CREATE DATABASE {name};")
                copy_url, push_url = server.get_uri(f"copy_{n}"), server.get_uri(f"push_{n}")
                times["read"].append(timed(lambda: read_rows(cache, batch_id)))
                times["copy"].append(timed(lambda u=copy_url: bare_copy(u, cache, batch_id)))
                store = LogStore(LogStoreSettings(url=push_url), cache, "bench")
                times["push"].append(timed(lambda s=store: s.push([batch_id])))
                store_mb = size_of(push_url, "llm_logs") / 1e6
                times["again"].append(timed(lambda s=store: s.push([batch_id])))
            again_mb = size_of(push_url, "llm_logs") / 1e6
            plain_mb = size_of(copy_url, "plain") / 1e6
            with psycopg.connect(push_url) as conn:
                stored = conn.execute("SELECT count(*), count(response) FROM llm_logs").fetchone()
        finally:
            server.cleanup()

    print(f"\n{rows:,} rows (average request {request:.0f} B, response {response:.0f} B, metadata {metadata:.0f} B); "
          f"store has {stored[0]:,} rows ({stored[1]:,} with a response); {args.rounds} rounds, fresh databases each\n")
    print("| step | min s | median s | rows/s (min) | x bare COPY (min) | x bare COPY (median) |")
    print("|---|---:|---:|---:|---:|---:|")
    copy_min, copy_median = min(times["copy"]), statistics.median(times["copy"])
    for key, name in (("read", "read the rows from the cache alone"),
                      ("copy", "bare COPY of the same rows, plain text table (baseline)"),
                      ("push", "LogStore.push into an empty store"),
                      ("again", "LogStore.push again (every row upserted over itself)")):
        low, median = min(times[key]), statistics.median(times[key])
        print(f"| {name} | {low:.3f} | {median:.3f} | {rows / low:,.0f} | {low / copy_min:.2f} | "
              f"{median / copy_median:.2f} |")
    print(f"\nsizes: store llm_logs {store_mb:.0f} MB after the first push (indexes and TOAST included), "
          f"{again_mb:.0f} MB after the second (the old row versions, until vacuum); bare table {plain_mb:.0f} MB; "
          f"cache file {cache_mb:.0f} MB")


if __name__ == "__main__":
    main()

"""llm_logs import: a 50,000-request chat batch (~100 MB in, ~200 MB out, 2% errors) into the cache, and queries.

Also a classification-sized batch of as many requests (a sentence in, a sentence out), to show the cost per byte.

Baselines in the same run: a raw read of the three files, building the result index alone, and a plain
`executemany` of the very rows the import wrote into a bare table (no upsert, no indexes) of a fresh database
with the cache's settings. Nothing is asserted; the goal is "a few seconds" for the import.
Run: .venv/bin/python tests/bench/import_batch.py [--requests 50000] [--dir DIR (files kept and reused)]
     [--db-dir DIR (where the databases go, e.g. /dev/shm to leave the disk out)]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from batchtui.core.api.models import Batch

sys.path.insert(0, str(Path(__file__).parent))
from result_files import result_files_in  # noqa: E402
from timing import best, raw_read  # noqa: E402

from batchtui.core.cache.llm_logs import LogSource, import_rows  # noqa: E402
from batchtui.core.cache.sql import run_readonly_query  # noqa: E402
from batchtui.core.cache.store import PAGE_SIZE, Cache  # noqa: E402
from batchtui.core.results.index import ResultFiles, build_index  # noqa: E402

COLUMNS = "batch_id, custom_id, created_at, updated_at, metadata, request, response"


def batch_of(n: int) -> Batch:
    return Batch(id="batch_bench", object="batch", endpoint="/v1/chat/completions", input_file_id="file-in",
                 completion_window="24h", status="completed", created_at=1_750_000_000, output_file_id="file-out",
                 error_file_id="file-err", request_counts={"total": n, "completed": n, "failed": 0})


def fresh_cache(path: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)

    async def make() -> None:
        await (await Cache.open(path)).close()

    asyncio.run(make())
    return path


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def plain_executemany(rows: list[tuple], path: Path) -> None:
    """The baseline: the same rows into a bare table, one transaction, the cache's journal settings."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(f"CREATE TABLE rows ({COLUMNS})")
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(f"INSERT INTO rows ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--dir", type=Path, help="write the files here and keep them (reused when present)")
    parser.add_argument("--db-dir", type=Path, help="put the databases here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, tempfile.TemporaryDirectory(dir=args.db_dir) as dbs:
        folder = args.dir or Path(scratch) / "batch"
        files = result_files_in(folder, args.requests)
        short_files = result_files_in(folder.with_name(folder.name + "-short"), args.requests, short=True)
        names = [p for p in (files.input, files.output, files.errors) if p is not None]
        sizes = [p.stat().st_size / 1e6 for p in names]
        raw_read(names)  # warm the page cache
        source = LogSource(batch_of(args.requests), files)
        db = Path(dbs) / "cache.db"

        raw = best(3, lambda: raw_read(names))
        index_only = best(3, lambda: build_index(files).close())
        runs = [timed(lambda: import_rows(fresh_cache(db), source)) for _ in range(2)]
        first, result = min(seconds for seconds, _ in runs), runs[-1][1]
        skip, _ = timed(lambda: import_rows(db, source))
        again, forced = timed(lambda: import_rows(db, source, force=True))
        reader = sqlite3.connect(db)
        rows = reader.execute(f"SELECT {COLUMNS} FROM llm_log_rows").fetchall()
        reader.close()
        plain = best(2, lambda: plain_executemany(rows, Path(dbs) / "plain.db"))
        db_mb = sum(Path(f"{db}{s}").stat().st_size for s in ("", "-wal") if Path(f"{db}{s}").exists()) / 1e6
        short_source = LogSource(batch_of(args.requests), short_files)
        short = min(timed(lambda: import_rows(fresh_cache(Path(dbs) / "short.db"), short_source))[0]
                    for _ in range(2))
        short_mb = sum(p.stat().st_size for p in short_files.paths() if p is not None) / 1e6
        input_only = best(2, lambda: import_rows(fresh_cache(Path(dbs) / "input.db"),
                                                 LogSource(batch_of(args.requests), ResultFiles(input=files.input))))
        queries = [
            ("query: the issue's LIKE 'person%' (scan)",
             "SELECT metadata -> 'batch' ->> 'custom_id', request -> 'body' ->> 'temperature' FROM llm_logs "
             "WHERE metadata -> 'batch' ->> 'custom_id' LIKE 'person%'"),
            ("query: custom_id = 'review-4242' (expression index)",
             "SELECT id FROM llm_logs WHERE metadata -> 'batch' ->> 'custom_id' = 'review-4242'"),
            ("query: token use by model (scan, 50,000 rows)",
             "SELECT metadata ->> 'model', sum(metadata -> 'usage' ->> 'total_tokens') FROM llm_logs GROUP BY 1"),
        ]
        query_rows = [(name, best(3, lambda q=q: run_readonly_query(db, q))) for name, q in queries]

    print(f"\nfiles: input {sizes[0]:.0f} MB, output {sizes[1]:.0f} MB, errors {sizes[2]:.1f} MB, "
          f"{args.requests:,} requests; imported {result.rows:,} rows ({result.with_response:,} with a response), "
          f"database {db_mb:.0f} MB; forced re-import wrote {forced.changed} rows\n")
    print("| step | seconds | x plain executemany |\n|---|---:|---:|")
    table = [
        ("raw read of the files, 1 MB chunks (baseline)", raw),
        ("result index build alone (baseline)", index_only),
        ("plain executemany of the same rows, bare table (baseline)", plain),
        ("import into llm_logs (index, parse, price, upsert, 2 JSON indexes; best of 2)", first),
        ("re-import, batch unchanged (signature check only)", skip),
        ("re-import forced, content unchanged (nothing written)", again),
        ("import of the input file alone (start_batch from an upload)", input_only),
        (f"import of {args.requests:,} short requests ({short_mb:.0f} MB of files: a sentence in, a sentence out)",
         short),
        *query_rows,
    ]
    for name, seconds in table:
        print(f"| {name} | {seconds:.3f} | {seconds / plain:.2f} |")


if __name__ == "__main__":
    main()

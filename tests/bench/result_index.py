"""Result index: build and re-open times for a 50,000-request chat batch (~100 MB in, ~200 MB out, 2% errors).

Baselines in the same run make the numbers comparable on a noisy machine: a raw read of the three files
(1 MB chunks to /dev/null, page cache warm) and json.loads / orjson.loads of every line. Nothing is asserted.
Goals: build <= 1.5 s and <= 5x the raw read. Memory is measured in a child process, so baselines don't count.
Run: .venv/bin/python tests/bench/result_index.py [--requests 50000] [--dir DIR (files kept and reused)]
"""

from __future__ import annotations

import argparse
import json
import mmap
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from result_files import result_files_in  # noqa: E402
from timing import best, raw_read  # noqa: E402

from batchtui.core.results.index import ResultFiles, build_index  # noqa: E402


def paths_of(files: ResultFiles) -> list[Path]:
    return [p for p in (files.input, files.output, files.errors) if p is not None]




def parse_all(loads: Callable[[bytes], object], files: ResultFiles) -> int:
    parsed = []
    for path in paths_of(files):
        with open(path, "rb") as fh:
            parsed.extend(loads(line) for line in fh if line.strip())
    return len(parsed)




def first_rows(files: ResultFiles) -> float:
    """Seconds until the first on_rows call, when a viewer can paint."""
    t0 = time.perf_counter()
    seen: list[float] = []
    build_index(files, on_rows=lambda _: seen.append(time.perf_counter() - t0) if not seen else None).close()
    return seen[0]


def line_floor(files: ResultFiles) -> None:
    """The least a pure-Python scan does a line: find its newline and try one anchored regex at its start."""
    head = re.compile(rb'\{"[^"]*"')
    for path in paths_of(files):
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            pos, find, match = 0, buf.find, head.match
            while (end := find(b"\n", pos)) >= 0:
                match(buf, pos, end)
                pos = end + 1


def memory(files: ResultFiles) -> dict[str, float]:
    """Peak RSS growth (mapped file pages included), anonymous memory growth and Python heap peak of a build."""
    def status_kb(field: str) -> int:
        status = Path("/proc/self/status").read_text()
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith(field + ":"))

    rss0, anon0 = status_kb("VmHWM"), status_kb("RssAnon")
    index = build_index(files)
    anon, rss = status_kb("RssAnon") - anon0, status_kb("VmHWM") - rss0
    index.close()
    tracemalloc.start()
    build_index(files).close()
    peak = tracemalloc.get_traced_memory()[1]
    return {"rss": rss / 1024, "anon": anon / 1024, "heap": peak / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--dir", type=Path, help="write the files here and keep them (reused when present)")
    parser.add_argument("--memory-of", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_of:
        files = ResultFiles(*(args.memory_of / n for n in ("input.jsonl", "output.jsonl", "errors.jsonl")))
        print(json.dumps(memory(files)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.dir or Path(scratch) / "batch"
        files = result_files_in(folder, args.requests)
        sizes = [p.stat().st_size / 1e6 for p in paths_of(files)]
        store = Path(scratch) / "store"
        raw_read(paths_of(files))  # warm the page cache

        raw = best(3, lambda: raw_read(paths_of(files)))
        rows = [
            ("raw read, 1 MB chunks to /dev/null", raw),
            ("json.loads of every line (baseline)", best(1, lambda: parse_all(json.loads, files))),
            ("orjson.loads of every line (baseline)", best(1, lambda: parse_all(orjson.loads, files))),
            ("baseline: a Python loop, find + 1 regex match a line", best(3, lambda: line_floor(files))),
            ("index build, no store", best(3, lambda: build_index(files).close())),
            ("first rows shown (first on_rows call)", first_rows(files)),
            ("index build + store write", best(1, lambda: build_index(files, store_dir=store).close())),
            ("index re-open from store", best(5, lambda: build_index(files, store_dir=store).close())),
        ]
        child = subprocess.run([sys.executable, __file__, "--memory-of", str(folder)], capture_output=True, check=True)
        mem = json.loads(child.stdout)

    print(f"\nfiles: input {sizes[0]:.0f} MB, output {sizes[1]:.0f} MB, errors {sizes[2]:.1f} MB, "
          f"{args.requests:,} requests\n")
    print("| step | seconds | x raw read |\n|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} | {seconds / raw:.1f} |")
    print(f"\nmemory of a build: peak RSS +{mem['rss']:.0f} MB (mapped file pages included), "
          f"anonymous +{mem['anon']:.1f} MB, Python heap peak {mem['heap']:.1f} MB")


if __name__ == "__main__":
    main()

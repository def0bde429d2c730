"""Planning a 1,000,000-row job: plan_job cuts a chat-completions JSONL into 20 parts of 50,000, writes and
validates each, and looks for custom_ids used in two parts. Time and peak memory, at 250k, 500k and 1M rows.

Each run is a child process of its own, so its peak RSS (ru_maxrss of that child, from os.wait4) is its alone.
Baselines in the same run: a child that only imports what planning imports (the floor of RSS), a raw read of the
1M file (1 MB chunks, page cache warm), and validate_file over the whole 1M file in one pass (limits raised):
the checks planning makes, without the copy, the parts and the cross-part ids. Nothing is asserted.
Goal: 1M rows planned in under a minute, peak RSS the same at 250k, 500k and 1M rows.
Run: .venv/bin/python tests/bench/job_plan.py [--sizes 250000 500000 1000000] [--dir DIR (files kept and reused)]
     [--model gpt-4o-mini]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from timing import raw_read  # noqa: E402

from batchtui.core.jobs.plan import JobOptions, JobSource, plan_job  # noqa: E402

SYSTEM = "You label support tickets. Answer with one word: billing, shipping, account, bug or other."
OPENINGS = ["Hi,", "Hello team,", "Urgent:", "Quick question:", "Dear support,", ""]
TICKET = ("my order never arrived and the tracking page still says pending since last week although I paid for "
          "express shipping and the invoice shows a second charge for the same item which I did not make please "
          "refund it or tell me why the app logs me out every time I open the settings page on my phone")
WORDS = TICKET.split()


def make_file(path: Path, rows: int, model: str) -> None:
    """A realistic job input: one model, unique custom_ids, a system prompt and a ticket of 15-60 words per line
    (about 300-600 bytes a line)."""
    rng = random.Random(rows)
    with path.open("wb", buffering=1 << 20) as out:
        for i in range(rows):
            ticket = " ".join([rng.choice(OPENINGS), *rng.choices(WORDS, k=rng.randint(15, 60))]).strip()
            body = {
                "model": model,
                "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": ticket}],
                "max_completion_tokens": 5,
                "temperature": 0,
            }
            request = {"custom_id": f"ticket-{i:07d}", "method": "POST", "url": "/v1/chat/completions", "body": body}
            out.write(orjson.dumps(request, option=orjson.OPT_APPEND_NEWLINE))


def child(what: str, path: Path, scratch: Path) -> None:
    """One measured run, in its own process: prints its wall time (and what it found) as one JSON line. "idle" does
    nothing: its peak RSS is that of the interpreter and the imports alone."""
    t0 = time.perf_counter()
    found: dict[str, Any] = {}
    kept: Path | None = None
    if what == "plan":
        plan = plan_job(JobSource(jsonl=path), JobOptions(), scratch)
        assert plan.job is not None, [p.describe(path) for p in plan.report.problems[:3]]
        kept = Path(plan.job.folder)
        found = {"parts": len(plan.parts), "requests": plan.report.requests, "tokens": plan.report.token_method}
    elif what == "validate":
        from batchtui.core.authoring.validate import validate_file

        report = validate_file(path, max_lines=10**9, max_bytes=1 << 40, max_embedding_inputs=10**9)
        assert report.ok, [p.describe(path) for p in report.problems[:3]]
        found = {"requests": report.requests}
    elif what == "read":
        raw_read([path])
    seconds = time.perf_counter() - t0
    if kept is not None:
        shutil.rmtree(kept)  # the job's folder, once timed
    print(orjson.dumps({"seconds": seconds, **found}).decode())


def measure(what: str, path: Path, scratch: Path) -> tuple[dict[str, Any], float]:
    """Run `what` in a child; its JSON line and its peak RSS in MiB."""
    proc = subprocess.Popen([sys.executable, __file__, "--child", what, str(path), str(scratch)],
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"the {what} child of {path.name} failed ({proc.returncode})")
    return orjson.loads(out), usage.ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 500_000, 1_000_000])
    parser.add_argument("--dir", type=Path, help="write the files here and keep them (reused when present)")
    parser.add_argument("--model", default="gpt-4o-mini", help="the requests' model: its encoding counts the tokens "
                        "when tiktoken has it cached, else the approximation does")
    parser.add_argument("--child", nargs=3, metavar=("WHAT", "PATH", "SCRATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for rows in sorted(args.sizes):
            files[rows] = path = folder / f"job-{args.model}-{rows}.jsonl"
            if not path.exists():
                t0 = time.perf_counter()
                make_file(path, rows, args.model)
                print(f"generated {rows:,} rows ({path.stat().st_size / 2**20:.0f} MiB) in "
                      f"{time.perf_counter() - t0:.1f} s")
        sizes_of = {rows: path.stat().st_size for rows, path in files.items()}
        largest = files[max(files)]
        raw_read([largest])  # warm the page cache
        jobs = Path(scratch) / "jobs"
        idle = measure("idle", largest, jobs)
        read = measure("read", largest, jobs)
        validated = measure("validate", largest, jobs)
        plans = {rows: measure("plan", path, jobs) for rows, path in files.items()}

    base = validated[0]["seconds"]
    sizes = ", ".join(f"{rows:,} rows {size / 2**20:.0f} MiB" for rows, size in sizes_of.items())
    print(f"\nchat-completions JSONL, one model: {sizes}; tokens: {plans[max(files)][0]['tokens']}\n")
    print("| run | rows | parts | seconds | x validate baseline | peak RSS MiB |\n|---|---:|---:|---:|---:|---:|")
    print(f"| imports only (RSS floor) | | | | | {idle[1]:.0f} |")
    for name, (found, rss) in (("raw read, 1 MB chunks", read),
                               ("validate_file, one pass, limits raised (baseline)", validated)):
        print(f"| {name} | {max(files):,} | | {found['seconds']:.2f} | {found['seconds'] / base:.2f} | {rss:.0f} |")
    for rows, (found, rss) in plans.items():
        print(f"| **plan_job** | {rows:,} | {found['parts']} | **{found['seconds']:.2f}** | "
              f"{found['seconds'] / base:.2f} | **{rss:.0f}** |")


if __name__ == "__main__":
    main()

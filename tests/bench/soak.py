"""Soak: the real app polling an account of 10,000 batches with 50 active ones, for minutes on end.

A sandbox in its own process holds the account, written straight into its store: finished batches in
every terminal status and, spread evenly through them, active ones that gain a line every couple of
seconds (a slow clock), so every pass sees changes. BatchtuiApp runs headless in this process on an empty
cache and polls every `--interval` seconds. For each pass it records the API calls by route (the
sandbox's request counter), the active batches the app then shows, the process's RSS, pymalloc blocks and
GC-tracked objects, and the CPU time spent during the pass, in the second after it (repaint and pricing)
and in the rest of the wait ("idle"). The first pass lists the whole account and is shown apart.
Run: .venv/bin/python tests/bench/soak.py [--minutes 10] [--interval 5] [--batches 10000] [--active 50]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from batchtui.core.api.sync import ACTIVE_POLL_SECONDS, PollSchedule
from batchtui.core.config import Profile
from batchtui.core.domain import ACTIVE_STATUSES
from batchtui.sandbox import ids
from batchtui.sandbox.store import BatchRecord, FileRecord, Plan, Progress, Store
from batchtui.tui import app as app_module
from batchtui.tui.app import BatchtuiApp

TERMINAL = ("completed",) * 14 + ("failed", "expired", "cancelled")
TOPICS = ("review sentiment", "support triage", "product summaries", "eval nightly", "embeddings backfill")
SECONDS_PER_LINE = 2.0  # simulated at speed 1: an active batch gains 2-3 lines in a 5 s poll
AFTERMATH_SECONDS = 1.0


def seed_account(root: Path, count: int, active: int, minutes: float) -> None:
    """Write `count` batches, oldest first, into a sandbox store; `active` of them in progress, evenly spread."""
    store = Store(root)
    lines = int(minutes * 60 / SECONDS_PER_LINE * 2) + 10  # still running when the soak ends
    source = store.root / "incoming" / "input.jsonl"
    source.write_text("".join(json.dumps({
        "custom_id": f"row-{i}", "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Summarise item {i}."}]},
    }) + "\n" for i in range(lines)))
    now = time.time()
    input_file = store.add_file(FileRecord(ids.file_id(), source.stat().st_size, int(now), "input.jsonl", "batch"),
                                source=source)
    step = count // active if active else count + 1
    for i in range(count):
        created = int(now - (count - i) * 900)
        meta = {"description": f"{TOPICS[i % len(TOPICS)]} #{i}", "owner": f"team-{i % 7}"}
        if i % step == step // 2 and i // step < active:
            record = BatchRecord(ids.batch_id(), "/v1/chat/completions", input_file.id, "24h", "in_progress",
                                 created, created + 86_400, "gpt-4o-mini", in_progress_at=created, total=lines,
                                 metadata=meta, plan=Plan(per_line_s=SECONDS_PER_LINE), phase_started=now)
        else:
            status = TERMINAL[i % len(TERMINAL)]
            total = 100 + (i * 37) % 5_000
            done = total if status == "completed" else total * (i % 10) // 10
            record = BatchRecord(ids.batch_id(), "/v1/chat/completions", f"file-{i:022d}", "24h", status,
                                 created, created + 86_400, "gpt-4o-mini", total=total, metadata=meta,
                                 progress=Progress(done=done, completed=done - i % 3, failed=i % 3),
                                 **{f"{status}_at": created + 3_600})
        store.add_batch(record)
    store.close()


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def sandbox_calls(url: str) -> Counter[str]:
    with urllib.request.urlopen(url.removesuffix("/v1") + "/_sandbox/stats") as answer:
        return Counter(json.load(answer))


@dataclass
class Pass:
    started: float
    wall: float
    cpu: float
    calls: Counter[str]
    active: int
    rss: int
    blocks: int
    objects: int


@dataclass
class Meter:
    """Stamps each sync pass and the CPU spent between passes; measuring is kept out of both."""

    url: str
    warm_after: int
    passes: list[Pass] = field(default_factory=list)
    types: list[Counter[str]] = field(default_factory=list)  # live objects by type after warm-up, and at the end
    aftermath_cpu: list[float] = field(default_factory=list)
    idle: list[tuple[float, float]] = field(default_factory=list)  # (cpu, wall) from aftermath end to next pass
    _calls: Counter[str] = field(default_factory=Counter)
    _mark: tuple[float, float] | None = None  # (wall, cpu) where the current gap's idle part starts
    _started: tuple[float, float] = (0.0, 0.0)

    def pass_started(self) -> None:
        wall, cpu = time.monotonic(), time.process_time()
        if self._mark is not None and wall - self._mark[0] > 0:
            self.idle.append((cpu - self._mark[1], wall - self._mark[0]))
        self._mark = None
        self._started = (wall, cpu)

    def pass_ended(self, app: BatchtuiApp) -> None:
        wall, cpu = time.monotonic() - self._started[0], time.process_time() - self._started[1]
        calls = sandbox_calls(self.url)
        done = Pass(self._started[0], wall, cpu, calls - self._calls,
                    sum(b.status in ACTIVE_STATUSES for b in app.batches), rss_bytes(), sys.getallocatedblocks(),
                    len(gc.get_objects()) + gc.get_freeze_count())
        self._calls = calls
        self.passes.append(done)
        if len(self.passes) == self.warm_after + 1:
            self.count_types()
        print(f"pass {len(self.passes):>4}: {sum(done.calls.values()):>4} calls {dict(done.calls)}, "
              f"{done.active} active, {done.wall * 1000:,.0f} ms, cpu {done.cpu * 1000:,.0f} ms, "
              f"rss {done.rss / 2**20:,.1f} MB, objects {done.objects:,}", flush=True)
        gap_start = time.process_time()
        asyncio.get_running_loop().call_later(AFTERMATH_SECONDS, self._aftermath_over, self._started, gap_start)

    def count_types(self) -> None:
        self.types.append(Counter(type(o).__name__ for o in gc.get_objects()))

    def _aftermath_over(self, pass_started: tuple[float, float], gap_start: float) -> None:
        if self._started is pass_started:  # the next pass has not begun yet
            cpu = time.process_time()
            self.aftermath_cpu.append(cpu - gap_start)
            self._mark = (time.monotonic(), cpu)


class SoakApp(BatchtuiApp):
    """BatchtuiApp with each sync pass stamped by the meter."""

    CSS_PATH = Path(app_module.__file__).with_name(BatchtuiApp.CSS_PATH)  # else read beside this script

    def __init__(self, meter: Meter, **kwargs) -> None:
        super().__init__(**kwargs)
        self.meter = meter

    async def _sync_pass(self) -> None:
        self.meter.pass_started()
        try:
            await super()._sync_pass()
        finally:
            self.meter.pass_ended(self)


def spread(values: list[float], unit: str = "", scale: float = 1.0) -> str:
    if not values:
        return "-"
    low, mid, high = (v * scale for v in (min(values), statistics.median(values), max(values)))
    return f"{low:,.1f} / {mid:,.1f} / {high:,.1f}{unit}"


def report(meter: Meter, rss_start: int, warm_after: int, cache_db: Path) -> None:
    first, warm = meter.passes[0], meter.passes[1:]
    print(f"\npasses: {len(meter.passes)} (1 cold: {sum(first.calls.values())} calls {dict(first.calls)}, "
          f"{first.wall:,.1f} s, cpu {first.cpu:,.2f} s)")
    if not warm:
        return
    print("warm passes, min / median / max:")
    routes = sorted({route for p in warm for route in p.calls})
    for route in routes:
        print(f"  calls {route:<22} {spread([p.calls[route] for p in warm])}")
    print(f"  calls {'total':<22} {spread([sum(p.calls.values()) for p in warm])}")
    print(f"  {'active batches shown':<28} {spread([p.active for p in warm])}")
    extra = [sum(p.calls.values()) - p.active for p in warm]
    print(f"  {'calls - active batches':<28} {spread(extra)}")
    print(f"  {'pass wall time':<28} {spread([p.wall for p in warm], ' ms', 1000)}")
    print(f"  {'pass CPU':<28} {spread([p.cpu for p in warm], ' ms', 1000)}")
    print(f"  {'CPU in the 1 s after a pass':<28} {spread(meter.aftermath_cpu, ' ms', 1000)}")
    idle_cpu = sum(cpu for cpu, _ in meter.idle)
    idle_wall = sum(wall for _, wall in meter.idle)
    elapsed = meter.passes[-1].started - meter.passes[0].started
    total_pass_cpu = sum(p.cpu for p in warm) + sum(meter.aftermath_cpu)
    print(f"idle CPU: {idle_cpu:,.2f} s over {idle_wall:,.0f} s between passes = "
          f"{60 * idle_cpu / idle_wall if idle_wall else 0:,.2f} CPU s per idle minute; "
          f"passes + aftermath: {60 * total_pass_cpu / elapsed if elapsed else 0:,.2f} CPU s per minute")
    base = meter.passes[min(warm_after, len(meter.passes) - 1)]
    end = meter.passes[-1]
    mb = 2**20
    print(f"RSS: start {rss_start / mb:,.1f} MB, after warm-up (pass {warm_after + 1}) {base.rss / mb:,.1f} MB, "
          f"end {end.rss / mb:,.1f} MB, growth since warm-up {(end.rss - base.rss) / mb:+,.2f} MB")
    print(f"pymalloc blocks: warm-up {base.blocks:,}, end {end.blocks:,} ({end.blocks - base.blocks:+,}); "
          f"GC objects: warm-up {base.objects:,}, end {end.objects:,} ({end.objects - base.objects:+,})")
    if len(meter.types) == 2:
        grown = ", ".join(f"{name} {n:+,}" for name, n in (meter.types[1] - meter.types[0]).most_common(5))
        print(f"objects that grew most since warm-up: {grown}")
    print(f"cache.db: {cache_db.stat().st_size / mb:,.1f} MB at the end")


async def soak(url: str, cache_dir: Path, minutes: float, interval: float, warm_after: int) -> None:
    meter = Meter(url, warm_after, _calls=sandbox_calls(url))
    rss_start = rss_bytes()
    app = SoakApp(meter, profile=Profile(name="soak", base_url=url, api_key="sk-soak"), cache_dir=cache_dir)
    app.poll = PollSchedule(active=interval)
    async with app.run_test(size=(140, 40)):
        await asyncio.sleep(minutes * 60)
        meter.count_types()
    report(meter, rss_start, warm_after, cache_dir / "cache.db")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=ACTIVE_POLL_SECONDS, help="seconds between passes")
    parser.add_argument("--batches", type=int, default=10_000)
    parser.add_argument("--active", type=int, default=50)
    parser.add_argument("--warm-up", type=int, default=6, help="passes before the memory baseline")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="batchtui-soak-") as tmp:
        started = time.perf_counter()
        seed_account(Path(tmp) / "sandbox", args.batches, args.active, args.minutes)
        print(f"seeded {args.batches:,} batches ({args.active} active) in {time.perf_counter() - started:.1f} s; "
              f"polling every {args.interval:g} s for {args.minutes:g} min", flush=True)
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "batchtui", "sandbox", "--port", "0", "--speed", "1", "--data-dir",
             str(Path(tmp) / "sandbox")], stdout=subprocess.PIPE, text=True)
        try:
            url = sandbox.stdout.readline().strip()
            asyncio.run(soak(url, Path(tmp) / "cache", args.minutes, args.interval, args.warm_up))
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=30)


if __name__ == "__main__":
    main()

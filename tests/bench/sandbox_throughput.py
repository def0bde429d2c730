"""Sandbox throughput: a 50,000-line chat batch from upload to streamed download, through the SDK.

Baselines in the same run make the numbers comparable on a noisy machine: copying the same
bytes on local disk, an orjson round-trip of every line, and a 1,000-line batch end to end.
Run: make bench (or .venv/bin/python tests/bench/sandbox_throughput.py) [--lines 50000] [--speed 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import orjson
from openai import AsyncOpenAI

from batchtui.sandbox import SandboxConfig, SandboxServer

TOPICS = ("espresso machine", "trail shoes", "standing desk", "air fryer", "headphones", "robot vacuum")


def write_input(path: Path, lines: int) -> None:
    with open(path, "wb") as fh:
        for i in range(lines):
            review = f"Review {i}: the {TOPICS[i % len(TOPICS)]} arrived late but works well after a week of use."
            body = {
                "model": "gpt-4o-mini",
                "messages": [
                    {"role": "system", "content": "Label the sentiment: positive, negative, neutral or mixed."},
                    {"role": "user", "content": review},
                ],
            }
            fh.write(
                orjson.dumps({"custom_id": f"row-{i}", "method": "POST", "url": "/v1/chat/completions", "body": body})
            )
            fh.write(b"\n")


async def run_batch(client: AsyncOpenAI, path: Path, out_path: Path) -> dict[str, float]:
    """Upload, create, poll to completion, stream the output down; seconds per phase."""
    phases: dict[str, float] = {}
    t0 = time.perf_counter()
    f = await client.files.create(file=path, purpose="batch")
    phases["upload"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    batch = await client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    first_seen: dict[str, float] = {}
    latencies: list[float] = []
    while batch.status not in ("completed", "failed", "expired", "cancelled"):
        first_seen.setdefault(batch.status, time.perf_counter() - t0)
        await asyncio.sleep(0.05)
        asked = time.perf_counter()
        batch = await client.batches.retrieve(batch.id)
        latencies.append(time.perf_counter() - asked)
    phases["batch (create -> completed)"] = time.perf_counter() - t0
    if batch.status != "completed":
        raise SystemExit(f"batch ended {batch.status}: {batch.errors}")
    if "in_progress" in first_seen and "finalizing" in first_seen:
        phases["  of which in_progress"] = first_seen["finalizing"] - first_seen["in_progress"]

    t0 = time.perf_counter()
    out = await asyncio.to_thread(out_path.open, "wb")
    try:
        async with client.files.with_streaming_response.content(batch.output_file_id) as response:
            async for chunk in response.iter_bytes(1024 * 1024):
                out.write(chunk)
    finally:
        out.close()
    phases["download"] = time.perf_counter() - t0
    latencies.sort()
    phases["poll latency median"] = latencies[len(latencies) // 2]
    phases["poll latency max"] = latencies[-1]
    return phases


def count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def local_baselines(path: Path, tmp: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    shutil.copyfile(path, tmp / "copy.jsonl")
    with open(tmp / "copy.jsonl", "rb") as fh:
        while fh.read(1024 * 1024):
            pass
    copy = time.perf_counter() - t0
    t0 = time.perf_counter()
    with open(path, "rb") as fh, open(tmp / "roundtrip.jsonl", "wb") as out:
        for line in fh:
            out.write(orjson.dumps(orjson.loads(line)) + b"\n")
    return {"local copy + read": copy, "local orjson round-trip per line": time.perf_counter() - t0}


async def main(lines: int, speed: float) -> None:
    with tempfile.TemporaryDirectory() as tmp_name, SandboxServer(SandboxConfig(speed=speed)) as server:
        tmp = Path(tmp_name)
        client = AsyncOpenAI(api_key="sk-bench", base_url=server.base_url, max_retries=0, timeout=600)
        big, small = tmp / "big.jsonl", tmp / "small.jsonl"
        t0 = time.perf_counter()
        write_input(big, lines)
        generate = time.perf_counter() - t0
        write_input(small, 1000)
        size_mb = big.stat().st_size / 1e6

        base = local_baselines(big, tmp)
        small_phases = await run_batch(client, small, tmp / "small_out.jsonl")
        started = time.perf_counter()
        phases = await run_batch(client, big, tmp / "big_out.jsonl")
        total = time.perf_counter() - started
        out_lines = count_lines(tmp / "big_out.jsonl")
        out_mb = (tmp / "big_out.jsonl").stat().st_size / 1e6
        await client.close()

    print(f"sandbox throughput: {lines:,} chat lines ({size_mb:.1f} MB in, {out_mb:.1f} MB out), speed {speed:g}")
    print(f"  {'write input file':<40}{generate:8.2f} s")
    for name, seconds in phases.items():
        if name.startswith("poll"):
            print(f"  {name + ' while generating':<40}{seconds * 1000:8.1f} ms")
        else:
            print(f"  {name:<40}{seconds:8.2f} s")
    print(f"  {'total through the SDK':<40}{total:8.2f} s   {lines / total:10,.0f} lines/s end to end")
    in_progress = phases.get("  of which in_progress") or phases["batch (create -> completed)"]
    print(f"  {'output generation':<40}{'':8}     {lines / in_progress:10,.0f} lines/s")
    print(f"  {'download':<40}{'':8}     {out_mb / phases['download']:10,.0f} MB/s")
    print("baselines (same run):")
    for name, seconds in base.items():
        print(f"  {name:<40}{seconds:8.2f} s   {lines / seconds:10,.0f} lines/s")
    small_total = sum(v for k, v in small_phases.items() if not k.startswith(("  ", "poll")))
    print(f"  {'1,000-line batch end to end':<40}{small_total:8.2f} s   {1000 / small_total:10,.0f} lines/s")
    assert out_lines == lines, f"expected {lines} output lines, got {out_lines}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--speed", type=float, default=100_000.0)
    args = parser.parse_args()
    asyncio.run(main(args.lines, args.speed))

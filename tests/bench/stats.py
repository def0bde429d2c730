"""Time of batch_stats and expected_finish over an account of 10,000 batches (90 days, six models, every status).

Baselines in the same run make the numbers comparable on a noisy machine: a plain loop reading created_at of every
batch, and one reading every field batch_stats reads. Nothing is asserted. Goal: batch_stats well under 100 ms.
Prices: flat-priced models are priced once per model and price period; a model with tiered prices (gpt-5.4 in
genai-prices' data) is priced batch by batch with price_of, memoised across calls, so its first call is slower.
Run: .venv/bin/python tests/bench/stats.py [--batches 10000]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime

from timing import best

from batchtui.core.api.models import Batch
from batchtui.core.insights.pricing import _per_request_cost
from batchtui.core.insights.progress import expected_finish
from batchtui.core.insights.stats import batch_stats

DAY = 86_400
START = 1_740_787_200  # 2025-03-01 00:00 UTC
FLAT_MODELS = ("gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o4-mini", "text-embedding-3-small", "my-own-model")
TIERED_MODEL = "gpt-5.4"
ENDPOINTS = {"text-embedding-3-small": "/v1/embeddings", "gpt-4.1": "/v1/responses"}


def make_account(count: int, models: tuple[str, ...], seed: int = 6) -> list[Batch]:
    """`count` batches over 90 days: mostly completed, some failed, expired, cancelled, and a few still running."""
    rng = random.Random(seed)
    batches = []
    for i in range(count):
        created = START + int(i / count * 90 * DAY)
        model = models[i % len(models)]
        total = int(10 ** rng.uniform(1, 4.7))
        roll = rng.random()
        status = "completed"
        if i >= count - 10:
            status = ("validating", "in_progress", "finalizing")[i % 3]
        elif roll < 0.05:
            status = "failed"
        elif roll < 0.09:
            status = "expired"
        elif roll < 0.12:
            status = "cancelled"
        data: dict[str, object] = {
            "id": f"batch_{i:06d}",
            "object": "batch",
            "endpoint": ENDPOINTS.get(model, "/v1/chat/completions"),
            "input_file_id": f"file-{i}",
            "completion_window": "24h",
            "status": status,
            "created_at": created,
            "expires_at": created + DAY,
            "model": model,
            "request_counts": {"total": total, "completed": 0, "failed": 0},
        }
        if status == "failed":
            data["failed_at"] = created + rng.randint(5, 120)
            data["request_counts"] = {"total": 0, "completed": 0, "failed": 0}
            batches.append(Batch.from_dict(data))
            continue
        if status == "validating":
            batches.append(Batch.from_dict(data))
            continue
        started = created + rng.randint(10, 900)
        working = int(total * rng.uniform(0.05, 2.0)) + rng.randint(30, 600)
        done = total if status in ("completed", "finalizing") else int(total * rng.random())
        failed = done // 50
        data |= {
            "in_progress_at": started,
            "request_counts": {"total": total, "completed": done - failed, "failed": failed},
        }
        if status == "completed":
            data |= {"finalizing_at": started + working, "completed_at": started + working + rng.randint(20, 900)}
        elif status == "finalizing":
            data["finalizing_at"] = started + working
        elif status == "expired":
            data["expired_at"] = created + DAY
        elif status == "cancelled":
            data |= {"cancelling_at": started + working // 2, "cancelled_at": started + working // 2 + 300}
        if status != "in_progress" and done:
            input_tokens = done * rng.randint(200, 2_000)
            data["usage"] = {
                "input_tokens": input_tokens,
                "input_tokens_details": {"cached_tokens": input_tokens // rng.randint(3, 20)},
                "output_tokens": done * rng.randint(20, 400),
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 0,
            }
        batches.append(Batch.from_dict(data))
    return batches


def read_created(batches: list[Batch]) -> int:
    return sum(batch.created_at for batch in batches)


def read_fields(batches: list[Batch]) -> int:
    """Every attribute batch_stats reads, and nothing else."""
    n = 0
    for b in batches:
        n += b.created_at
        _ = (b.status, b.model, b.endpoint, b.completed_at, b.in_progress_at, b.finalizing_at)
        counts, usage = b.request_counts, b.usage
        if counts:
            n += counts.total + counts.completed + counts.failed
        if usage:
            n += usage.input_tokens + usage.output_tokens + usage.input_tokens_details.cached_tokens
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10_000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    flat = make_account(args.batches, FLAT_MODELS)
    tiered = make_account(args.batches, (*FLAT_MODELS[:-1], TIERED_MODEL))
    print(f"generated 2 x {args.batches:,} batches in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    stats = batch_stats(flat)
    first_call = time.perf_counter() - t0
    baseline = best(5, lambda: read_created(flat))
    rows = [
        ("plain loop reading created_at (baseline)", baseline),
        ("loop reading every field batch_stats reads", best(5, lambda: read_fields(flat))),
        ("batch_stats, first call (loads genai-prices' data)", first_call),
        ("batch_stats", best(5, lambda: batch_stats(flat))),
        ("batch_stats since the last 30 days", best(5, lambda: batch_stats(flat, since=_days_ago(flat, 30)))),
    ]
    _per_request_cost.cache_clear()
    t0 = time.perf_counter()
    batch_stats(tiered)
    rows.append((f"batch_stats with 1/6 {TIERED_MODEL} (tiered prices), first call", time.perf_counter() - t0))
    rows.append((f"batch_stats with 1/6 {TIERED_MODEL}, repeated", best(5, lambda: batch_stats(tiered))))
    active = [batch for batch in flat if batch.status == "in_progress"]
    rows.append(("expected_finish of one active batch", best(5, lambda: expected_finish(active[0], flat))))

    unpriced = ", ".join(stats.unpriced_models)
    print(f"\n{stats.batches:,} batches, {stats.finished:,} finished, turnaround p50 {stats.turnaround.p50:,.0f} s, "
          f"{len(stats.per_day)} days, cost ${stats.cost_usd:,.2f}, unpriced: {unpriced}\n")  # fmt: skip
    print("| step | ms | x baseline |\n|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1000:.1f} | {seconds / baseline:.1f} |")


def _days_ago(batches: list[Batch], days: int) -> datetime:
    return datetime.fromtimestamp(max(batch.created_at for batch in batches) - days * DAY, UTC)


if __name__ == "__main__":
    main()

"""Batches with known timings and usage, for the stats tests of core and of the screen."""

from __future__ import annotations

from datetime import UTC, datetime

from batchtui.core.api.models import Batch
from batchtui.core.domain import CHAT, EMBEDDINGS, RESPONSES

D = int(datetime(2025, 6, 2, tzinfo=UTC).timestamp())
"""2025-06-02 00:00 UTC: the seeded account's first day."""
H = 3600
DAY = 86_400
MINI, G41, EMB, OWN = "gpt-4o-mini", "gpt-4.1", "text-embedding-3-small", "my-own-model"


def make_batch(batch_id: str, status: str, created_at: int, *, model: str | None = "gpt-4o-mini", **fields) -> Batch:
    data: dict[str, object] = {
        "id": batch_id,
        "object": "batch",
        "endpoint": CHAT,
        "input_file_id": f"file-in-{batch_id}",
        "completion_window": "24h",
        "status": status,
        "created_at": created_at,
        "expires_at": created_at + DAY,
        "model": model,
        "request_counts": {"total": 0, "completed": 0, "failed": 0},
        **fields,
    }
    return Batch.from_dict(data)


def usage(input_tokens: int, cached: int, output: int) -> dict[str, object]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output,
    }


def completed(batch_id, created, model, endpoint, total, phases, tokens, *, failed=0) -> Batch:
    """A completed batch whose validating, in_progress and finalizing phases last `phases` seconds."""
    validating, in_progress, finalizing = phases
    started = created + validating
    return make_batch(
        batch_id, "completed", created, model=model, endpoint=endpoint,
        in_progress_at=started, finalizing_at=started + in_progress,
        completed_at=started + in_progress + finalizing,
        request_counts={"total": total, "completed": total - failed, "failed": failed},
        usage=usage(*tokens),
    )  # fmt: skip


# A seeded account with known timings and usage over four days: ten completed batches, two failed, one
# expired, one cancelled and two active.
# fmt: off
COMPLETED = [
    #         id     created          model endpoint    total   phases (s)          tokens (in, cached, out)
    completed("c1",  D + 1 * H,       MINI, CHAT,       60,     (60, 120, 60),      (12_000, 2_000, 3_000)),
    completed("c2",  D + 2 * H,       MINI, CHAT,       90,     (60, 540, 60),      (18_000, 0, 4_500), failed=10),
    completed("c3",  D + 3 * H,       MINI, CHAT,       600,    (120, 1680, 200),   (120_000, 30_000, 60_000)),
    completed("c4",  D + DAY + 1 * H, MINI, CHAT,       800,    (100, 3600, 200),   (160_000, 0, 80_000)),
    completed("c5",  D + DAY + 2 * H, MINI, CHAT,       5000,   (300, 6900, 600),   (1_000_000, 0, 500_000)),
    completed("c6",  D + DAY + 3 * H, G41,  RESPONSES,  300,    (45, 1155, 300),    (90_000, 0, 30_000)),
    completed("c7",  D + DAY + 4 * H, G41,  RESPONSES,  2000,   (200, 10600, 1200), (600_000, 100_000, 200_000)),
    completed("c8",  D + DAY + 5 * H, EMB,  EMBEDDINGS, 20_000, (600, 28800, 600),  (4_000_000, 0, 0)),
    completed("c9",  D + 3 * DAY + H, OWN,  CHAT,       40,     (10, 30, 5),        (8_000, 0, 2_000)),
    completed("c10", D + DAY + 6 * H, MINI, CHAT,       50_000, (900, 80000, 3100), (10_000_000, 0, 5_000_000)),
]
# fmt: on
OTHERS = [
    make_batch("f1", "failed", D + 4 * H, failed_at=D + 4 * H + 30),
    make_batch("f2", "failed", D + DAY + 7 * H, model=G41, failed_at=D + DAY + 7 * H + 20),
    make_batch(
        "e1", "expired", D + DAY + 8 * H, model=G41,
        in_progress_at=D + DAY + 8 * H + 60, expired_at=D + 2 * DAY + 8 * H,
        request_counts={"total": 100, "completed": 60, "failed": 0}, usage=usage(30_000, 0, 10_000),
    ),
    make_batch(
        "x1", "cancelled", D + DAY + 9 * H,
        in_progress_at=D + DAY + 9 * H + 30, cancelling_at=D + DAY + 9 * H + 600, cancelled_at=D + DAY + 9 * H + 900,
        request_counts={"total": 400, "completed": 100, "failed": 0}, usage=usage(20_000, 0, 5_000),
    ),
    make_batch(
        "a1", "in_progress", D + 3 * DAY + 2 * H, in_progress_at=D + 3 * DAY + 2 * H + 100,
        request_counts={"total": 700, "completed": 100, "failed": 0},
    ),
    make_batch("a2", "validating", D + 3 * DAY + 3 * H),
]  # fmt: skip

"""Batches with known timings and usage, for the stats tests of core and of the screen."""

from __future__ import annotations

from openai.types import Batch

DAY = 86_400
CHAT = "/v1/chat/completions"


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
    return Batch.model_validate(data)


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

"""A batch's way through its statuses as steps: when it reached each one, how long it stayed, what is ahead. The
batch detail draws them, and `batchtui show` prints them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from batchtui.core.api.models import Batch
from batchtui.core.domain import ACTIVE_STATUSES, MAIN_PATH

STEP_STAMPS = (
    ("validating", "created_at"),
    ("in_progress", "in_progress_at"),
    ("finalizing", "finalizing_at"),
    ("completed", "completed_at"),
    ("failed", "failed_at"),
    ("expired", "expired_at"),
    ("cancelling", "cancelling_at"),
    ("cancelled", "cancelled_at"),
)
"""Each status and the Batch field holding when it began; validating begins when the batch is created."""

ORDER = {step: index for index, (step, _) in enumerate(STEP_STAMPS)}


@dataclass(frozen=True)
class Step:
    """One row of the timeline: `started` is None for a step not reached yet; `spent` None when open-ended."""

    status: str
    started: float | None
    spent: float | None
    state: str
    """"done" (left behind), "current" (the batch is in it now), "end" (where it finished), "next" (ahead)."""


def timeline_steps(batch: Batch, now: float) -> list[Step]:
    """The steps a batch went through, in time order, then the main-path steps still ahead of it.

    A batch on a branch (failed, expired, cancelling, cancelled) shows the branch it took, not the
    main-path steps it skipped. The current step of an active batch is timed up to `now`. A time of 0 (what a
    server's bad value becomes) is not known: that step is left out.
    """
    reached: list[tuple[str, float | None]] = [
        (status, float(stamp)) for status, field in STEP_STAMPS if (stamp := getattr(batch, field, None))
    ]
    reached.sort(key=lambda pair: (pair[1], ORDER[pair[0]]))
    if batch.status not in {status for status, _ in reached}:
        reached.append((batch.status, None))
    active = batch.status in ACTIVE_STATUSES
    steps: list[Step] = []
    for index, (status, started) in enumerate(reached):
        following = reached[index + 1][1] if index + 1 < len(reached) else None
        if index + 1 < len(reached):
            spent = following - started if following is not None and started is not None else None
            steps.append(Step(status, started, spent, "done"))
        elif active:
            steps.append(Step(status, started, now - started if started is not None else None, "current"))
        else:
            steps.append(Step(status, started, None, "end"))
    if batch.status == "cancelling":
        ahead: tuple[str, ...] = ("cancelled",)
    elif batch.status in MAIN_PATH and active:
        ahead = MAIN_PATH[MAIN_PATH.index(batch.status) + 1 :]
    else:
        ahead = ()
    steps.extend(Step(status, None, None, "next") for status in ahead)
    return steps


TOKEN_LIMIT_EXCEEDED = "token_limit_exceeded"
_LIMITED_MODEL = re.compile(r"Enqueued token limit reached for (\S+) in organization")


def token_limit_failure(batch: Batch) -> str | None:
    """What happened and what to do, in one sentence, when OpenAI failed the batch for the organization's
    enqueued-token limit (its queued and running batches of the model already hold that many input tokens); None
    for any other batch. Nothing is wrong with the file: the same input file may simply be submitted again."""
    errors = (batch.errors.data if batch.errors else None) or []
    limited = next((error for error in errors if error.code == TOKEN_LIMIT_EXCEEDED), None)
    if batch.status != "failed" or limited is None:
        return None
    found = _LIMITED_MODEL.search(limited.message or "")
    model = found.group(1) if found else batch.model or "this model"
    return (f"Not run: your queued and running {model} batches already hold as many input tokens as OpenAI lets an "
            f"organization enqueue; wait for some of them to finish, then submit the same input file again.")

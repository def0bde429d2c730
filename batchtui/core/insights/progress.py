"""Rate and ETA of a running batch, from the progress observations the cache records on each sync."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from openai.types import Batch

from batchtui.core.cache.store import ProgressObservation

RATE_WINDOW_SECONDS = 600.0
"""Only the last ten minutes count, so the rate follows the batch's current pace."""


@dataclass(frozen=True)
class Progress:
    """Where a batch stands: done = completed + failed lines; rate in lines per minute when known."""

    done: int
    total: int
    rate_per_minute: float | None
    eta: float | None
    at_risk: bool

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


def batch_progress(batch: Batch, observations: Sequence[ProgressObservation], now: float) -> Progress:
    """Lines done, rate over the recent observations, and when the rest should be done.

    A batch whose ETA falls after its expires_at is at risk: the lines left then come back as
    batch_expired.
    """
    counts = batch.request_counts
    done = (counts.completed + counts.failed) if counts else 0
    total = counts.total if counts else 0
    rate = _rate(observations, now)
    eta = None
    if batch.status == "in_progress" and rate and total > done:
        eta = now + (total - done) / rate * 60.0
    at_risk = eta is not None and batch.expires_at is not None and eta > batch.expires_at
    return Progress(done=done, total=total, rate_per_minute=rate, eta=eta, at_risk=at_risk)


def _rate(observations: Sequence[ProgressObservation], now: float) -> float | None:
    recent = [o for o in observations if o.observed_at >= now - RATE_WINDOW_SECONDS and o.total]
    if len(recent) < 2:
        return None
    first, last = recent[0], recent[-1]
    elapsed = last.observed_at - first.observed_at
    moved = (last.completed + last.failed) - (first.completed + first.failed)
    if elapsed <= 0 or moved <= 0:
        return None
    return moved / elapsed * 60.0

"""Rate and ETA of a running batch, from the progress observations the cache records on each sync, and when an
active batch should finish, from how long similar past batches took."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from batchtui.core.api.models import Batch
from batchtui.core.cache.store import ProgressObservation
from batchtui.core.insights.stats import band_range, nearest_rank

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


def overall_rate(batch: Batch) -> float | None:
    """Lines per minute over the whole in_progress phase of a batch that has left it (from in_progress_at to the
    next stamp), unlike `Progress.rate_per_minute`, which follows only the last RATE_WINDOW_SECONDS of a running one.
    None while the batch still runs, or when it never processed a line."""
    counts = batch.request_counts
    done = (counts.completed + counts.failed) if counts else 0
    start = batch.in_progress_at
    end = batch.finalizing_at or batch.cancelling_at or batch.expired_at or batch.completed_at
    if start is None or end is None or end <= start or not done:
        return None
    return done / (end - start) * 60.0


BASIS_MODEL_AND_BAND = "same model and size band"
BASIS_MODEL = "same model"
BASIS_ALL = "all batches"


@dataclass(frozen=True)
class Expectation:
    """When an active batch should finish, from how long similar batches took from the phase it is in."""

    finish_at: float
    """Epoch seconds; may lie in the past when the batch is already slower than usual."""
    basis: str
    """BASIS_MODEL_AND_BAND, BASIS_MODEL or BASIS_ALL: which past batches it comes from."""
    similar: int
    """How many past batches it is based on."""


_REMAINING: dict[str, tuple[str, str, str]] = {
    "validating": ("created_at", "completed_at", "completed"),
    "in_progress": ("in_progress_at", "completed_at", "completed"),
    "finalizing": ("finalizing_at", "completed_at", "completed"),
    "cancelling": ("cancelling_at", "cancelled_at", "cancelled"),
}
"""For each active status: the timestamp the phase began, where similar past batches ended, and their status."""


def expected_finish(batch: Batch, history: Iterable[Batch]) -> Expectation | None:
    """The start of the batch's current phase plus the p50 of how long similar past batches took from that phase
    to the end (a cancelling batch: to cancelled). Similar means the same model and size band, else the same model,
    else any batch; the size band only counts once the batch's request count is known. None for a batch that is
    not active or when no past batch fits."""
    if batch.status not in _REMAINING:
        return None
    start_field, end_field, end_status = _REMAINING[batch.status]
    start = getattr(batch, start_field)
    if start is None:
        start_field, start = "created_at", batch.created_at
    if not start:  # the server gave no usable time to count from
        return None
    counts = batch.request_counts
    band = band_range(counts.total) if counts and counts.total else None
    model, own_id = batch.model, batch.id
    same_band: list[int] = []
    same_model: list[int] = []
    everyone: list[int] = []
    for past in history:
        if past.status != end_status or past.id == own_id:
            continue
        began, ended = getattr(past, start_field), getattr(past, end_field)
        if began is None or ended is None or ended < began:
            continue
        seconds = ended - began
        everyone.append(seconds)
        if model and past.model == model:
            same_model.append(seconds)
            past_counts = past.request_counts
            if band is not None and past_counts is not None and band[0] <= past_counts.total < band[1]:
                same_band.append(seconds)
    for basis, durations in ((BASIS_MODEL_AND_BAND, same_band), (BASIS_MODEL, same_model), (BASIS_ALL, everyone)):
        if durations:
            p50 = nearest_rank(sorted(durations), 50)
            return Expectation(finish_at=start + p50, basis=basis, similar=len(durations))
    return None

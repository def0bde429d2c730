"""Rate, ETA and 'at risk' from progress observations."""

from batchtui.core.api.models import Batch
from batchtui.core.cache.store import ProgressObservation
from batchtui.core.insights.progress import batch_progress, overall_rate

NOW = 1_800_000_000.0


def running(done: int, total: int, expires_in: float) -> Batch:
    return Batch.from_dict({
        "id": "batch_1", "object": "batch", "endpoint": "/v1/chat/completions", "input_file_id": "file-1",
        "completion_window": "24h", "status": "in_progress", "created_at": int(NOW - 3600),
        "expires_at": int(NOW + expires_in), "request_counts": {"total": total, "completed": done, "failed": 0},
    })


def seen(ago: float, done: int, total: int = 1000) -> ProgressObservation:
    return ProgressObservation("batch_1", NOW - ago, "in_progress", done, 0, total)


def test_rate_and_eta_from_recent_observations():
    progress = batch_progress(running(400, 1000, 86_400), [seen(120, 200), seen(60, 300), seen(0, 400)], NOW)
    assert progress.rate_per_minute == 100.0
    assert progress.eta == NOW + 6 * 60
    assert not progress.at_risk and progress.fraction == 0.4


def test_eta_after_expiry_is_at_risk():
    progress = batch_progress(running(400, 1000, 60), [seen(60, 300), seen(0, 400)], NOW)
    assert progress.at_risk


def test_old_or_flat_observations_give_no_rate():
    assert batch_progress(running(400, 1000, 600), [seen(3000, 100), seen(0, 400)], NOW).rate_per_minute is None
    assert batch_progress(running(400, 1000, 600), [seen(60, 400), seen(0, 400)], NOW).eta is None


def ended(status: str, done: int, total: int, in_progress_for: float, **stamps: float) -> Batch:
    """A batch that was in progress for `in_progress_for` seconds, then reached `status`."""
    start = NOW - 86_400
    data = running(done, total, 86_400).to_dict()
    data.update(status=status, in_progress_at=int(start), **{k: int(start + in_progress_for) for k in stamps})
    return Batch.from_dict(data)


def test_overall_rate_over_the_whole_in_progress_phase():
    expired = ended("expired", 225, 1000, 86_400, expired_at=0)
    assert overall_rate(expired) == 225 / 1440  # 0.16 lines/min, which the detail showed as "0 lines/min"
    assert overall_rate(ended("completed", 900, 900, 3000, finalizing_at=0, completed_at=0)) == 18.0
    assert overall_rate(ended("cancelled", 60, 900, 600, cancelling_at=0, cancelled_at=0)) == 6.0


def test_no_overall_rate_while_running_or_without_lines():
    assert overall_rate(running(400, 1000, 600)) is None
    assert overall_rate(ended("expired", 0, 1000, 86_400, expired_at=0)) is None
    failed = Batch.from_dict({**running(0, 0, 600).to_dict(), "status": "failed", "failed_at": int(NOW)})
    assert overall_rate(failed) is None  # failed validation: never in progress

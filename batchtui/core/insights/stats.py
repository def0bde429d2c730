"""How long the account's batches take and what they cost (priced by the rate book in `pricing`).

Pure functions over openai `Batch` objects (from the cache or the API). Times are epoch seconds, durations seconds.
Timings (turnaround, phases, lines per minute) come from completed batches; outcome shares from finished ones;
tokens and cost from every batch with usage. Days are calendar days of `created_at` in UTC unless `tz` is given.

Percentiles use the nearest-rank method: the p-th percentile of n sorted values is the value at rank ceil(p/100 * n),
so it is always a duration some batch really took (p50 of 4 values is the 2nd, p90 of 10 the 9th).
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from batchtui.core.api.models import Batch, BatchRequestCounts
from batchtui.core.domain import ACTIVE_STATUSES, OUTCOMES
from batchtui.core.insights.pricing import batch_usage_cost, priced_per_request, rates_on

__all__ = [
    "SIZE_BANDS",
    "TURNAROUND_BUCKETS",
    "UNKNOWN_MODEL",
    "BatchStats",
    "DayFigures",
    "Percentiles",
    "band_range",
    "batch_stats",
    "nearest_rank",
    "size_band",
]

SIZE_BANDS: tuple[tuple[str, int], ...] = (
    ("<100", 0),
    ("100-1k", 100),
    ("1k-10k", 1_000),
    ("10k-50k", 10_000),
    (">50k", 50_001),
)
"""Size bands by request count: (label, smallest total in the band). 50,000 lines, OpenAI's limit, is the top of
"10k-50k"; ">50k" only holds Azure batches (up to 100,000 lines)."""

TURNAROUND_BUCKETS: tuple[tuple[str, float], ...] = (
    ("<1m", 60),
    ("1-5m", 300),
    ("5-15m", 900),
    ("15-30m", 1_800),
    ("30-60m", 3_600),
    ("1-2h", 7_200),
    ("2-4h", 14_400),
    ("4-8h", 28_800),
    ("8-12h", 43_200),
    ("12-24h", 86_400),
    ("24h+", float("inf")),
)
"""Histogram buckets of turnaround: (label, upper bound in seconds, exclusive); each starts where the last ended."""

UNKNOWN_MODEL = "unknown"
"""The model name used for batches that do not say their model."""

_BAND_LABELS = [label for label, _ in SIZE_BANDS]
_BAND_FLOORS = [floor for _, floor in SIZE_BANDS]
_BUCKET_TOPS = [top for _, top in TURNAROUND_BUCKETS]
_DAY = 86_400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_NO_COUNTS = BatchRequestCounts(completed=0, failed=0, total=0)


def size_band(total: int) -> str:
    """The SIZE_BANDS label for a batch of `total` requests."""
    return SIZE_BANDS[max(0, bisect_right(_BAND_FLOORS, total) - 1)][0]


@dataclass(frozen=True)
class Percentiles:
    """p50, p90 and max of some values (seconds for durations) by nearest rank; all None when count is 0."""

    p50: float | None
    p90: float | None
    max: float | None
    count: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Percentiles:
        ordered = sorted(values)
        if not ordered:
            return cls(None, None, None, 0)
        return cls(nearest_rank(ordered, 50), nearest_rank(ordered, 90), float(ordered[-1]), len(ordered))

    def to_dict(self) -> dict[str, Any]:
        return {"p50": self.p50, "p90": self.p90, "max": self.max, "count": self.count}


def nearest_rank(ordered: Sequence[float], percent: int) -> float:
    """The nearest-rank percentile of sorted values: the one at rank ceil(percent/100 * n), counting from 1."""
    return float(ordered[max(1, -(-percent * len(ordered) // 100)) - 1])


@dataclass(frozen=True)
class DayFigures:
    """Batches created on one day and their tokens and cost.

    `cost_usd` sums the batches whose model has a price; it is None when the day had tokens and none of them could
    be priced, and the models without a price are in `unpriced_models` (so a cost beside them is a lower bound)."""

    date: date
    batches: int
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    cost_usd: Decimal | None
    unpriced_models: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "batches": self.batches,
            "input_tokens": self.input_tokens,
            "cached_tokens": self.cached_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": _usd_json(self.cost_usd),
            "unpriced_models": list(self.unpriced_models),
        }


@dataclass(frozen=True)
class BatchStats:
    """Figures over the batches created since `since` (all when None), as of `now`."""

    since: datetime | None
    now: datetime
    batches: int
    """Batches counted: created at or after `since`, any status."""
    finished: int
    """Of those, the ones in a final status (completed, failed, expired, cancelled)."""
    active: int
    outcomes: dict[str, int]
    """Finished batches by status, every status in OUTCOMES present."""
    shares: dict[str, float]
    """outcomes / finished (0.0 each when nothing finished)."""
    turnaround: Percentiles
    """created_at -> completed_at of completed batches."""
    phases: dict[str, Percentiles]
    """Time in each of PHASES, over the completed batches that carry both of its timestamps."""
    by_model: dict[str, Percentiles]
    by_endpoint: dict[str, Percentiles]
    by_size_band: dict[str, Percentiles]
    """Turnaround by model, endpoint and size band (the bands present, in SIZE_BANDS order)."""
    lines_per_minute: Percentiles
    """Per completed batch: lines done (completed + failed, as the progress panel counts) / in_progress minutes."""
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    cost_usd: Decimal | None
    """At batch prices, over the batches with a price; None when there were tokens and none could be priced."""
    unpriced_models: tuple[str, ...]
    per_day: list[DayFigures]
    """Every day from the first counted batch's through `now`'s, oldest first, days without batches included."""
    turnaround_histogram: list[tuple[str, int]]
    """Completed batches per TURNAROUND_BUCKETS bucket, every bucket present."""
    timezone: str = "UTC"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: Decimals as strings (exact), times as ISO 8601, durations in seconds."""

        def table(groups: dict[str, Percentiles]) -> dict[str, Any]:
            return {key: value.to_dict() for key, value in groups.items()}

        return {
            "since": self.since.isoformat() if self.since else None,
            "now": self.now.isoformat(),
            "timezone": self.timezone,
            "percentile_method": "nearest-rank",
            "batches": self.batches,
            "finished": self.finished,
            "active": self.active,
            "outcomes": dict(self.outcomes),
            "shares": dict(self.shares),
            "turnaround_seconds": self.turnaround.to_dict(),
            "phase_seconds": table(self.phases),
            "turnaround_by_model": table(self.by_model),
            "turnaround_by_endpoint": table(self.by_endpoint),
            "turnaround_by_size_band": table(self.by_size_band),
            "size_bands": {label: floor for label, floor in SIZE_BANDS},
            "lines_per_minute": self.lines_per_minute.to_dict(),
            "input_tokens": self.input_tokens,
            "cached_tokens": self.cached_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": _usd_json(self.cost_usd),
            "unpriced_models": list(self.unpriced_models),
            "per_day": [day.to_dict() for day in self.per_day],
            "turnaround_histogram": [{"bucket": label, "count": count} for label, count in self.turnaround_histogram],
        }


@dataclass
class _DayTally:
    batches: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    priced: bool = False
    unpriced: set[str] = field(default_factory=set)

    def figures(self, day: date) -> DayFigures:
        cost = None if self.unpriced and not self.priced else self.cost
        return DayFigures(
            day, self.batches, self.input_tokens, self.cached_tokens, self.output_tokens, cost,
            tuple(sorted(self.unpriced)),
        )  # fmt: skip


def batch_stats(
    batches: Iterable[Batch],
    *,
    since: datetime | None = None,
    now: datetime | float | None = None,
    tz: tzinfo = UTC,
) -> BatchStats:
    """Turnaround, phase times, outcome shares, throughput, tokens and cost of the batches created since `since`
    (naive datetimes are read in `tz`; `now` may also be epoch seconds), with the series a chart needs. One pass;
    tokens are summed per day, model and UTC day and priced once per group, not per batch."""
    if isinstance(now, datetime):
        now = _aware(now, tz)
    else:
        now = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    since = _aware(since, tz) if since is not None else None
    floor = since.timestamp() if since is not None else None
    day_of = _day_function(tz)
    utc = tz is UTC

    counted = active = 0
    outcomes = dict.fromkeys(OUTCOMES, 0)
    turnaround: list[int] = []
    validating: list[int] = []
    in_progress: list[int] = []
    finalizing: list[int] = []
    by_model: defaultdict[str, list[int]] = defaultdict(list)
    by_endpoint: defaultdict[str, list[int]] = defaultdict(list)
    by_band: defaultdict[str, list[int]] = defaultdict(list)
    rates: list[float] = []
    day_batches: dict[int, int] = {}
    # (day, model, UTC day) -> [input, cached, output tokens, [(input, output, cached, created_at, requests done)]
    # if priced per batch]
    usage_groups: dict[tuple[int, str | None, int], list[Any]] = {}
    per_request: dict[str | None, bool] = {}

    for batch in batches:
        created = batch.created_at
        if not created or (floor is not None and created < floor):  # 0: the server did not say when (or lied)
            continue
        counted += 1
        status = batch.status
        if status in outcomes:
            outcomes[status] += 1
        elif status in ACTIVE_STATUSES:
            active += 1
        day = created // _DAY if utc else day_of(created)
        day_batches[day] = day_batches.get(day, 0) + 1
        usage = batch.usage
        if usage is not None:
            input_tokens, output_tokens = usage.input_tokens, usage.output_tokens
            if input_tokens or output_tokens:
                cached = usage.input_tokens_details.cached_tokens
                model = batch.model
                key = (day, model, created // _DAY)
                group = usage_groups.get(key)
                if group is None:
                    group = usage_groups[key] = [0, 0, 0, []]
                group[0] += input_tokens
                group[1] += cached
                group[2] += output_tokens
                one_by_one = per_request.get(model)
                if one_by_one is None:
                    one_by_one = per_request[model] = priced_per_request(model)
                if one_by_one:
                    counts = batch.request_counts
                    group[3].append((input_tokens, output_tokens, cached, created,
                                     max(counts.completed if counts is not None else 0, 1)))

        completed_at = batch.completed_at
        if status != "completed" or completed_at is None or completed_at < created:
            continue
        seconds = completed_at - created
        turnaround.append(seconds)
        by_model[batch.model or UNKNOWN_MODEL].append(seconds)
        by_endpoint[batch.endpoint].append(seconds)
        counts = batch.request_counts or _NO_COUNTS
        by_band[size_band(counts.total)].append(seconds)
        started, finalized = batch.in_progress_at, batch.finalizing_at
        if started is not None and started >= created:
            validating.append(started - created)
        if finalized is not None and finalized <= completed_at:
            finalizing.append(completed_at - finalized)
            if started is not None and started <= finalized:
                in_progress.append(finalized - started)
                done = counts.completed + counts.failed
                if finalized > started and done:
                    rates.append(done / (finalized - started) * 60.0)

    tallies = {day: _DayTally(batches=n) for day, n in day_batches.items()}
    for (day, model, utc_day), (input_tokens, cached, output_tokens, items) in usage_groups.items():
        tally = tallies[day]
        tally.input_tokens += input_tokens
        tally.cached_tokens += cached
        tally.output_tokens += output_tokens
        cost = _group_total(model, input_tokens, output_tokens, cached, utc_day, items)
        if cost is None:
            tally.unpriced.add(model or UNKNOWN_MODEL)
        else:
            tally.cost += cost
            tally.priced = True

    finished = sum(outcomes.values())
    per_day = _per_day(tallies, day_of(now.timestamp())) if tallies else []
    unpriced = sorted({model for tally in tallies.values() for model in tally.unpriced})
    priced_any = any(tally.priced for tally in tallies.values())
    histogram = [0] * len(TURNAROUND_BUCKETS)
    for seconds in turnaround:
        histogram[bisect_right(_BUCKET_TOPS, seconds)] += 1
    return BatchStats(
        since=since,
        now=now,
        batches=counted,
        finished=finished,
        active=active,
        outcomes=outcomes,
        shares={status: (n / finished if finished else 0.0) for status, n in outcomes.items()},
        turnaround=Percentiles.of(turnaround),
        phases={
            "validating": Percentiles.of(validating),
            "in_progress": Percentiles.of(in_progress),
            "finalizing": Percentiles.of(finalizing),
        },
        by_model=_grouped(by_model),
        by_endpoint=_grouped(by_endpoint),
        by_size_band={band: Percentiles.of(by_band[band]) for band in _BAND_LABELS if band in by_band},
        lines_per_minute=Percentiles.of(rates),
        input_tokens=sum(tally.input_tokens for tally in tallies.values()),
        cached_tokens=sum(tally.cached_tokens for tally in tallies.values()),
        output_tokens=sum(tally.output_tokens for tally in tallies.values()),
        cost_usd=sum((tally.cost for tally in tallies.values()), Decimal(0)) if priced_any or not unpriced else None,
        unpriced_models=tuple(unpriced),
        per_day=per_day,
        turnaround_histogram=[(label, n) for (label, _), n in zip(TURNAROUND_BUCKETS, histogram, strict=True)],
        timezone=str(tz),
    )


def _group_total(model: str | None, input_tokens: int, output_tokens: int, cached: int, utc_day: int,
                 batches: Sequence[tuple[int, int, int, int, int]]) -> Decimal | None:
    """The cost of a group of batches of one model created on one UTC day (days since the epoch), from their summed
    tokens; a model priced per request needs each batch's (input, output, cached, created_at, requests done)."""
    if priced_per_request(model):
        costs = [batch_usage_cost(model, *batch) for batch in batches]
        return None if None in costs else sum((cost.total_usd for cost in costs if cost), Decimal(0))
    rates = rates_on(model, utc_day)
    return rates.total(input_tokens, output_tokens, cached) if rates is not None else None


def _aware(moment: datetime, tz: tzinfo) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def _grouped(groups: dict[str, list[int]]) -> dict[str, Percentiles]:
    return {key: Percentiles.of(groups[key]) for key in sorted(groups)}


def _per_day(tallies: dict[int, _DayTally], today: int) -> list[DayFigures]:
    empty = _DayTally()
    return [
        tallies.get(day, empty).figures(date.fromordinal(_EPOCH_ORDINAL + day))
        for day in range(min(tallies), max(max(tallies), today) + 1)
    ]


def _day_function(tz: tzinfo) -> Callable[[float], int]:
    """The calendar day in `tz` of an epoch timestamp, as days since 1970-01-01. It runs once per batch: integer
    arithmetic for UTC; elsewhere one conversion per quarter hour (every zone's offset is a multiple of one)."""
    if tz is UTC:
        return lambda ts: int(ts // _DAY)
    seen: dict[int, int] = {}

    def day_of(ts: float) -> int:
        slot = int(ts // 900)
        day = seen.get(slot)
        if day is None:
            day = seen[slot] = datetime.fromtimestamp(slot * 900, tz).toordinal() - _EPOCH_ORDINAL
        return day

    return day_of


def band_range(total: int) -> tuple[int, float]:
    """The request counts of the size band `total` is in: from (inclusive), to (exclusive)."""
    index = max(0, bisect_right(_BAND_FLOORS, total) - 1)
    return _BAND_FLOORS[index], (_BAND_FLOORS[index + 1] if index + 1 < len(_BAND_FLOORS) else float("inf"))


def _usd_json(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)

"""How long the account's batches take and what they cost, and when an active batch should finish.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from functools import lru_cache
from typing import Any

from openai.types import Batch

from batchtui.core.cache import ACTIVE_STATUSES
from batchtui.core.pricing import Cost, price_of

__all__ = [
    "BASIS_ALL",
    "BASIS_MODEL",
    "BASIS_MODEL_AND_BAND",
    "OUTCOMES",
    "PHASES",
    "SIZE_BANDS",
    "TURNAROUND_BUCKETS",
    "UNKNOWN_MODEL",
    "BatchStats",
    "DayFigures",
    "Expectation",
    "Percentiles",
    "batch_cost",
    "batch_stats",
    "cost_note",
    "expected_finish",
    "format_usd",
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

PHASES = ("validating", "in_progress", "finalizing")
"""validating = in_progress_at - created_at, in_progress = finalizing_at - in_progress_at,
finalizing = completed_at - finalizing_at."""

OUTCOMES = ("completed", "failed", "expired", "cancelled")
"""The statuses a batch finishes in, in the order they are reported."""

UNKNOWN_MODEL = "unknown"
"""The model name used for batches that do not say their model."""

BASIS_MODEL_AND_BAND = "same model and size band"
BASIS_MODEL = "same model"
BASIS_ALL = "all batches"

_BAND_FLOORS = [floor for _, floor in SIZE_BANDS]
_BUCKET_TOPS = [top for _, top in TURNAROUND_BUCKETS]
_MILLION = 1_000_000
_DAY = 86_400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


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
        return cls(_rank(ordered, 50), _rank(ordered, 90), float(ordered[-1]), len(ordered))

    def to_dict(self) -> dict[str, Any]:
        return {"p50": self.p50, "p90": self.p90, "max": self.max, "count": self.count}


def _rank(ordered: Sequence[float], percent: int) -> float:
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
    cost: Decimal = field(default_factory=Decimal)
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
    prices are looked up once per model and price period, not per batch."""
    now = (
        _aware(now, tz)
        if isinstance(now, datetime)
        else datetime.fromtimestamp(time.time() if now is None else now, UTC)
    )
    since = _aware(since, tz) if since is not None else None
    floor = since.timestamp() if since is not None else None
    day_of = _day_function(tz)
    book = _PriceBook()

    counted = active = 0
    outcomes = dict.fromkeys(OUTCOMES, 0)
    turnaround: list[float] = []
    phases: dict[str, list[float]] = {phase: [] for phase in PHASES}
    by_model: defaultdict[str, list[float]] = defaultdict(list)
    by_endpoint: defaultdict[str, list[float]] = defaultdict(list)
    by_band: defaultdict[str, list[float]] = defaultdict(list)
    rates: list[float] = []
    days: defaultdict[date, _DayTally] = defaultdict(_DayTally)

    for batch in batches:
        created = batch.created_at
        if floor is not None and created < floor:
            continue
        counted += 1
        status = batch.status
        if status in outcomes:
            outcomes[status] += 1
        elif status in ACTIVE_STATUSES:
            active += 1
        tally = days[day_of(created)]
        tally.batches += 1
        model = batch.model or UNKNOWN_MODEL
        usage = batch.usage
        if usage is not None and (usage.input_tokens or usage.output_tokens):
            cached = _cached_tokens(usage)
            tally.input_tokens += usage.input_tokens
            tally.cached_tokens += cached
            tally.output_tokens += usage.output_tokens
            cost = book.total(batch.model, usage.input_tokens, usage.output_tokens, cached, created)
            if cost is None:
                tally.unpriced.add(model)
            else:
                tally.cost += cost
                tally.priced = True

        completed_at = batch.completed_at
        if status != "completed" or completed_at is None or completed_at < created:
            continue
        seconds = float(completed_at - created)
        turnaround.append(seconds)
        by_model[model].append(seconds)
        by_endpoint[batch.endpoint].append(seconds)
        counts = batch.request_counts
        by_band[size_band(counts.total if counts else 0)].append(seconds)
        started, finalizing = batch.in_progress_at, batch.finalizing_at
        if started is not None and started >= created:
            phases["validating"].append(float(started - created))
        if finalizing is not None and finalizing <= completed_at:
            phases["finalizing"].append(float(completed_at - finalizing))
            if started is not None and started <= finalizing:
                phases["in_progress"].append(float(finalizing - started))
                done = (counts.completed + counts.failed) if counts else 0
                if finalizing > started and done:
                    rates.append(done / (finalizing - started) * 60.0)

    finished = sum(outcomes.values())
    per_day = _per_day(days, day_of(now.timestamp())) if days else []
    unpriced = sorted({model for day in per_day for model in day.unpriced_models})
    priced_any = any(tally.priced for tally in days.values())
    band_order = [label for label, _ in SIZE_BANDS]
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
        phases={phase: Percentiles.of(values) for phase, values in phases.items()},
        by_model=_grouped(by_model),
        by_endpoint=_grouped(by_endpoint),
        by_size_band={band: Percentiles.of(by_band[band]) for band in band_order if band in by_band},
        lines_per_minute=Percentiles.of(rates),
        input_tokens=sum(day.input_tokens for day in per_day),
        cached_tokens=sum(day.cached_tokens for day in per_day),
        output_tokens=sum(day.output_tokens for day in per_day),
        cost_usd=sum((day.cost_usd or Decimal(0) for day in per_day), Decimal(0))
        if priced_any or not unpriced
        else None,
        unpriced_models=tuple(unpriced),
        per_day=per_day,
        turnaround_histogram=[(label, n) for (label, _), n in zip(TURNAROUND_BUCKETS, histogram, strict=True)],
        timezone=str(tz),
    )


def _aware(moment: datetime, tz: tzinfo) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def _grouped(groups: dict[str, list[float]]) -> dict[str, Percentiles]:
    return {key: Percentiles.of(groups[key]) for key in sorted(groups)}


def _per_day(days: dict[date, _DayTally], today: date) -> list[DayFigures]:
    first, last = min(days), max(max(days), today)
    empty = _DayTally()
    return [
        days.get(day, empty).figures(day) for day in (first + timedelta(days=n) for n in range((last - first).days + 1))
    ]


def _day_function(tz: tzinfo):
    """The calendar day of an epoch timestamp in `tz` (integer arithmetic for UTC: this runs once per batch)."""
    if tz is UTC:
        return lambda ts: date.fromordinal(_EPOCH_ORDINAL + int(ts // _DAY))
    return lambda ts: datetime.fromtimestamp(ts, tz).date()


def _cached_tokens(usage: Any) -> int:
    details = getattr(usage, "input_tokens_details", None)
    return getattr(details, "cached_tokens", 0) or 0


# --- cost ------------------------------------------------------------------------------------------------------


def batch_cost(batch: Batch) -> Cost | None:
    """What the batch's usage costs at batch prices as of its creation; None without usage, model or price."""
    usage = batch.usage
    if usage is None or not batch.model:
        return None
    at = datetime.fromtimestamp(batch.created_at, UTC)
    return price_of(batch.model, usage.input_tokens, usage.output_tokens, _cached_tokens(usage), at=at)


def format_usd(amount: Decimal) -> str:
    """'$1,234.56', '$0.00', or '<$0.01' for a cost too small to show in cents."""
    if 0 < amount < Decimal("0.005"):
        return "<$0.01"
    return f"${amount:,.2f}"


def cost_note(batch: Batch) -> str:
    """A list column's cost: '$1.23', 'no price for <model>', or '' while the batch has used no tokens."""
    usage = batch.usage
    if usage is None or not (usage.input_tokens or usage.output_tokens):
        return ""
    cost = batch_cost(batch)
    if cost is None:
        return f"no price for {batch.model or 'an unknown model'}"
    return format_usd(cost.total_usd)


@dataclass(frozen=True)
class _Rates:
    """USD per million uncached input, cached input and output tokens, for one model in one price period."""

    input: Decimal
    cached: Decimal
    output: Decimal


class _PriceBook:
    """Batch costs equal to `batch_cost`'s, without calling price_of per batch (half a millisecond each).

    A model whose prices are flat per token is priced from its rates per million tokens, looked up once for each
    period between the dates its prices change (genai-prices' start-date constraints). A model with tiered or
    time-of-day prices, or one whose price data is not in the expected shape, is priced batch by batch."""

    def __init__(self) -> None:
        self._plans: dict[str, tuple[list[int], bool] | None] = {}
        self._rates: dict[tuple[str, int], _Rates | None] = {}

    def total(self, model: str | None, input_tokens: int, output_tokens: int, cached: int, at: int) -> Decimal | None:
        if not model:
            return None
        if model not in self._plans:
            self._plans[model] = _price_plan(model, at)
        plan = self._plans[model]
        if plan is None:
            return None
        change_days, flat = plan
        if not flat:
            return _exact_total(model, input_tokens, output_tokens, cached, at)
        key = (model, bisect_right(change_days, at // _DAY))
        if key not in self._rates:
            self._rates[key] = _rates(model, datetime.fromtimestamp(at, UTC))
        rates = self._rates[key]
        if rates is None:
            return None
        return (rates.input * (input_tokens - cached) + rates.cached * cached + rates.output * output_tokens) / _MILLION


def _price_plan(model: str, at: int) -> tuple[list[int], bool] | None:
    """None when genai-prices has no price for the model; else the days (since the epoch, UTC) on which its prices
    change, and whether they are flat per token (no tiers, no time-of-day prices, no fee per request) so that rates
    per million tokens give price_of's exact figures."""
    if price_of(model, _MILLION, _MILLION, at=datetime.fromtimestamp(at, UTC)) is None:
        return None
    try:
        from genai_prices.data_snapshot import get_snapshot
        from genai_prices.types import ModelPrice, StartDateConstraint

        _, info = get_snapshot().find_provider_model(model, None, "openai", None)
        conditional = [] if isinstance(info.prices, ModelPrice) else list(info.prices)
        priced = [*conditional, *(info.price_variants or ())]
        prices = [info.prices] if isinstance(info.prices, ModelPrice) else [c.prices for c in conditional]
        prices += [variant.prices for variant in info.price_variants or ()]
        constraints = [item.constraint for item in priced if item.constraint is not None]
        flat = all(isinstance(c, StartDateConstraint) for c in constraints) and all(
            value is None or (isinstance(value, Decimal | int) and name != "requests_kcount")
            for price in prices
            for name, value in vars(price).items()
        )
        days = sorted({c.start_date.toordinal() - _EPOCH_ORDINAL for c in constraints if flat})
    except Exception:  # noqa: BLE001 - any surprise in genai-prices' data: price each batch with price_of instead
        return [], False
    return days, flat


def _rates(model: str, at: datetime) -> _Rates | None:
    full = price_of(model, _MILLION, _MILLION, at=at)
    cached = price_of(model, _MILLION, 0, _MILLION, at=at)
    if full is None or cached is None:
        return None
    return _Rates(full.input_usd, cached.cached_usd, full.output_usd)


@lru_cache(maxsize=65_536)
def _exact_total(model: str, input_tokens: int, output_tokens: int, cached: int, at: int) -> Decimal | None:
    cost = price_of(model, input_tokens, output_tokens, cached, at=datetime.fromtimestamp(at, UTC))
    return cost.total_usd if cost is not None else None


# --- expected finish -------------------------------------------------------------------------------------------


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
    counts = batch.request_counts
    band = size_band(counts.total) if counts and counts.total else None
    same_band: list[float] = []
    same_model: list[float] = []
    everyone: list[float] = []
    for past in history:
        if past.status != end_status or past.id == batch.id:
            continue
        began, ended = getattr(past, start_field), getattr(past, end_field)
        if began is None or ended is None or ended < began:
            continue
        seconds = float(ended - began)
        everyone.append(seconds)
        if batch.model and past.model == batch.model:
            same_model.append(seconds)
            past_counts = past.request_counts
            if band is not None and past_counts and size_band(past_counts.total) == band:
                same_band.append(seconds)
    for basis, durations in ((BASIS_MODEL_AND_BAND, same_band), (BASIS_MODEL, same_model), (BASIS_ALL, everyone)):
        if durations:
            return Expectation(finish_at=start + _rank(sorted(durations), 50), basis=basis, similar=len(durations))
    return None


def _usd_json(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)

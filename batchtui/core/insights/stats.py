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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache
from typing import Any

from openai.types import Batch

from batchtui.core.cache.store import ACTIVE_STATUSES
from batchtui.core.insights.pricing import Cost, price_of, usd

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
    "cost_notes",
    "expected_finish",
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

_BAND_LABELS = [label for label, _ in SIZE_BANDS]
_BAND_FLOORS = [floor for _, floor in SIZE_BANDS]
_BUCKET_TOPS = [top for _, top in TURNAROUND_BUCKETS]
_MILLION = 1_000_000
_DAY = 86_400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_NO_COUNTS = {"total": 0, "completed": 0, "failed": 0}


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
    book = _PriceBook()
    per_batch: dict[str | None, bool] = {}

    # Fields are read from each model's __dict__: on pydantic models that is three times faster than attributes.
    for batch in batches:
        fields = batch.__dict__
        created = fields["created_at"]
        if not created or (floor is not None and created < floor):  # 0: the server did not say when (or lied)
            continue
        counted += 1
        status = fields["status"]
        if status in outcomes:
            outcomes[status] += 1
        elif status in ACTIVE_STATUSES:
            active += 1
        day = created // _DAY if utc else day_of(created)
        day_batches[day] = day_batches.get(day, 0) + 1
        usage = fields["usage"]
        if usage is not None:
            tokens = usage.__dict__
            input_tokens, output_tokens = tokens["input_tokens"], tokens["output_tokens"]
            if input_tokens or output_tokens:
                details = tokens["input_tokens_details"]
                cached = (details.cached_tokens or 0) if details is not None else 0
                model = fields["model"]
                key = (day, model, created // _DAY)
                group = usage_groups.get(key)
                if group is None:
                    group = usage_groups[key] = [0, 0, 0, []]
                group[0] += input_tokens
                group[1] += cached
                group[2] += output_tokens
                one_by_one = per_batch.get(model)
                if one_by_one is None:
                    one_by_one = per_batch[model] = book.per_batch(model, created)
                if one_by_one:
                    counts = fields["request_counts"]
                    group[3].append((input_tokens, output_tokens, cached, created,
                                     max(counts.completed if counts is not None else 0, 1)))

        completed_at = fields["completed_at"]
        if status != "completed" or completed_at is None or completed_at < created:
            continue
        seconds = completed_at - created
        turnaround.append(seconds)
        by_model[fields["model"] or UNKNOWN_MODEL].append(seconds)
        by_endpoint[fields["endpoint"]].append(seconds)
        counts = fields["request_counts"]
        counts = counts.__dict__ if counts is not None else _NO_COUNTS
        by_band[_BAND_LABELS[bisect_right(_BAND_FLOORS, counts["total"]) - 1]].append(seconds)
        started, finalized = fields["in_progress_at"], fields["finalizing_at"]
        if started is not None and started >= created:
            validating.append(started - created)
        if finalized is not None and finalized <= completed_at:
            finalizing.append(completed_at - finalized)
            if started is not None and started <= finalized:
                in_progress.append(finalized - started)
                done = counts["completed"] + counts["failed"]
                if finalized > started and done:
                    rates.append(done / (finalized - started) * 60.0)

    tallies = {day: _DayTally(batches=n) for day, n in day_batches.items()}
    for (day, model, utc_day), (input_tokens, cached, output_tokens, items) in usage_groups.items():
        tally = tallies[day]
        tally.input_tokens += input_tokens
        tally.cached_tokens += cached
        tally.output_tokens += output_tokens
        cost = book.total(model, input_tokens, output_tokens, cached, utc_day, items)
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


def _cached_tokens(usage: Any) -> int:
    details = usage.input_tokens_details
    return (details.cached_tokens or 0) if details is not None else 0


# --- cost ------------------------------------------------------------------------------------------------------


def batch_cost(batch: Batch) -> Cost | None:
    """What the batch's usage costs at batch prices as of its creation; None without usage, model or price."""
    usage = batch.usage
    if usage is None or not batch.model:
        return None
    tokens = (usage.input_tokens, usage.output_tokens, _cached_tokens(usage))
    if _flat_prices(batch.model):
        return price_of(batch.model, *tokens, at=datetime.fromtimestamp(batch.created_at, UTC))
    return _tiered_cost(batch.model, *tokens, batch.created_at, _requests_done(batch))


def _requests_done(batch: Batch) -> int:
    counts = batch.request_counts
    return max(counts.completed if counts is not None else 0, 1)


def _tiered_cost(model: str, input_tokens: int, output_tokens: int, cached: int, at: int, requests: int,
                 ) -> Cost | None:
    """A batch's cost for a model whose rate depends on the size of a request (say, twice the rate past 272k input
    tokens): the tier applies to each request, not to the batch's sum, so the batch is priced as `requests`
    requests of its average usage (rounded down to whole tokens, a fraction of a cent per batch)."""
    each = price_of(model, input_tokens // requests, output_tokens // requests,
                    min(cached, input_tokens) // requests, at=datetime.fromtimestamp(at, UTC))
    return each.times(requests) if each is not None else None


@lru_cache(maxsize=256)
def _flat_prices(model: str) -> bool:
    """Whether the model's price per token is the same however big a request is (or it has no price)."""
    plan = _price_plan(model, int(time.time()))
    return plan is None or plan[1]


def cost_note(batch: Batch) -> str:
    """A list column's cost: '$1.23', 'no price for <model>', or '' while the batch has used no tokens."""
    usage = batch.usage
    if usage is None or not (usage.input_tokens or usage.output_tokens):
        return ""
    cost = batch_cost(batch)
    if cost is None:
        return f"no price for {batch.model or 'an unknown model'}"
    return usd(cost.total_usd)


def cost_notes(batches: Iterable[Batch]) -> dict[str, str]:
    """`cost_note` of many batches at once (for a list of 10,000), priced from each model's rates per million
    tokens instead of a price_of call (half a millisecond) per batch; batches with no tokens are left out."""
    book, notes = _PriceBook(), {}
    for batch in batches:
        usage = batch.usage
        if usage is None or not (usage.input_tokens or usage.output_tokens):
            continue
        cached = _cached_tokens(usage)
        tokens = (usage.input_tokens, usage.output_tokens, cached)
        total = book.total(batch.model, *tokens, int(batch.created_at // _DAY),
                           [(*tokens, batch.created_at, _requests_done(batch))])
        notes[batch.id] = usd(total) if total is not None else f"no price for {batch.model or 'an unknown model'}"
    return notes


@dataclass(frozen=True)
class _Rates:
    """USD per million uncached input, cached input and output tokens, for one model in one price period."""

    input: Decimal
    cached: Decimal
    output: Decimal


class _PriceBook:
    """Costs equal to the sum of `batch_cost` over a group of batches, without calling price_of for each (half a
    millisecond a call).

    A model whose prices are flat per token is priced from its rates per million tokens, looked up once for each
    period between the dates its prices change (genai-prices' start-date constraints), times the group's tokens.
    A model with tiered or time-of-day prices, or whose price data is not in the expected shape, is priced batch by
    batch as `batch_cost` does, request by request (memoised across calls)."""

    def __init__(self) -> None:
        self._plans: dict[str, tuple[list[int], bool] | None] = {}
        self._rates: dict[tuple[str, int], _Rates | None] = {}

    def per_batch(self, model: str | None, at: int) -> bool:
        """Whether the model's batches must be priced one by one: it has a price, and the price is not flat."""
        plan = self._plan(model, at)
        return plan is not None and not plan[1]

    def total(
        self,
        model: str | None,
        input_tokens: int,
        output_tokens: int,
        cached: int,
        utc_day: int,
        batches: Sequence[tuple[int, int, int, int, int]] = (),
    ) -> Decimal | None:
        """The cost of a group of batches of one model created on one UTC day (days since the epoch), from their
        summed tokens; a model priced per batch needs each batch's (input, output, cached, created_at, requests
        done)."""
        midday = utc_day * _DAY + _DAY // 2
        plan = self._plan(model, midday)
        if plan is None or not model:
            return None
        change_days, flat = plan
        if not flat:
            costs = [_tiered_total(model, *batch) for batch in batches]
            return None if None in costs else sum(costs, Decimal(0))  # type: ignore[arg-type]
        key = (model, bisect_right(change_days, utc_day))
        if key not in self._rates:
            self._rates[key] = _rates(model, datetime.fromtimestamp(midday, UTC))
        rates = self._rates[key]
        if rates is None:
            return None
        return (rates.input * (input_tokens - cached) + rates.cached * cached + rates.output * output_tokens) / _MILLION

    def _plan(self, model: str | None, at: int) -> tuple[list[int], bool] | None:
        if not model:
            return None
        if model not in self._plans:
            self._plans[model] = _price_plan(model, at)
        return self._plans[model]


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
    except Exception:  # any surprise in genai-prices' data: price each batch with price_of instead
        return [], False
    return days, flat


def _rates(model: str, at: datetime) -> _Rates | None:
    full = price_of(model, _MILLION, _MILLION, at=at)
    cached = price_of(model, _MILLION, 0, _MILLION, at=at)
    if full is None or cached is None:
        return None
    return _Rates(full.input_usd, cached.cached_usd, full.output_usd)


@lru_cache(maxsize=65_536)
def _tiered_total(model: str, input_tokens: int, output_tokens: int, cached: int, at: int, requests: int,
                  ) -> Decimal | None:
    cost = _tiered_cost(model, input_tokens, output_tokens, cached, at, requests)
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
    if not start:  # the server gave no usable time to count from
        return None
    counts = batch.request_counts
    band = _band_range(counts.total) if counts and counts.total else None
    model, own_id = batch.model, batch.id
    same_band: list[int] = []
    same_model: list[int] = []
    everyone: list[int] = []
    for past in history:
        fields = past.__dict__  # as in batch_stats: a third of the cost of attribute reads
        if fields["status"] != end_status or fields["id"] == own_id:
            continue
        began, ended = fields[start_field], fields[end_field]
        if began is None or ended is None or ended < began:
            continue
        seconds = ended - began
        everyone.append(seconds)
        if model and fields["model"] == model:
            same_model.append(seconds)
            past_counts = fields["request_counts"]
            if band is not None and past_counts is not None and band[0] <= past_counts.total < band[1]:
                same_band.append(seconds)
    for basis, durations in ((BASIS_MODEL_AND_BAND, same_band), (BASIS_MODEL, same_model), (BASIS_ALL, everyone)):
        if durations:
            return Expectation(finish_at=start + _rank(sorted(durations), 50), basis=basis, similar=len(durations))
    return None


def _band_range(total: int) -> tuple[int, float]:
    """The request counts of the size band `total` is in: from (inclusive), to (exclusive)."""
    index = max(0, bisect_right(_BAND_FLOORS, total) - 1)
    return _BAND_FLOORS[index], (_BAND_FLOORS[index + 1] if index + 1 < len(_BAND_FLOORS) else float("inf"))


def _usd_json(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)

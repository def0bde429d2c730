"""Batch stats on an account with known timings, costs at batch prices, and expected finishes from history."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from stats_batches import (
    CHAT,
    COMPLETED,
    DAY,
    EMBEDDINGS,
    OTHERS,
    RESPONSES,
    D,
    H,
    completed,
    make_batch,
    usage,
)

from batchtui.core.api.client import BatchService
from batchtui.core.api.models import Batch
from batchtui.core.config import Profile
from batchtui.core.domain import ACTIVE_STATUSES, TERMINAL_STATUSES
from batchtui.core.insights.pricing import (
    batch_cost,
    batch_usage_cost,
    cost_note,
    cost_notes,
    price_of,
    priced_per_request,
    rates_on,
    usd,
)
from batchtui.core.insights.progress import BASIS_ALL, BASIS_MODEL, BASIS_MODEL_AND_BAND, Expectation, expected_finish
from batchtui.core.insights.stats import SIZE_BANDS, TURNAROUND_BUCKETS, Percentiles, batch_stats, size_band
from batchtui.sandbox import SandboxConfig, SandboxServer

DAY0 = datetime(2025, 6, 2, tzinfo=UTC)
NOW = D + 4 * DAY + 12 * H




ACCOUNT = COMPLETED + OTHERS


def cost(batch: Batch) -> Decimal:
    """The cost price_of gives the batch's usage at batch prices, as of its creation."""
    u = batch.usage
    assert u is not None and batch.model
    at = datetime.fromtimestamp(batch.created_at, UTC)
    priced = price_of(batch.model, u.input_tokens, u.output_tokens, u.input_tokens_details.cached_tokens, at=at)
    assert priced is not None
    return priced.total_usd


def by_id(*ids: str) -> list[Batch]:
    return [batch for batch in ACCOUNT if batch.id in ids]


# --- percentiles and bands ---


def test_percentiles_are_nearest_rank():
    assert Percentiles.of([]) == Percentiles(None, None, None, 0)
    assert Percentiles.of([7]) == Percentiles(7.0, 7.0, 7.0, 1)
    assert Percentiles.of([4, 1, 3, 2]) == Percentiles(2.0, 4.0, 4.0, 4)  # linear interpolation would say 2.5
    assert Percentiles.of(range(10, 0, -1)) == Percentiles(5.0, 9.0, 10.0, 10)
    assert Percentiles.of(range(1, 101)) == Percentiles(50.0, 90.0, 100.0, 100)
    assert Percentiles.of(range(1, 12)).p90 == 10.0  # rank ceil(9.9) = 10


def test_size_bands_by_request_count():
    assert [label for label, _ in SIZE_BANDS] == ["<100", "100-1k", "1k-10k", "10k-50k", ">50k"]
    cases = {0: "<100", 99: "<100", 100: "100-1k", 999: "100-1k", 1000: "1k-10k", 9_999: "1k-10k",
             10_000: "10k-50k", 50_000: "10k-50k", 50_001: ">50k", 100_000: ">50k"}  # fmt: skip
    assert {total: size_band(total) for total in cases} == cases


# --- the seeded account ---


def test_counts_and_shares_of_finished_batches():
    stats = batch_stats(ACCOUNT, now=NOW)
    assert (stats.batches, stats.finished, stats.active) == (16, 14, 2)
    assert stats.outcomes == {"completed": 10, "failed": 2, "expired": 1, "cancelled": 1}
    assert stats.shares == {"completed": 10 / 14, "failed": 2 / 14, "expired": 1 / 14, "cancelled": 1 / 14}
    assert batch_stats([], now=NOW).shares == {"completed": 0.0, "failed": 0.0, "expired": 0.0, "cancelled": 0.0}


def test_turnaround_and_phase_percentiles():
    stats = batch_stats(ACCOUNT, now=NOW)
    # turnarounds: 45 240 660 1500 2000 3900 7800 12000 30000 84000
    assert stats.turnaround == Percentiles(2000.0, 30000.0, 84000.0, 10)
    assert stats.phases == {
        "validating": Percentiles(100.0, 600.0, 900.0, 10),
        "in_progress": Percentiles(1680.0, 28800.0, 80000.0, 10),
        "finalizing": Percentiles(200.0, 1200.0, 3100.0, 10),
    }


def test_turnaround_by_model_endpoint_and_size_band():
    stats = batch_stats(ACCOUNT, now=NOW)
    assert stats.by_model == {
        "gpt-4.1": Percentiles(1500.0, 12000.0, 12000.0, 2),
        "gpt-4o-mini": Percentiles(2000.0, 84000.0, 84000.0, 6),
        "my-own-model": Percentiles(45.0, 45.0, 45.0, 1),
        "text-embedding-3-small": Percentiles(30000.0, 30000.0, 30000.0, 1),
    }
    assert stats.by_endpoint == {
        CHAT: Percentiles(2000.0, 84000.0, 84000.0, 7),
        EMBEDDINGS: Percentiles(30000.0, 30000.0, 30000.0, 1),
        RESPONSES: Percentiles(1500.0, 12000.0, 12000.0, 2),
    }
    assert list(stats.by_size_band) == ["<100", "100-1k", "1k-10k", "10k-50k"]
    assert stats.by_size_band == {
        "<100": Percentiles(240.0, 660.0, 660.0, 3),
        "100-1k": Percentiles(2000.0, 3900.0, 3900.0, 3),
        "1k-10k": Percentiles(7800.0, 12000.0, 12000.0, 2),
        "10k-50k": Percentiles(30000.0, 84000.0, 84000.0, 2),
    }


def test_lines_per_minute_counts_completed_and_failed_lines_over_in_progress_time():
    stats = batch_stats(ACCOUNT, now=NOW)
    # c1 30, c2 10, c3 21.4, c4 13.3, c5 43.5, c6 15.6, c7 11.3, c8 41.7, c9 80, c10 37.5
    assert stats.lines_per_minute.count == 10
    assert stats.lines_per_minute.p50 == pytest.approx(600 / 1680 * 60)
    assert stats.lines_per_minute.p90 == pytest.approx(5000 / 6900 * 60)
    assert stats.lines_per_minute.max == pytest.approx(80.0)


def test_turnaround_histogram_has_every_bucket():
    stats = batch_stats(ACCOUNT, now=NOW)
    assert [label for label, _ in stats.turnaround_histogram] == [label for label, _ in TURNAROUND_BUCKETS]
    assert dict(stats.turnaround_histogram) == {
        "<1m": 1, "1-5m": 1, "5-15m": 1, "15-30m": 1, "30-60m": 1, "1-2h": 1,
        "2-4h": 2, "4-8h": 0, "8-12h": 1, "12-24h": 1, "24h+": 0,
    }  # fmt: skip
    assert dict(batch_stats([], now=NOW).turnaround_histogram) == dict.fromkeys(dict(TURNAROUND_BUCKETS), 0)


def test_tokens_and_cost_per_day_at_batch_prices():
    stats = batch_stats(ACCOUNT, now=NOW)
    days = {day.date: day for day in stats.per_day}
    assert list(days) == [date(2025, 6, 2) + timedelta(days=n) for n in range(5)]  # day 2 and today have no batches
    day0, day1, day2, day3, day4 = stats.per_day
    assert (day0.batches, day0.input_tokens, day0.cached_tokens, day0.output_tokens) == (4, 150_000, 32_000, 67_500)
    assert day0.cost_usd == sum(cost(b) for b in by_id("c1", "c2", "c3"))
    c1 = price_of("gpt-4o-mini", 12_000, 3_000, 2_000, at=datetime.fromtimestamp(D + H, UTC))
    assert c1 is not None and "batch" in c1.basis and batch_cost(COMPLETED[0]) == c1
    assert day0.unpriced_models == ()
    assert day1.batches == 9 and day1.unpriced_models == ()
    assert day1.cost_usd == sum(cost(b) for b in by_id("c4", "c5", "c6", "c7", "c8", "c10", "e1", "x1"))
    assert (day2.batches, day2.input_tokens, day2.cost_usd) == (0, 0, Decimal(0))
    assert (day3.batches, day3.input_tokens, day3.output_tokens) == (3, 8_000, 2_000)
    assert day3.cost_usd is None and day3.unpriced_models == ("my-own-model",)  # no price is not $0
    assert day4.batches == 0
    priced = [b for b in ACCOUNT if b.usage and b.model != "my-own-model"]
    assert stats.cost_usd == sum(cost(b) for b in priced) > 0
    assert stats.unpriced_models == ("my-own-model",)
    assert stats.input_tokens == sum(b.usage.input_tokens for b in ACCOUNT if b.usage)
    assert stats.output_tokens == sum(b.usage.output_tokens for b in ACCOUNT if b.usage)


def test_a_day_with_priced_and_unpriced_batches_shows_the_priced_cost_and_names_the_rest():
    mixed = [*by_id("c1"), completed("u1", D + 5 * H, "my-own-model", CHAT, 10, (1, 1, 1), (100, 0, 100))]
    stats = batch_stats(mixed, now=D + 6 * H)
    [day] = stats.per_day
    assert day.cost_usd == cost(COMPLETED[0]) and day.unpriced_models == ("my-own-model",)
    assert stats.cost_usd == cost(COMPLETED[0])
    only_unpriced = batch_stats(by_id("c9"), now=NOW)
    assert only_unpriced.cost_usd is None and only_unpriced.unpriced_models == ("my-own-model",)
    assert batch_stats(by_id("f1", "a2"), now=NOW).cost_usd == Decimal(0)  # no tokens: nothing to price


def test_since_counts_only_batches_created_from_then():
    since = DAY0 + timedelta(days=1)
    stats = batch_stats(ACCOUNT, since=since, now=NOW)
    assert stats.since == since
    assert (stats.batches, stats.finished, stats.active) == (12, 10, 2)
    assert stats.outcomes == {"completed": 7, "failed": 1, "expired": 1, "cancelled": 1}
    assert stats.turnaround.count == 7 and stats.per_day[0].date == date(2025, 6, 3)
    naive = batch_stats(ACCOUNT, since=since.replace(tzinfo=None), now=NOW)  # naive is read in UTC
    assert naive.batches == 12
    assert batch_stats(ACCOUNT, since=DAY0 + timedelta(days=10), now=NOW).per_day == []


def test_days_in_another_time_zone():
    late = make_batch("late", "failed", D + 23 * H + 1800)  # 23:30 UTC is 00:30 the next day in UTC+1
    plus_one = timezone(timedelta(hours=1))
    assert batch_stats([late], now=D + 23 * H + 1800).per_day[0].date == date(2025, 6, 2)
    in_plus_one = batch_stats([late], now=D + 23 * H + 1800, tz=plus_one)
    assert [day.date for day in in_plus_one.per_day] == [date(2025, 6, 3)]
    assert batch_stats([late], since=datetime(2025, 6, 3), now=NOW, tz=plus_one).batches == 1


def test_now_as_a_datetime_or_epoch_seconds():
    as_datetime = batch_stats(ACCOUNT, now=datetime.fromtimestamp(NOW, UTC))
    assert as_datetime == batch_stats(ACCOUNT, now=NOW)
    assert as_datetime.now == datetime.fromtimestamp(NOW, UTC)


def test_to_dict_is_json_ready_and_exact():
    stats = batch_stats(ACCOUNT, since=DAY0, now=NOW)
    data = json.loads(json.dumps(stats.to_dict()))
    assert data["batches"] == 16 and data["percentile_method"] == "nearest-rank"
    assert data["turnaround_seconds"] == {"p50": 2000.0, "p90": 30000.0, "max": 84000.0, "count": 10}
    assert Decimal(data["cost_usd"]) == stats.cost_usd
    assert data["per_day"][3]["cost_usd"] is None and data["per_day"][3]["unpriced_models"] == ["my-own-model"]
    assert data["turnaround_histogram"][0] == {"bucket": "<1m", "count": 1}
    assert data["since"] == "2025-06-02T00:00:00+00:00"
    assert data["size_bands"]["10k-50k"] == 10_000


# --- cost of one batch ---


def test_batch_cost_and_cost_note():
    c1 = COMPLETED[0]
    assert batch_cost(c1) is not None and batch_cost(c1).total_usd == cost(c1)
    assert cost_note(c1) == usd(cost(c1))
    c10 = by_id("c10")[0]
    assert cost_note(c10) == f"${cost(c10):,.2f}" and cost(c10) > 1
    unpriced = by_id("c9")[0]
    assert batch_cost(unpriced) is None and cost_note(unpriced) == "no price for my-own-model"
    running = by_id("a1")[0]
    assert batch_cost(running) is None and cost_note(running) == ""
    nameless = make_batch("n", "completed", D, model=None, usage=usage(10, 0, 10))
    assert batch_cost(nameless) is None and cost_note(nameless) == "no price for an unknown model"
    assert cost_note(make_batch("z", "completed", D, usage=usage(0, 0, 0))) == ""


@pytest.mark.parametrize(
    "model", ["gpt-4o-mini", "gpt-4.1", "o4-mini", "text-embedding-3-small", "omni-moderation-latest", "gpt-5.4"]
)
def test_the_rate_book_gives_price_ofs_figures_across_price_changes(model):
    """Flat-priced models are priced from rates per price period times summed tokens, tiered ones batch by batch:
    either way the figure is the sum of what price_of says for each batch."""
    for days in range(0, 800, 37):
        at = D + days * DAY - 200 * DAY
        group = [(1, 1, 0, at, 1), (123_457, 7_891, 23_456, at + 60, 1), (250_000_001, 3, 99_999, at + 120, 1)]
        expected = [price_of(model, i, o, c, at=datetime.fromtimestamp(t, UTC)) for i, o, c, t, _ in group]
        assert all(cost is not None for cost in expected)
        sums = [sum(batch[n] for batch in group) for n in range(3)]
        if priced_per_request(model):
            total = sum(batch_usage_cost(model, *batch).total_usd for batch in group)
        else:
            total = rates_on(model, at // DAY).total(*sums)
        assert total == sum(cost.total_usd for cost in expected)
    assert priced_per_request("gpt-5.4") and not priced_per_request("gpt-4o-mini")
    assert batch_usage_cost("my-own-model", 10, 10, 0, D, 1) is None and rates_on("my-own-model", D // DAY) is None
    assert batch_usage_cost(None, 10, 10, 0, D, 1) is None


def test_a_tiered_price_applies_to_each_request_not_to_the_batchs_sum():
    """gpt-5.4 charges more for a request past 272k input tokens: ten requests of 100k are ten small ones."""
    at = datetime.fromtimestamp(D, UTC)
    batch = make_batch("t", "completed", D, model="gpt-5.4", usage=usage(1_000_000, 0, 100_000))
    batch.request_counts.completed = 10
    one = price_of("gpt-5.4", 100_000, 10_000, at=at)
    assert batch_cost(batch).total_usd == 10 * one.total_usd < price_of("gpt-5.4", 1_000_000, 100_000, at=at).total_usd
    assert cost_notes([batch]) == {"t": usd(10 * one.total_usd)}
    assert batch_stats([batch], now=D + DAY).per_day[0].cost_usd == 10 * one.total_usd


# --- expected finish ---


def test_expected_finish_from_the_same_model_and_size_band():
    running = by_id("a1")[0]  # gpt-4o-mini, 700 lines, in progress: like c3 (1,880 s) and c4 (3,800 s) from there
    assert expected_finish(running, ACCOUNT) == Expectation(running.in_progress_at + 1880.0, BASIS_MODEL_AND_BAND, 2)


def test_expected_finish_falls_back_to_the_same_model():
    validating = by_id("a2")[0]  # no request count yet: the band is unknown; gpt-4o-mini turnaround p50 is 2,000 s
    assert expected_finish(validating, ACCOUNT) == Expectation(validating.created_at + 2000.0, BASIS_MODEL, 6)
    huge = make_batch(
        "huge", "in_progress", NOW - H, in_progress_at=NOW - 1800,
        request_counts={"total": 80_000, "completed": 0, "failed": 0},
    )  # fmt: skip
    # in_progress -> completed of gpt-4o-mini batches: 180 600 1880 3800 7500 83100
    assert expected_finish(huge, ACCOUNT) == Expectation(NOW - 1800 + 1880.0, BASIS_MODEL, 6)


def test_expected_finish_falls_back_to_all_batches():
    finalizing = make_batch(
        "fin",
        "finalizing",
        NOW - H,
        model="gpt-5-mini",
        in_progress_at=NOW - H + 60,
        finalizing_at=NOW - 300,
        request_counts={"total": 50, "completed": 50, "failed": 0},
    )
    # finalizing -> completed of all ten: 5 60 60 200 200 300 600 600 1200 3100
    assert expected_finish(finalizing, ACCOUNT) == Expectation(NOW - 300 + 200.0, BASIS_ALL, 10)


def test_expected_finish_of_a_cancelling_batch_from_past_cancellations():
    cancelling = make_batch("c", "cancelling", NOW - H, in_progress_at=NOW - H + 10, cancelling_at=NOW - 60)
    assert expected_finish(cancelling, ACCOUNT) == Expectation(NOW - 60 + 300.0, BASIS_MODEL, 1)


def test_no_expected_finish_without_history_or_for_finished_batches():
    assert expected_finish(by_id("a1")[0], []) is None
    assert expected_finish(by_id("a1")[0], OTHERS) is None  # no completed batch to learn from
    assert expected_finish(COMPLETED[0], ACCOUNT) is None
    itself = make_batch(
        "c3", "in_progress", NOW, in_progress_at=NOW, request_counts={"total": 600, "completed": 0, "failed": 0}
    )
    assert expected_finish(itself, by_id("c3")) is None  # a batch is not its own history


# --- scale and the demo account ---


def test_ten_thousand_batches():
    batches = [
        completed(f"b{i}", D + i * 60, ("gpt-4o-mini", "gpt-4.1", "my-own-model")[i % 3], CHAT, 100 + i,
                  (60, 600 + i % 900, 60), (1000 + i, i % 500, 500))
        for i in range(10_000)
    ]  # fmt: skip
    batch_stats(batches[:10], now=NOW)  # price data loaded
    stats = batch_stats(batches, now=D + 10_000 * 60)  # its speed is tests/bench/stats.py's to show
    assert stats.turnaround.count == 10_000 and stats.unpriced_models == ("my-own-model",)


async def test_stats_over_the_sandbox_demo_account():
    with SandboxServer(SandboxConfig(seed_demo=True)) as server:
        async with BatchService(Profile(name="demo", base_url=server.base_url, api_key="sk-test")) as service:
            batches = await service.list_batches()
    stats = batch_stats(batches)
    statuses = Counter(batch.status for batch in batches)
    assert stats.batches == len(batches) == sum(day.batches for day in stats.per_day)
    assert stats.finished == sum(n for status, n in statuses.items() if status in TERMINAL_STATUSES)
    assert stats.active == sum(n for status, n in statuses.items() if status in ACTIVE_STATUSES)
    assert stats.outcomes == {status: statuses[status] for status in stats.outcomes}
    assert stats.turnaround.count == statuses["completed"] > 0
    assert stats.cost_usd is not None and stats.cost_usd > 0 and stats.unpriced_models == ()
    assert sum(count for _, count in stats.turnaround_histogram) == statuses["completed"]
    json.dumps(stats.to_dict())
    for batch in batches:
        expectation = expected_finish(batch, batches)
        assert (expectation is not None) == (batch.status in ACTIVE_STATUSES)


def test_cost_notes_of_many_batches_agree_with_cost_note_of_each():
    models = ("gpt-4o-mini", "gpt-4.1", "my-own-model", "gpt-5.4")
    batches = [completed(f"m{i}", D + i * 3_600, models[i % 4], CHAT, 100, (60, 600, 60), (1000 + i, i % 500, 500))
               for i in range(40)]  # fmt: skip
    notes = cost_notes(batches)
    assert notes == {b.id: cost_note(b) for b in batches}
    assert notes["m2"] == "no price for my-own-model"


def test_a_batch_with_no_usable_creation_time_is_left_out():
    """A server that sends created_at 0 (or a value batchtui had to drop) must not stretch the charts to 1970 or
    promise a finish counted from then."""
    undated = make_batch("z0", "validating", 0)
    stats = batch_stats([*ACCOUNT, undated], now=D + DAY)
    assert stats.batches == batch_stats(ACCOUNT, now=D + DAY).batches
    assert min(day.date for day in stats.per_day).year > 1970
    assert expected_finish(undated, ACCOUNT) is None

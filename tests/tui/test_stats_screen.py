"""The stats screen through Pilot: an account with known timings in the cache, figures read off the screen."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, date, datetime, timedelta, timezone

from pilot_helpers import fill_cache, wait_for_rows, wait_until
from rich.console import Console
from stats_batches import (
    CHAT,
    COMPLETED,
    DAY,
    G41,
    MINI,
    OTHERS,
    RESPONSES,
    D,
    H,
    completed,
)

from batchtui.core.config import Profile
from batchtui.core.insights.pricing import usd
from batchtui.core.insights.stats import Percentiles, batch_stats
from batchtui.tui.app import BatchtuiApp
from batchtui.tui.commands import ScreenCommands
from batchtui.tui.screens.batches import BatchesScreen
from batchtui.tui.screens.stats import (
    Bars,
    DayColumns,
    StatsScreen,
    compact,
    groups_table,
    percent,
    period_start,
    usage_summary,
)

DEAD_URL = "http://127.0.0.1:9/v1"
NOW = D + 9 * DAY + 12 * H
"""2025-06-11 12:00 UTC: the last 7 days start 2025-06-05 (c9, a1 and a2); 30 days hold all but the old batch."""




# The seeded account of tests/core/test_stats.py, plus one batch from 50 days before the others.
OLD = completed("old", D - 50 * DAY, MINI, CHAT, 10, (5, 50, 5), (1_000, 0, 500))
ACCOUNT = [*COMPLETED, *OTHERS, OLD]


def offline_app(tmp_path) -> BatchtuiApp:
    return BatchtuiApp(Profile(name="stats", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path,
                       clock=lambda: NOW)


def plain(renderable, width: int = 100) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    console.print(renderable)
    return console.file.getvalue()


def panel(screen: StatsScreen, selector: str) -> str:
    """A panel's text as painted, one string per line, spaces collapsed."""
    widget = screen.query_one(selector)
    lines = [" ".join(widget.render_line(y).text.split()) for y in range(widget.size.height)]
    return "\n".join(line for line in lines if line)


def summary(screen: StatsScreen) -> str:
    return str(screen.query_one("#stats-summary").render())


async def open_stats(pilot) -> StatsScreen:
    await wait_for_rows(pilot, len(ACCOUNT))
    await pilot.press("S")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, StatsScreen), "stats screen shown")
    screen = pilot.app.screen
    await wait_until(pilot, lambda: screen.stats is not None, "figures computed")
    await pilot.pause()
    return screen


async def switch_period(pilot, screen: StatsScreen, batches: int) -> None:
    await pilot.press("s")
    await wait_until(pilot, lambda: screen.stats is not None and screen.stats.batches == batches
                     and summary(screen).startswith(f"{batches} batches"), f"{batches} batches counted")
    await pilot.pause()


async def test_shows_the_figures_of_the_last_30_days(tmp_path, utc):
    await fill_cache(tmp_path, ACCOUNT)
    app = offline_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_stats(pilot)
        assert summary(screen) == "16 batches · 14 finished · 2 active · last 30 days (since 2025-05-13)"
        times = panel(screen, "#stats-times")
        # turnarounds 45 240 660 1500 2000 3900 7800 12000 30000 84000 s (nearest rank)
        assert "turnaround 33m 8h 20m 23h 20m 10" in times
        assert "validating 1m 40s 10m 15m 10" in times
        assert "in progress 28m 8h 00m 22h 13m 10" in times
        assert "finalizing 3m 20s 20m 52m 10" in times
        assert "lines / min 21.4 43.5 80.0 10" in times
        groups = panel(screen, "#stats-groups")
        assert "gpt-4.1 25m 3h 20m 3h 20m 2" in groups
        assert "gpt-4o-mini 33m 23h 20m 23h 20m 6" in groups
        assert "/v1/embeddings 8h 20m 8h 20m 8h 20m 1" in groups
        assert "10k-50k 8h 20m 23h 20m 2" in groups
        outcomes = panel(screen, "#stats-outcomes")
        for line in ("completed │", "71% (10)", "failed │", "14% (2)", "expired │", "7% (1)", "cancelled │"):
            assert line in outcomes
        usage_text = panel(screen, "#stats-usage")
        assert usd(screen.stats.cost_usd) in usage_text
        assert "no price for my-own-model: not in the cost" in usage_text
        assert "$0.00" not in usage_text
        histogram = panel(screen, "#stats-histogram")
        assert "2-4h │" in histogram and "24h+ │ 0" in histogram
        assert "no price for my-own-model" in panel(screen, "#stats-cost")
        days = panel(screen, "#stats-days").splitlines()
        assert days[1] == "2025-06-05 3 8,000 0 2,000 no price for my-own-model"  # newest first; never $0
        assert days[2].startswith("2025-06-03 9 15,900,000 100,000 5,825,000 $")
        assert len(days) == 4  # days without batches are left out


async def test_the_period_cycles_through_7_90_days_and_all(tmp_path, utc):
    await fill_cache(tmp_path, ACCOUNT)
    app = offline_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_stats(pilot)
        assert screen.stats.batches == 16
        await switch_period(pilot, screen, 17)
        assert summary(screen) == "17 batches · 15 finished · 2 active · last 90 days (since 2025-03-14)"
        await switch_period(pilot, screen, 17)
        assert summary(screen) == "17 batches · 15 finished · 2 active · all batches"
        await switch_period(pilot, screen, 3)
        assert summary(screen) == "3 batches · 1 finished · 2 active · last 7 days (since 2025-06-05)"
        assert "turnaround 45s 45s 45s 1" in panel(screen, "#stats-times")
        assert "completed │" in panel(screen, "#stats-outcomes") and "100% (1)" in panel(screen, "#stats-outcomes")
        usage_text = panel(screen, "#stats-usage")
        assert "cost no price for my-own-model" in usage_text and "$" not in usage_text  # never $0
        await switch_period(pilot, screen, 16)


async def test_follows_the_batches_of_a_sync(tmp_path, utc):
    await fill_cache(tmp_path, ACCOUNT)
    app = offline_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_stats(pilot)
        finished = completed("c11", NOW - 2 * H, G41, RESPONSES, 10, (10, 50, 0), (100, 0, 100))
        app.batches = (finished, *app.batches)
        await wait_until(pilot, lambda: screen.stats.batches == 17, "the new batch counted")
        assert screen.stats.by_model[G41].count == 3
        await pilot.press("escape")
        assert isinstance(app.screen, BatchesScreen)


async def test_palette_opens_the_screen_and_sets_the_period(tmp_path, utc):
    await fill_cache(tmp_path, ACCOUNT)
    app = offline_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_rows(pilot, len(ACCOUNT))
        hits = [hit async for hit in ScreenCommands(app.screen).search("statistics")]
        assert hits and hits[0].text == "Batch statistics"
        await hits[0].command()
        await wait_until(pilot, lambda: isinstance(app.screen, StatsScreen), "palette opened the stats screen")
        screen = app.screen
        await wait_until(pilot, lambda: screen.stats is not None, "figures computed")
        titles = [hit.text async for hit in ScreenCommands(screen).discover()]
        assert "Statistics of all batches" in titles and "Statistics of the last 7 days" in titles
        await [hit async for hit in ScreenCommands(screen).search("all batches")][0].command()
        await wait_until(pilot, lambda: screen.stats is not None and screen.stats.batches == 17, "all counted")


async def test_an_empty_cache_says_so(tmp_path, utc):
    app = offline_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("S")
        await wait_until(pilot, lambda: isinstance(app.screen, StatsScreen), "stats screen shown")
        screen = app.screen
        await wait_until(pilot, lambda: screen.stats is not None, "figures computed")
        await pilot.pause()
        assert summary(screen) == "No batches in last 30 days (since 2025-05-13)."
        assert "No completed batches." in panel(screen, "#stats-histogram")
        assert "turnaround - - - 0" in panel(screen, "#stats-times")


def test_model_names_are_literal():
    hostile = "[bold red]x[/] \x1b[2J"
    stats = batch_stats([completed("h", D, hostile, CHAT, 10, (1, 1, 1), (10, 0, 10))], now=D + H)
    assert "[bold red]x[/]" in plain(groups_table(stats)) and "\x1b" not in plain(groups_table(stats))
    assert "no price for [bold red]x[/]" in plain(usage_summary(stats))


# --- the pieces ---


def test_period_starts_at_local_midnight():
    assert period_start(None, NOW, UTC) is None
    assert period_start(1, NOW, UTC) == datetime(2025, 6, 11, tzinfo=UTC)
    assert period_start(7, NOW, UTC) == datetime(2025, 6, 5, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    assert period_start(1, D - 1, plus_two) == datetime(2025, 6, 2, tzinfo=plus_two)  # 01:59 on the 2nd there


def test_small_shares_and_compact_counts():
    assert [percent(s) for s in (0.0, 0.004, 0.07, 10 / 14, 1.0)] == ["0%", "<1%", "7%", "71%", "100%"]
    assert [compact(n) for n in (0, 850, 12_345, 1_234_567, 25_000_000, 3.4e9)] == \
        ["0", "850", "12k", "1.2M", "25M", "3.4B"]


def test_bars_scale_to_the_largest_and_never_hide_a_count_of_one():
    text = plain(Bars([("a", 1, "1", ""), ("bb", 100, "100", ""), ("c", 0, "0", "")]), width=40)
    a, bb, c = text.splitlines()
    assert bb == "bb │" + "█" * 32 + " 100"
    assert a.startswith(" a │") and a[4] in "▏▎▍▌▋▊▉█" and a.endswith(" 1")
    assert c == " c │ 0"


def test_day_columns_label_the_axis_and_mark_unpriced_days():
    days = [date(2025, 6, 1 + n) for n in range(5)]
    text = plain(DayColumns(days, [0, 4, None, 2, 1], lambda v: f"${v}", height=4), width=40)
    lines = text.splitlines()
    assert lines[0].startswith("$4 ┤") and "█" in lines[0]
    assert lines[4].startswith("$0 └") and "?" in lines[4]
    assert lines[5].strip().startswith("2025-06-01") and lines[5].rstrip().endswith("2025-06-05")


def test_day_columns_sum_runs_of_days_when_they_do_not_fit():
    days = [date(2025, 1, 1) + timedelta(days=n) for n in range(100)]
    text = plain(DayColumns(days, [1] * 100, lambda v: str(v), height=2), width=40)
    assert "each column: 3 days" in text
    assert text.splitlines()[0].startswith("3 ┤")


def test_stats_of_the_seeded_account_match_the_core():
    stats = batch_stats(ACCOUNT, since=datetime(2025, 5, 13, tzinfo=UTC), now=NOW)
    assert stats.turnaround == Percentiles(2000.0, 30000.0, 84000.0, 10)


def test_snapshot_stats_120x40(snap_compare, tmp_path, utc):
    asyncio.run(fill_cache(tmp_path, ACCOUNT))
    app = offline_app(tmp_path)

    async def settle(pilot):
        await open_stats(pilot)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=settle)

"""A server that sends what batchtui does not expect: a status it does not know (or one made of escape
sequences), no request_counts, created_at 0, no timestamps at all, a 512-character description, a model and an
endpoint with escapes. Every screen keeps working and shows what it can, literally; 20,000 batches stay quick."""

from __future__ import annotations

import time

from pilot_helpers import fill_cache, open_detail, wait_for_rows, wait_until

from batchtui.core.api.models import Batch, FileObject
from batchtui.core.cache.store import Cache
from batchtui.core.config import Profile
from batchtui.tui.app import BatchtuiApp
from batchtui.tui.screens.batches import BatchesScreen
from batchtui.tui.screens.files import FilesScreen
from batchtui.tui.screens.stats import StatsScreen

DEAD_URL = "http://127.0.0.1:9/v1"
NOW = 1_763_100_000
RAW = ("\x1b", "\x07", "\u202e")
DESCRIPTION = ("[b]long[/b] " + "\x1b[2J" + "d" * 512)[:512]


def odd_batch(batch_id: str, status: str, **fields) -> Batch:
    """A batch as a careless server might send it, built without validation as the API client keeps it."""
    return Batch(**{
        "id": batch_id, "object": "batch", "endpoint": "/v1/chat/completions", "input_file_id": f"file-{batch_id}",
        "completion_window": "24h", "status": status, "created_at": NOW - 3600, "request_counts": None,
        **fields})


def good_batch(number: int, status: str = "completed") -> Batch:
    created = NOW - 7200 - number * 60
    return Batch.from_dict({
        "id": f"batch_good{number}", "object": "batch", "endpoint": "/v1/chat/completions",
        "input_file_id": f"file-good{number}", "completion_window": "24h", "status": status, "created_at": created,
        "in_progress_at": created + 10, "finalizing_at": created + 50, "completed_at": created + 60,
        "model": "gpt-4o-mini", "request_counts": {"total": 10, "completed": 9, "failed": 1}})


ODD = [
    odd_batch("batch_paused", "paused", metadata={"description": DESCRIPTION}),
    odd_batch("batch_escape", "\x1b[2J\x1b]0;T\x07", model="gpt-\x1b[31mred\u202e",
              endpoint="/v1/unknown\x1b]0;T\x07", created_at=0),
    odd_batch("batch_bare", "in_progress", created_at=0, expires_at=None, in_progress_at=None),
    odd_batch("batch_done_untimed", "completed", model="gpt-4o-mini"),
]


def offline_app(tmp_path) -> BatchtuiApp:
    return BatchtuiApp(Profile(name="odd", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path,
                       clock=lambda: NOW)


def screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def assert_literal(text: str) -> None:
    assert not any(char in text for char in RAW), text


async def test_the_list_and_its_filters_show_odd_batches(tmp_path):
    await fill_cache(tmp_path, [*ODD, good_batch(1), good_batch(2, "failed")])
    app = offline_app(tmp_path)
    async with app.run_test(size=(160, 30)) as pilot:
        table = await wait_for_rows(pilot, 6)
        await pilot.pause()
        text = screen_text(app)
        assert_literal(text)
        assert " paused " in text and " \\x1b[2J\\x1b" in text and "[b]long[/b] \\x1b[2Jddd" in text
        assert "unknown\\x1b]0;T" in text and "gpt-\\x1b[31" in text
        assert "d ago" not in text and "d 6h" not in text  # created_at 0 is not known, not 56 years ago
        for keys in ("2", "3", "4", "5", "6", "1", "s", "s", "s"):
            await pilot.press(*keys)
            await pilot.pause()
            assert_literal(screen_text(app))
        await pilot.press("slash", *"paused")
        await wait_until(pilot, lambda: [b.id for b in table.rows] == ["batch_paused"], "search finds it")
        await pilot.press("escape")
        for _ in range(8):
            await pilot.press("down")
        assert_literal(screen_text(app))


async def test_the_detail_shows_each_odd_batch(tmp_path):
    await fill_cache(tmp_path, ODD)
    app = offline_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_rows(pilot, len(ODD))
        for batch in ODD:
            detail = await open_detail(pilot, batch.id)
            await pilot.pause(0.2)
            text = screen_text(app)
            assert_literal(text)
            assert batch.id in text and "Timeline" in text, text
            assert "1970" not in text and "no request counts reported" in text, text
            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(app.screen, BatchesScreen), "back to the list")
            assert detail.batch is not None


async def test_stats_and_files_screens_cope_with_odd_batches(tmp_path):
    await fill_cache(tmp_path, [*ODD, good_batch(1), good_batch(2, "failed")])
    async with await Cache.open(tmp_path / "cache.db") as cache:
        await cache.upsert_files([FileObject(
            id="file-batch_paused", object="file", bytes=None, created_at=0, filename="in\x1b]0;T\x07.jsonl",
            purpose="batch", status="processed")])
    app = offline_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_for_rows(pilot, 6)
        await pilot.press("S")
        await wait_until(pilot, lambda: isinstance(app.screen, StatsScreen), "stats shown")
        await wait_until(pilot, lambda: "Computing" not in screen_text(app), "stats computed")
        text = screen_text(app)
        assert_literal(text)
        assert "Turnaround" in text
        await pilot.press("escape", "f")
        await wait_until(pilot, lambda: isinstance(app.screen, FilesScreen), "files shown")
        await wait_until(pilot, lambda: "in\\x1b]0;T" in screen_text(app), "the file listed")
        text = screen_text(app)
        assert_literal(text)
        assert "y ago" not in text and "d ago" not in text  # created_at 0 is not known


async def test_twenty_thousand_batches_paint_and_scroll_quickly(tmp_path):
    statuses = ("completed", "failed", "in_progress", "paused", "expired", "cancelled", "validating")
    batches = [odd_batch(f"batch_{n:05d}", statuses[n % len(statuses)], created_at=NOW - n * 30,
                         model="gpt-4o-mini", metadata={"description": f"job {n}"})
               for n in range(20_000)]
    await fill_cache(tmp_path, batches)
    app = offline_app(tmp_path)
    started = time.perf_counter()
    async with app.run_test(size=(140, 40)) as pilot:
        table = await wait_for_rows(pilot, 20_000)
        await pilot.pause()
        first_paint = time.perf_counter() - started
        scrolled = time.perf_counter()
        for key in ("pagedown",) * 20 + ("end", "home", "3", "1"):
            await pilot.press(key)
        await pilot.pause()
        scroll = (time.perf_counter() - scrolled) / 24
        assert len(table.rows) == 20_000
    print(f"20,000 batches: first paint {first_paint:.2f} s, {scroll * 1000:.0f} ms a key")
    assert first_paint < 10 and scroll < 0.25

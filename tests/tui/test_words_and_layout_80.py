"""The home list and the result viewer at 80x24, read as words: counts, keys, labels and columns that are whole,
agree with each other and stay put (issue 16, items 20 and 21)."""

from __future__ import annotations

from pilot_helpers import fill_cache, wait_for_rows, wait_until
from test_batches_screen import FIXED, MIXED, app_for, batch
from test_results_screen import hostile_files, indexed

from batchtui.core.config import Profile
from batchtui.core.listing import STATUS_GROUPS
from batchtui.tui.screens.batches import BatchesScreen
from batchtui.tui.viewer_app import ViewerApp
from batchtui.tui.widgets.batch_list import layout
from batchtui.tui.widgets.result_list import ResultList


def screen_lines(app) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def home_app(tmp_path):
    await fill_cache(tmp_path, [*MIXED, batch(9), batch(10, "in_progress")], FIXED)
    return app_for(tmp_path)


async def test_home_footer_reads_whole_at_80(tmp_path):
    app = await home_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_rows(pilot, 10)
        await wait_until(pilot, lambda: "palette" in screen_lines(app)[-1], "the footer painted")
        footer = screen_lines(app)[-1]
        assert "1-6 Group" in footer and "? Keys" in footer and footer.rstrip().endswith("^p palette")


async def test_the_key_help_reads_each_key_on_one_line_at_80(tmp_path):
    app = await home_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_rows(pilot, 10)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: any("Copy" in line for line in screen_lines(app)), "the key help shown")
        assert any(line.rstrip().endswith("Copy selected text") for line in screen_lines(app))


async def test_status_title_starts_where_the_status_words_do(tmp_path):
    app = await home_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        batch_list = await wait_for_rows(pilot, 10)
        header = batch_list.render_line(0).text
        first = batch_list.render_line(1).text
        status = batch_list.rows[0].status.replace("_", " ")
        assert header.index("Status") == first.index(status)


async def test_the_sorted_column_stays_at_80_and_its_values_are_whole(tmp_path):
    app = await home_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        batch_list = await wait_for_rows(pilot, 10)
        assert "Created ▼" in batch_list.render_line(0).text
        row = batch_list.render_line(1).text
        assert row.rstrip().endswith("ago") and "Progress" in batch_list.render_line(0).text
        await pilot.press("s", "s", "s")  # status, progress, cost
        assert app.screen.sort_key == "cost"
        assert "Cost ▼" in batch_list.render_line(0).text


def test_layout_keeps_the_sorted_column_and_drops_another():
    for key in ("created", "cost"):
        keys = [c.key for c in layout(79, keep=key)]
        assert key in keys and "progress" in keys and keys[:3] == ["id", "status", "description"]
    assert "created" not in [c.key for c in layout(79)]  # nothing kept: the lowest priorities go as before


async def test_every_group_count_shows_at_80(tmp_path):
    app = await home_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_rows(pilot, 10)
        await pilot.pause()
        bar = str(app.screen.query_one("#group-bar").render())
        for part in ("1 All 10", "2 Active 4", "3 Completed 3", "4 Failed 1", "5 Expired 1", "6 Cancelled 1"):
            assert part in bar, bar
        assert "1 Active" not in bar  # tabs closed up keep a gap: no count runs into the next key
    async with app_for(tmp_path).run_test(size=(50, 24)) as pilot:
        await wait_for_rows(pilot, 10)
        await pilot.pause()
        bar = str(pilot.app.screen.query_one("#group-bar").render())
        assert "1 All 10" in bar and "2 Active " in bar and "2 Active 4" not in bar  # too narrow: the chosen one


def test_palette_and_keys_say_the_same_about_groups():
    palette = {action: title for title, _, action in BatchesScreen.PALETTE}
    assert palette["group(0)"] == "Show every batch" and palette["group(3)"] == "Show the failed batches"
    keys = {binding.action: binding.description for binding in BatchesScreen.BINDINGS}
    for number in range(1, len(STATUS_GROUPS)):
        assert keys[f"group({number})"] == palette[f"group({number})"]
    assert not any("All group" in text for entry in BatchesScreen.PALETTE for text in entry)


async def test_viewer_at_80_footer_counts_and_columns(tmp_path):
    (tmp_path / "view").mkdir()
    app = ViewerApp(hostile_files(tmp_path / "view"), Profile(name="local"), clock=lambda: FIXED)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await indexed(pilot)
        listing = screen.query_one(ResultList)
        await wait_until(pilot, lambda: "palette" in screen_lines(app)[-1], "the footer painted")
        footer = screen_lines(app)[-1]
        assert "1-4 Filter c Copy" in footer and "^q Quit" in footer and "Filterc" not in footer
        header = listing.render_line(0).text
        assert header.index("Prompt") - header.index("Tokens") >= 7 and header.index("Answer") - header.index(
            "Prompt") >= 20  # the status column no longer squeezes prompt and answer to 17 cells
        await pilot.press("3")
        assert listing.render_line(0).text == header  # the same columns under another filter
        await pilot.press("1", "slash", *"quoting", "enter")
        await wait_until(pilot, lambda: screen.hits and not screen.searching, "the search done")
        status = str(screen.query_one("#results-status").render())
        assert "6 requests" in status and "1 hit" in status and "1 hits" not in status and "all" not in status

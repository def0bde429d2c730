"""The home screen through Pilot: cache first, groups, search, sort, cursor kept, opening, literal text, snapshots."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest
from pilot_helpers import fill_cache, open_detail, row_text, wait_for_rows, wait_until

from batchtui.core.api.models import Batch, BatchUsage, InputTokensDetails, OutputTokensDetails
from batchtui.core.cache.store import Cache
from batchtui.core.config import Profile
from batchtui.core.workspace import Workspace
from batchtui.tui.app import BatchtuiApp
from batchtui.tui.format import short_id
from batchtui.tui.screens.batch_detail import BatchDetailScreen
from batchtui.tui.screens.batches import BatchesScreen
from batchtui.tui.widgets.batch_list import BatchList, layout

DEAD_URL = "http://127.0.0.1:9/v1"
FIXED = 1_763_200_000.0
OFFLINE = Profile(name="offline", base_url=DEAD_URL, api_key="sk-x")


def batch(number: int, status: str = "completed", *, metadata: dict[str, str] | None = None, done: int | None = None,
          total: int = 100, model: str = "gpt-4o-mini", expires_in: float = 86_400) -> Batch:
    created = FIXED - 86_400 + number * 600
    if done is None:
        done = total if status == "completed" else total // 2
    ends = {"completed": "completed_at", "failed": "failed_at", "expired": "expired_at", "cancelled": "cancelled_at"}
    data = {
        "id": f"batch_{number:04d}", "object": "batch", "endpoint": "/v1/chat/completions",
        "input_file_id": f"file-in{number}", "completion_window": "24h", "status": status,
        "created_at": int(created), "expires_at": int(created + expires_in), "model": model,
        "request_counts": {"total": total, "completed": done, "failed": 2 if status == "failed" else 0},
        "metadata": metadata,
    }
    if status in ends:
        data[ends[status]] = int(created + 1_234)
    if status != "validating":
        data["in_progress_at"] = int(created + 30)
    return Batch.from_dict(data)


MIXED = [
    batch(1, metadata={"description": "nightly eval"}),
    batch(2, "failed", metadata={"team": "search"}),
    batch(3, "in_progress", metadata={"description": "sentiment labels v3"}),
    batch(4, "expired"),
    batch(5, "cancelled", metadata={"description": "oops"}),
    batch(6, "validating", metadata={"description": "embeddings backfill"}, model="text-embedding-3-small"),
    batch(7, "finalizing", done=100),
    batch(8, metadata={"description": "summaries"}),
]


def app_for(cache_dir, profile: Profile = OFFLINE) -> BatchtuiApp:
    return BatchtuiApp(profile, cache_dir=cache_dir, clock=lambda: FIXED)


def ids(batch_list: BatchList) -> list[str]:
    return [b.id[-1] for b in batch_list.rows]


async def test_paints_the_cache_before_the_first_sync(sandbox_profile, tmp_path, monkeypatch):
    finished = [b for b in MIXED if b.status in ("completed", "failed", "expired", "cancelled")]
    await fill_cache(tmp_path, finished, FIXED)
    painted: list[tuple[int, str]] = []
    original = BatchList.set_rows

    def recording(self, rows):
        painted.append((len(rows), self.app.sync_status.state))
        original(self, rows)

    monkeypatch.setattr(BatchList, "set_rows", recording)
    app = app_for(tmp_path, sandbox_profile)
    async with app.run_test() as pilot:
        await wait_for_rows(pilot, len(finished))
        first_with_rows = next(state for count, state in painted if count)
        assert first_with_rows in ("cache", "syncing")
        for _ in range(100):
            if app.sync_status.state == "synced":
                break
            await pilot.pause(0.05)
        assert str(app.screen.query_one("#sync-status").render()).startswith("synced")


async def test_status_groups_by_number_keys(tmp_path):
    await fill_cache(tmp_path, MIXED, FIXED)
    app = app_for(tmp_path)
    async with app.run_test(size=(140, 30)) as pilot:
        batch_list = await wait_for_rows(pilot, len(MIXED))
        assert ids(batch_list) == list("87654321")
        for key, expected in (("2", "763"), ("3", "81"), ("4", "2"), ("5", "4"), ("6", "5"), ("1", "87654321")):
            await pilot.press(key)
            assert ids(batch_list) == list(expected), key
        group_bar = str(app.screen.query_one("#group-bar").render())
        assert "2 Active 3" in group_bar and "3 Completed 2" in group_bar


async def test_search_narrows_incrementally_and_escape_clears(tmp_path):
    await fill_cache(tmp_path, MIXED, FIXED)
    app = app_for(tmp_path)
    async with app.run_test(size=(140, 30)) as pilot:
        batch_list = await wait_for_rows(pilot, len(MIXED))
        await pilot.press("slash")
        assert app.focused is not None and app.focused.id == "search"
        await pilot.press("s")
        assert ids(batch_list) == list("87654321")  # every endpoint holds an "s"
        await pilot.press("e")
        assert ids(batch_list) == list("32")  # "sentiment" and "team=search"
        await pilot.press("n", "t")
        assert ids(batch_list) == ["3"]
        await pilot.press("backspace", "backspace", "backspace", "e", "a")
        assert ids(batch_list) == ["2"]  # metadata key=value pair
        await pilot.press("escape")
        assert ids(batch_list) == list("87654321")
        assert app.focused is batch_list
        await pilot.press("slash", *"EMBEDDING", "enter")
        assert ids(batch_list) == ["6"]  # model and description, case-insensitive
        assert app.focused is batch_list
        await pilot.press("2")
        assert ids(batch_list) == ["6"]
        await pilot.press("4")
        assert ids(batch_list) == []
        assert batch_list.render_line(1).text.strip() == "No failed batches match 'EMBEDDING'. Escape clears."


async def test_sort_cycles_created_status_progress(tmp_path):
    await fill_cache(tmp_path, MIXED, FIXED)
    app = app_for(tmp_path)
    async with app.run_test(size=(140, 30)) as pilot:
        batch_list = await wait_for_rows(pilot, len(MIXED))
        await pilot.press("s")
        assert ids(batch_list) == list("36724581")
        assert "sort status" in str(app.screen.query_one("#list-summary").render())
        assert "Status ▼" in batch_list.render_line(0).text
        await pilot.press("s")
        assert ids(batch_list) == list("87126543")  # done, then 52 %, then 50 %; newest first among equals
        await pilot.press("s")
        assert "sort cost" in str(app.screen.query_one("#list-summary").render())
        assert ids(batch_list) == list("87654321")  # none has used tokens: no cost, newest first
        await pilot.press("s")
        assert "sort created" in str(app.screen.query_one("#list-summary").render())


async def test_each_sort_turns_round_and_costs_sort_dearest_first(tmp_path):
    """`d` (or a click on the sorted column's title) reverses the sort; by cost, the dearest first and batches
    without a cost last, either way round."""
    def used(number: int, tokens: int) -> Batch:
        usage = BatchUsage(input_tokens=tokens, input_tokens_details=InputTokensDetails(cached_tokens=0),
                           output_tokens=tokens, output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
                           total_tokens=2 * tokens)
        return replace(batch(number), usage=usage)

    await fill_cache(tmp_path, [used(1, 1_000), batch(2), used(3, 90_000), used(4, 5_000)], FIXED)
    app = app_for(tmp_path)
    async with app.run_test(size=(140, 30)) as pilot:
        batch_list = await wait_for_rows(pilot, 4)
        await pilot.press("d")
        assert ids(batch_list) == list("1234") and "Created ▲" in batch_list.render_line(0).text
        assert "sort created ▲" in str(app.screen.query_one("#list-summary").render())
        await pilot.press("d")
        assert ids(batch_list) == list("4321")
        await wait_until(pilot, lambda: len(app.costs) == 3, "costs worked out")
        for _ in range(3):
            await pilot.press("s")
        assert app.screen.sort_key == "cost" and ids(batch_list) == list("3412")
        cost_x = batch_list.render_line(0).text.index("Cost")
        await pilot.click(BatchList, offset=(cost_x, 0))
        await pilot.pause()
        assert ids(batch_list) == list("1432") and "Cost ▲" in batch_list.render_line(0).text


async def test_cursor_stays_on_the_same_batch_when_data_changes(tmp_path):
    many = [batch(n, "in_progress" if n % 3 else "completed") for n in range(1, 61)]
    await fill_cache(tmp_path, many, FIXED)
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 20)) as pilot:
        batch_list = await wait_for_rows(pilot, 60)
        await pilot.press("pagedown", "down", "down")
        chosen = batch_list.cursor_id
        on_screen = batch_list.cursor - round(batch_list.scroll_y)
        assert chosen is not None and batch_list.scroll_y > 0
        newer = [batch(n) for n in range(61, 64)]
        updated = [batch(int(b.id[-4:]), "failed") if b.id == chosen else b for b in many]
        app.batches = tuple(sorted(newer + updated, key=lambda b: b.created_at, reverse=True))
        await pilot.pause()
        assert batch_list.cursor_id == chosen
        assert batch_list.cursor - round(batch_list.scroll_y) == on_screen
        assert "failed" in row_text(batch_list, chosen)
        await pilot.press("end")
        assert batch_list.cursor_id == "batch_0001"
        await pilot.press("home")
        assert batch_list.cursor_id == "batch_0063" and batch_list.scroll_y == 0


async def test_enter_and_click_open_the_detail(tmp_path):
    await fill_cache(tmp_path, MIXED, FIXED)
    app = app_for(tmp_path)
    async with app.run_test(size=(140, 30)) as pilot:
        batch_list = await wait_for_rows(pilot, len(MIXED))
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, BatchDetailScreen) and app.screen.batch_id == "batch_0007"
        app.pop_screen()
        await pilot.pause()
        assert isinstance(app.screen, BatchesScreen)
        await pilot.click(BatchList, offset=(5, 4))  # the header is line 0, so the fourth row
        assert batch_list.cursor_id == "batch_0005"
        await pilot.click(BatchList, offset=(5, 4))
        await pilot.pause()
        assert isinstance(app.screen, BatchDetailScreen) and app.screen.batch_id == "batch_0005"


async def test_header_click_sorts(tmp_path):
    await fill_cache(tmp_path, MIXED, FIXED)
    app = app_for(tmp_path)
    async with app.run_test(size=(140, 30)) as pilot:
        batch_list = await wait_for_rows(pilot, len(MIXED))
        status_x = batch_list.render_line(0).text.index("Status")
        await pilot.click(BatchList, offset=(status_x, 0))
        await pilot.pause()
        assert app.screen.sort_key == "status"


async def test_markup_and_escapes_in_metadata_are_shown_literally(tmp_path):
    hostile = {"description": "[bold red]x[/] \x1b]52;c;aGk=\x07 [link=http://e.vil]y[/link]"}
    await fill_cache(tmp_path, [batch(1, metadata=hostile), batch(2, metadata={"[b]k": "\x1b[31mv"})], FIXED)
    app = app_for(tmp_path)
    async with app.run_test(size=(200, 20)) as pilot:
        batch_list = await wait_for_rows(pilot, 2)
        first = row_text(batch_list, "batch_0001")
        assert "[bold red]x[/] \\x1b]52;c;aGk=\\x07 [link=http://e.vil]y[/link]" in first
        second = row_text(batch_list, "batch_0002")
        assert "[b]k=\\x1b[31mv" in second
        assert "\x1b" not in first + second and "\x07" not in first


async def test_eta_from_observations_and_at_risk(tmp_path):
    cache = await Cache.open(tmp_path / "cache.db")
    async with cache:
        for minutes_ago, done in ((8, 200), (4, 400), (0, 600)):
            await cache.upsert_batches([batch(1, "in_progress", done=done, total=10_000, expires_in=87_000),
                                        batch(2, "in_progress", done=done, total=1_000)],
                                       observed_at=FIXED - minutes_ago * 60)
    app = app_for(tmp_path)
    async with app.run_test(size=(140, 20)) as pilot:
        batch_list = await wait_for_rows(pilot, 2)
        await app.screen.workers.wait_for_complete()
        await pilot.pause()
        # 400 lines in 8 minutes = 50 a minute: 9,400 left take 3h 08m (after expires_at), 400 left take 8m
        assert row_text(batch_list, "batch_0001").rstrip().endswith("⚠ 3h 08m")
        assert row_text(batch_list, "batch_0002").rstrip().endswith("8m 00s")
        assert "600/0/10000" in row_text(batch_list, "batch_0001")


async def test_input_file_names_are_searchable(sandbox_profile, tmp_path, write_batch_file):
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "app") as ws:
        uploaded = await ws.upload(write_batch_file(2, name="quarterly_reviews.jsonl"))
        started = await ws.start_batch(uploaded.id, "/v1/chat/completions")
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app", clock=lambda: FIXED)
    async with app.run_test(size=(140, 20)) as pilot:
        batch_list = await wait_for_rows(pilot, 1)
        await app.screen.workers.wait_for_complete()
        await pilot.press("slash", *"quarterly")
        assert [b.id for b in batch_list.rows] == [started.id]
        await pilot.press("x")
        assert batch_list.rows == []


@pytest.mark.parametrize("width", [80, 100, 140, 200])
def test_layout_fits_and_keeps_the_essentials(width):
    columns = layout(width - 1)
    assert 1 + sum(c.width for c in columns) + len(columns) - 1 <= width - 1
    keys = [c.key for c in columns]
    assert keys[:3] == ["id", "status", "description"] and "progress" in keys and "eta" in keys
    if width >= 140:
        assert len(columns) >= 9
    if width >= 200:
        assert keys[-1] == "cost" and len(columns) == 10


def _snapshot_app(tmp_path) -> BatchtuiApp:
    cache_rows = [*MIXED, batch(9, metadata={"description": "[bold red]not markup[/] \x1b]0;title\x07"}),
                  batch(10, "in_progress", done=7_000, total=9_000, metadata={"owner": "ml-platform"})]
    asyncio.run(fill_cache(tmp_path, cache_rows))
    return app_for(tmp_path)


async def _settle(pilot) -> None:
    await wait_for_rows(pilot, 10)
    await pilot.app.workers.wait_for_complete()
    await pilot.press("down", "down")
    await pilot.pause()


def test_snapshot_80x24(snap_compare, tmp_path, utc):
    assert snap_compare(_snapshot_app(tmp_path), terminal_size=(80, 24), run_before=_settle)


def test_snapshot_140x40(snap_compare, tmp_path, utc):
    assert snap_compare(_snapshot_app(tmp_path), terminal_size=(140, 40), run_before=_settle)


def test_wide_terminals_show_ids_and_models_whole():
    """At 200 columns ids and model names show whole rather than the description taking 75 columns; at 140 the
    description keeps its room, and an id cut short ends in an ellipsis."""
    wide = {c.key: c.width for c in layout(199, {"id": 38, "model": 22})}
    assert (wide["id"], wide["model"]) == (38, 22) and 40 <= wide["description"] < 75
    narrow = {c.key: c.width for c in layout(139, {"id": 38, "model": 22})}
    assert narrow["id"] == 14 and narrow["description"] > 20
    assert short_id("batch_69a1b2c3d4e5f60718293a4b5c6d7e8f", narrow["id"]).endswith("…")


async def test_a_batch_the_api_names_no_model_for_shows_its_requests_model(sandbox_profile, tmp_path):
    """A batch that failed validation (or is validating) has no model from the API; one started from here shows the
    model its requests name instead of "-"."""
    lines = [{"custom_id": f"r{n}", "method": "POST", "url": "/v1/chat/completions",
              "body": {"model": "gpt-4.1-nano", "messages": [{"role": "user", "content": "hi"}]}} for n in range(3)]
    lines[1]["url"] = "/v1/embeddings"  # fails validation: the API never names its model
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "cache") as ws:
        failed = await ws.wait_for((await ws.start_batch((await ws.upload(path)).id, "/v1/chat/completions")).id, 1)
    assert failed.status == "failed" and failed.model is None
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "cache", clock=lambda: FIXED)
    async with app.run_test(size=(140, 30)) as pilot:
        batch_list = await wait_for_rows(pilot, 1)
        await wait_until(pilot, lambda: "gpt-4.1-nano" in row_text(batch_list, failed.id), "the requests' model")
        await open_detail(pilot, failed.id)
        await wait_until(pilot, lambda: "gpt-4.1-nano  (as its requests say)" in "\n".join(
            strip.text for strip in app.screen._compositor.render_strips()), "in the detail")

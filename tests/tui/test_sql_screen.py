"""The SQL screen through Pilot: a read-only query over an imported sandbox batch, examples, paging, copy,
refused writes, CSV export, literal cells, and a snapshot."""

from __future__ import annotations

import asyncio
import csv
import json
import re

from pilot_helpers import fill_cache, wait_until
from test_batches_screen import FIXED, MIXED
from textual.widgets import DataTable, Static, TextArea

from batchtui.core.cache.sql import EXAMPLE_QUERIES
from batchtui.core.config import Profile
from batchtui.core.workspace import Workspace
from batchtui.tui.app import BatchtuiApp
from batchtui.tui.screens.choice_menu import ChoiceMenuScreen
from batchtui.tui.screens.sql import PAGE_ROWS, SqlScreen


async def imported_batch(profile, tmp_path, lines: str) -> str:
    """A finished sandbox batch of `lines`, imported into llm_logs of the app's cache at tmp_path / "cache"."""
    (tmp_path / "in.jsonl").write_text(lines)
    async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
        uploaded = await ws.upload(tmp_path / "in.jsonl")
        batch = await ws.start_batch(uploaded.id, "/v1/chat/completions")
        while batch.status not in ("completed", "failed"):
            batch = await ws.fetch_batch(batch.id)
        await ws.import_batch(batch, force=True)
    return batch.id


def request(custom_id: str, content: str) -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                       "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}}) + "\n"


async def open_sql(pilot) -> SqlScreen:
    pilot.app.push_screen(SqlScreen())
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, SqlScreen), "SQL screen")
    await wait_until(pilot, lambda: pilot.app.workspace is not None, "cache open")
    return pilot.app.screen


async def run(pilot, screen: SqlScreen, sql: str) -> str:
    screen.query_one(TextArea).text = sql
    screen.query_one(TextArea).focus()
    before = screen.result
    await pilot.press("ctrl+r")
    status = screen.query_one("#sql-status", Static)
    await wait_until(pilot, lambda: screen.result is not before or "running" not in str(status.render()), "done")
    await pilot.pause()
    return str(status.render())


async def test_queries_pages_copy_and_export(sandbox_profile, tmp_path, copied):
    hostile = "[b]bold?[/b] \x1b[2J"
    lines = "".join(request(f"person-{i}", f"Hello {i}") for i in range(PAGE_ROWS + 20)) + request("robot", hostile)
    await imported_batch(sandbox_profile, tmp_path, lines)
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "cache")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_sql(pilot)
        status = await run(pilot, screen, EXAMPLE_QUERIES[0][1])  # the Postgres-style query, verbatim
        assert f"{PAGE_ROWS + 20:,} rows" in status
        table = screen.query_one(DataTable)
        assert table.row_count == PAGE_ROWS and screen.result.columns[0] == "metadata -> 'batch' ->> 'custom_id'"
        await pilot.press("right_square_bracket")
        assert table.row_count == 20 and "rows 501-520" in str(screen.query_one("#sql-status", Static).render())
        await pilot.press("y")
        assert copied[-1] == "person-500"

        await run(pilot, screen, "SELECT request -> 'body' -> 'messages' -> 0 ->> 'content' AS prompt FROM llm_logs "
                                 "WHERE metadata -> 'batch' ->> 'custom_id' = 'robot'")
        assert table.get_cell_at((0, 0)).plain == "[b]bold?[/b] \\x1b[2J"  # literal, escape made visible
        await pilot.press("Y")
        assert copied[-1] == hostile

        refused = await run(pilot, screen, "DELETE FROM llm_logs")
        assert "DELETE is refused" in refused and screen.query_one("#sql-status").has_class("-error")
        assert (await run(pilot, screen, "SELECT count(*) FROM llm_logs")) .startswith("1 row ")
        assert table.get_cell_at((0, 0)).plain == str(PAGE_ROWS + 21)

        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: app.screen is not screen, "export asks where")
        app.screen.query_one("Input").value = str(tmp_path / "count.csv")
        await pilot.press("enter")
        await wait_until(pilot, lambda: (tmp_path / "count.csv").exists(), "count.csv written")
    with (tmp_path / "count.csv").open(newline="") as handle:
        assert list(csv.reader(handle)) == [["count(*)"], [str(PAGE_ROWS + 21)]]


async def test_every_example_query_runs(sandbox_profile, tmp_path):
    await imported_batch(sandbox_profile, tmp_path, "".join(request(f"person-{i}", "refund please") for i in range(5)))
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "cache")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_sql(pilot)
        for number in range(len(EXAMPLE_QUERIES)):
            screen.query_one(TextArea).focus()
            await pilot.press("f2")
            await wait_until(pilot, lambda: isinstance(app.screen, ChoiceMenuScreen), "the examples")
            await pilot.press(str(number + 1))
            await wait_until(pilot, lambda n=number: screen.query_one(TextArea).text == EXAMPLE_QUERIES[n][1], "put")
            status = screen.query_one("#sql-status", Static)
            await wait_until(pilot, lambda status=status: re.search(r"\brows? in ", str(status.render())),
                             f"example {number + 1} ran: {status.render()}")


def test_snapshot_sql_screen(snap_compare, tmp_path, utc):
    asyncio.run(fill_cache(tmp_path, MIXED, observed_at=FIXED))
    app = BatchtuiApp(Profile(name="snapshot", base_url="http://127.0.0.1:9/v1", api_key="sk-x"), cache_dir=tmp_path,
                      clock=lambda: FIXED)

    async def query(pilot):
        await wait_until(pilot, lambda: app.batches, "cache loaded")
        await pilot.press("Q")  # the batch list's key for this screen
        await wait_until(pilot, lambda: isinstance(app.screen, SqlScreen), "SQL screen")
        screen = app.screen
        await pilot.pause()
        await run(pilot, screen, "SELECT id, status, model, raw -> 'request_counts' ->> 'total' AS requests,\n"
                                 "       description FROM batches ORDER BY id")
        assert screen.result is not None and len(screen.result.rows) == len(MIXED)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 24), run_before=query)


async def test_ctrl_t_runs_queries_on_the_teams_log_store(fresh_sandbox, store_url, tmp_path):
    from batchtui.core.config import LogStoreSettings

    profile = Profile(name="team", base_url=fresh_sandbox.base_url, api_key="sk-test",
                      log_store=LogStoreSettings(url=store_url))
    await imported_batch(profile, tmp_path, "".join(request(f"person-{i}", f"Hi {i}") for i in range(12)))
    app = BatchtuiApp(profile, cache_dir=tmp_path / "cache")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_sql(pilot)
        await pilot.press("ctrl+t")
        assert str(screen.query_one("#sql-status", Static).render()).startswith(
            "Queries run on the team's log store, postgresql://")
        status = await run(pilot, screen, "SELECT metadata -> 'batch' ->> 'custom_id' AS custom_id, pushed_by "
                                          "FROM llm_logs WHERE metadata ? 'batch' ORDER BY id")
        assert status.startswith("12 rows") and screen.result.rows[0] == ("person-0", "team")
        refused = await run(pilot, screen, "DELETE FROM llm_logs")
        assert "read-only transaction" in refused and screen.query_one("#sql-status").has_class("-error")
        await pilot.press("ctrl+t")
        assert (await run(pilot, screen, "SELECT count(*) FROM log_pushes")).startswith("1 row")


async def test_ctrl_t_without_a_store_says_how_to_set_one(sandbox_profile, tmp_path):
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "cache")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_sql(pilot)
        await pilot.press("ctrl+t")
        assert not screen.on_store and "No log store is set" in str(screen.query_one("#sql-status").render())

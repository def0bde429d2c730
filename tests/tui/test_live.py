"""Live watching: a status change raises a notification (and the bell when asked); palette commands."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from dataclasses import replace

from pilot_helpers import Notes, wait_until

from batchtui.core.workspace import Workspace
from batchtui.tui.app import BatchtuiApp
from batchtui.tui.commands import ScreenCommands


async def test_status_change_raises_a_notification_and_the_bell(sandbox_profile, tmp_path, write_batch_file):
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        uploaded = await ws.upload(write_batch_file(4000))
        batch = await ws.start_batch(uploaded.id, "/v1/chat/completions")
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app", bell=True)
    rings = []
    app.bell = lambda: rings.append(True)
    heard = Notes()
    async with app.run_test(message_hook=heard.hear) as pilot:
        await wait_until(pilot, lambda: any(b.id == batch.id for b in app.batches), "batch listed")
        first = next(b for b in app.batches if b.id == batch.id).status
        assert first in ("validating", "in_progress")
        async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "watch") as ws:
            for _ in range(300):
                if (await ws.service.retrieve(batch.id)).status == "completed":
                    break
                await asyncio.sleep(0.1)
        await pilot.press("r")
        await wait_until(pilot, lambda: any("→ completed" in n.message for n in heard.shown), "notified")
        note = next(n for n in heard.shown if "→ completed" in n.message)
        assert note.message.startswith(f"{batch.id}: ") and note.title == "Batch status"
        assert rings


async def test_palette_has_refresh_files_and_bell(sandbox_profile, tmp_path):
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path)
    async with app.run_test() as pilot:
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert {"Refresh now", "Files", "Toggle bell", "Theme", "Keys"} <= set(titles)
        screen_titles = [hit.text async for hit in ScreenCommands(app.screen).discover()]
        assert screen_titles[:2] == ["Search batches", "Sort batches"] and "Show the failed batches" in screen_titles
        next(command for command in app.get_system_commands(app.screen) if command.title == "Toggle bell").callback()
        assert app.bell_on_change
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.query("HelpPanel")


async def test_demo_mode_is_marked(sandbox_profile, tmp_path):
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path, demo=True)
    async with app.run_test() as pilot:
        assert app.has_class("-demo") and app.sub_title.startswith("DEMO")
        await wait_until(pilot, lambda: app.sync_status.state == "synced", "first sync")


def llm_logs_counts(db) -> tuple[int, int] | None:
    """Rows and rows with a response in llm_logs; None while the app has not made its cache yet."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return conn.execute("SELECT count(*), count(response) FROM llm_logs").fetchone()
    except sqlite3.OperationalError:
        return None


async def test_finished_batches_reach_llm_logs_by_themselves(sandbox_profile, tmp_path, write_batch_file):
    """After a sync pass the app imports finished batches into llm_logs (SQL works with no import command);
    `log_finished = false` turns that off, and the palette then imports every batch with its progress shown."""
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        for count in (6, 9):
            uploaded = await ws.upload(write_batch_file(count))
            await ws.wait_for((await ws.start_batch(uploaded.id, "/v1/chat/completions")).id, 1)

    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "on")
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: llm_logs_counts(tmp_path / "on" / "cache.db") == (15, 15), "rows imported")

    off = BatchtuiApp(replace(sandbox_profile, log_finished=False), cache_dir=tmp_path / "off")
    heard = Notes()
    async with off.run_test(message_hook=heard.hear) as pilot:
        await wait_until(pilot, lambda: off.sync_status.state == "synced", "first sync")
        await off.workers.wait_for_complete()
        assert llm_logs_counts(tmp_path / "off" / "cache.db") == (0, 0)
        command = next(c for c in off.get_system_commands(off.screen) if c.title == "Import every batch into llm_logs")
        command.callback()
        await wait_until(pilot, lambda: any("batches in llm_logs" in m for m in heard.messages), "imported")
        assert "Importing into llm_logs: batch 1 of 2…" in heard.messages
        assert "2 batches in llm_logs, 15 requests." in heard.messages
        assert llm_logs_counts(tmp_path / "off" / "cache.db") == (15, 15)

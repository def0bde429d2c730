"""Live watching: a status change raises a notification (and the bell when asked); palette commands."""

from __future__ import annotations

import asyncio

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
        assert screen_titles[:2] == ["Search batches", "Sort batches"] and "Show Failed batches" in screen_titles
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

"""Helpers the app tests share: waiting on the app through Pilot, exporting from the viewer, filling a cache."""

from __future__ import annotations

import time
from pathlib import Path

from textual.message import Message
from textual.notifications import Notification, Notify

from batchtui.core.cache.store import Cache
from batchtui.tui.widgets.batch_list import BatchList


async def wait_until(pilot, condition, what: str, tries: int = 300) -> None:
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"never happened: {what}")


async def export_from_viewer(pilot, dest: Path) -> None:
    """Press `e` in the result viewer, name `dest`, and wait until the export is written."""
    app, viewer = pilot.app, pilot.app.screen
    await pilot.press("e")
    await wait_until(pilot, lambda: app.screen is not viewer, "export asks where")
    app.screen.query_one("Input").value = str(dest)
    await pilot.press("enter")
    await wait_until(pilot, dest.exists, f"{dest.name} written")
    await app.workers.wait_for_complete()


async def open_detail(pilot, batch_id: str):
    """Open a batch's detail screen and wait until it shows the batch."""
    from batchtui.tui.screens.batch_detail import BatchDetailScreen

    pilot.app.open_batch(batch_id)
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, BatchDetailScreen), "detail screen shown")
    screen = pilot.app.screen
    await wait_until(pilot, lambda: screen.batch is not None, "batch loaded")
    return screen


class Notes:
    """The notifications an app shows, heard as Textual delivers them: pass `hear` as run_test's message_hook
    (each notification is one Notify message to the app)."""

    def __init__(self) -> None:
        self.shown: list[Notification] = []

    def hear(self, message: Message) -> None:
        if isinstance(message, Notify):
            self.shown.append(message.notification)

    @property
    def messages(self) -> list[str]:
        return [n.message for n in self.shown]


async def fill_cache(cache_dir, batches, observed_at: float | None = None) -> None:
    cache = await Cache.open(cache_dir / "cache.db")
    async with cache:
        await cache.upsert_batches(batches, observed_at=time.time() if observed_at is None else observed_at)


async def wait_for_rows(pilot, count: int) -> BatchList:
    batch_list = pilot.app.screen.query_one(BatchList)
    await wait_until(pilot, lambda: len(batch_list.rows) >= count, f"the list has {count} rows")
    return batch_list


def row_text(batch_list: BatchList, batch_id: str) -> str:
    """The row as painted (the list's line 0 is its header)."""
    index = [b.id for b in batch_list.rows].index(batch_id)
    return batch_list.render_line(index - round(batch_list.scroll_y) + 1).text

"""Cancelling an open (the user quits while the TUI is still opening the cache) leaves nothing open."""

import asyncio
import gc
import sqlite3
import threading

import pytest

from batchtui.core.config import Profile
from batchtui.core.workspace import Workspace

CANCEL_AFTER = (0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610)
"""Loop turns before the cancel: from before the connection exists, through the migrations, to after the open."""


def connection_threads() -> set[threading.Thread]:
    """aiosqlite's per-connection worker threads (Python names a thread after its target)."""
    return {thread for thread in threading.enumerate() if "_connection_worker_thread" in thread.name}


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("turns", CANCEL_AFTER)
async def test_cancelled_open_leaves_no_connection_behind(tmp_path, turns):
    profile = Profile(name="test", base_url="http://127.0.0.1:9/v1", api_key="sk-test")
    before = connection_threads()
    task = asyncio.ensure_future(Workspace.open(profile, cache_dir=tmp_path))
    for _ in range(turns):
        await asyncio.sleep(0)
    task.cancel()
    try:
        workspace = await task
    except asyncio.CancelledError:
        pass
    else:
        await workspace.close()
    left = connection_threads() - before
    for thread in left:
        thread.join(timeout=10)  # a closed connection's thread is exiting; a leaked one waits forever
    assert not [thread for thread in left if thread.is_alive()]
    gc.collect()  # an unclosed aiosqlite connection warns when collected: an error here
    assert not (tmp_path / "cache.db-wal").exists()  # SQLite removes the WAL when the last connection closes
    with sqlite3.connect(tmp_path / "cache.db") as conn:
        conn.execute("BEGIN EXCLUSIVE")
    (tmp_path / "cache.db").unlink()




def test_a_failed_open_leaves_no_thread_behind_its_event_loop(tmp_path, monkeypatch):
    """`cache.db` being a folder fails the open in one line naming it, with no connection thread still running: one
    left to finish after the event loop had closed printed 25 lines of traceback after the message, 7 runs in 10."""
    from batchtui.core.cache.store import CacheError

    path = tmp_path / "cache.db"
    path.mkdir()
    profile = Profile(name="test", base_url="http://127.0.0.1:9/v1", api_key="sk-test")
    failures: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", failures.append)
    before = connection_threads()

    async def open_once() -> tuple[str, list[threading.Thread]]:
        with pytest.raises(CacheError) as info:
            await Workspace.open(profile, cache_dir=tmp_path)
        return str(info.value), [thread for thread in connection_threads() - before if thread.is_alive()]

    for _ in range(10):
        message, running = asyncio.run(open_once())
        assert message == f"{path}: cannot open the cache (it is a folder, not a file)"
        for thread in running:
            thread.join(timeout=10)
        assert not running and not failures

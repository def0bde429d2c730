"""The app through Textual's Pilot: cache first, then sync; untrusted text literal; offline keeps working."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mounts import read_only_view
from pilot_helpers import Notes, fill_cache, row_text, wait_for_rows, wait_until
from textual.widgets import Input, Static

from batchtui.core.api.models import Batch
from batchtui.core.config import Profile
from batchtui.core.text import printable
from batchtui.core.workspace import Workspace
from batchtui.tui.app import BatchtuiApp, with_changed

DEAD_URL = "http://127.0.0.1:9/v1"


def sample_batch(number: int, status: str = "completed", description: str = "") -> Batch:
    created = 1_763_000_000 + number * 3600
    return Batch.from_dict({
        "id": f"batch_{number:04d}",
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "input_file_id": f"file-in{number}",
        "completion_window": "24h",
        "status": status,
        "created_at": created,
        "model": "gpt-4o-mini",
        "request_counts": {"total": 100, "completed": 100 if status == "completed" else 40, "failed": 0},
        "metadata": {"description": description} if description else None,
    })


def offline_app(cache_dir: Path) -> BatchtuiApp:
    """The app on `cache_dir`, with an API that cannot be reached."""
    return BatchtuiApp(Profile(name="offline", base_url=DEAD_URL, api_key="sk-x"), cache_dir=cache_dir)


async def test_paints_from_cache_without_network(tmp_path):
    await fill_cache(tmp_path, [sample_batch(1), sample_batch(2, "in_progress")])
    app = offline_app(tmp_path)
    async with app.run_test() as pilot:
        table = await wait_for_rows(pilot, 2)
        assert [batch.id for batch in table.rows] == ["batch_0002", "batch_0001"]
        for _ in range(100):
            if app.sync_status.state == "offline":
                break
            await pilot.pause(0.05)
        status = app.screen.query_one("#sync-status").render()
        assert str(status).startswith("offline: retrying in 10s · showing cache from never (Cannot reach the API")


async def test_syncs_from_the_sandbox_and_updates_in_place(sandbox_profile, tmp_path, write_batch_file):
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        uploaded = await ws.upload(write_batch_file(3))
        batch = await ws.start_batch(uploaded.id, "/v1/chat/completions", metadata={"description": "first"})
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test() as pilot:
        table = await wait_for_rows(pilot, 1)
        assert table.rows[0].id == batch.id
        await pilot.press("down", "r")
        await pilot.pause(0.2)
        assert len(table.rows) == 1
        assert app.sub_title.startswith("test · http://127.0.0.1:")
        assert str(app.screen.query_one("#sync-status").render()).startswith("synced")


async def test_untrusted_text_is_shown_literally(tmp_path):
    hostile = "[bold red]not markup[/] \x1b[2J\x1b]0;pwned\x07 \u202eevil"
    await fill_cache(tmp_path, [sample_batch(1, description=hostile)])
    app = offline_app(tmp_path)
    async with app.run_test() as pilot:
        table = await wait_for_rows(pilot, 1)
        assert table.rows[0].metadata["description"] == hostile
        text = row_text(table, "batch_0001")
        assert printable(hostile)[:12] in text
        assert "\x1b" not in text and "[bold red]" in text


def test_snapshot_batch_list(snap_compare, tmp_path, utc):
    import asyncio

    batches = [sample_batch(1), sample_batch(2, "failed"), sample_batch(3, "in_progress", "sentiment labels v3")]
    asyncio.run(fill_cache(tmp_path, batches))
    app = BatchtuiApp(Profile(name="snapshot", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path,
                      clock=lambda: 1_763_020_000)

    async def settle(pilot):
        await wait_for_rows(pilot, 3)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(140, 20), run_before=settle)


async def test_every_notification_shows_its_text_literally(tmp_path):
    """Notifications carry file names and the API's error text: never markup, never raw escape sequences."""
    app = offline_app(tmp_path)
    heard = Notes()
    async with app.run_test(message_hook=heard.hear) as pilot:
        app.notify("Cannot save \x1b]52;c;ZXZpbA==\x07 [b]x[/b] \u202eevil\nline 2", title="[red]\x1b[2J", markup=True)
        await pilot.pause()
        note = heard.shown[-1]
        assert note.message == "Cannot save \\x1b]52;c;ZXZpbA==\\x07 [b]x[/b] \\u202eevil\nline 2"
        assert note.title == "[red]\\x1b[2J" and not note.markup


def test_a_pass_swaps_in_the_changed_batches_and_adds_new_ones_newest_first():
    def batch(batch_id: str, created_at: int, status: str = "in_progress") -> Batch:
        return Batch(id=batch_id, object="batch", endpoint="/v1/chat/completions", input_file_id="f",
                     completion_window="24h", status=status, created_at=created_at)

    old = (batch("c", 3), batch("b", 2), batch("a", 1))
    swapped = with_changed(old, [batch("b", 2, "completed")])
    assert [b.id for b in swapped] == ["c", "b", "a"] and swapped[1].status == "completed"
    assert swapped[0] is old[0] and swapped[2] is old[2]  # unchanged batches keep their objects
    grown = with_changed(old, [batch("d", 4), batch("a", 1, "failed"), batch("bb", 2)])
    assert [(b.id, b.status) for b in grown] == [
        ("d", "in_progress"), ("c", "in_progress"), ("bb", "in_progress"), ("b", "in_progress"), ("a", "failed")]


def status_line(app) -> str:
    return str(app.screen.query_one("#sync-status").render())


async def failure_shown(pilot) -> None:
    """Wait until the app says the cache cannot be opened."""
    await wait_until(pilot, lambda: pilot.app.sync_status.state == "no-cache", "the failure shown")
    await pilot.pause()


async def test_a_cache_folder_that_cannot_be_made_is_named_in_the_status_line_and_r_tries_again(tmp_path):
    """A cache folder under a regular file: the status line says why nothing shows, until `r` opens it."""
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    app = offline_app(blocker / "cache")
    async with app.run_test(size=(200, 20)) as pilot:
        await failure_shown(pilot)
        assert status_line(app) == (f"{blocker}/cache/cache.db: cannot create the cache (Not a directory)"
                                    " · r tries again")
        table = app.screen.query_one("#batch-list")
        assert "the cache cannot be opened" in table.render_line(1).text
        blocker.unlink()
        blocker.mkdir()
        await pilot.press("r")
        await wait_until(pilot, lambda: app.sync_status.state == "offline", "opened, then a sync tried")
        assert app.workspace is not None and (blocker / "cache" / "cache.db").exists()
        assert "No batches cached yet" in table.render_line(1).text


async def test_any_failure_to_open_reaches_the_status_line(tmp_path):
    """Not only our own errors: a path the OS refuses outright (ValueError, not OSError) is shown too."""
    app = offline_app(tmp_path / "a\0b")
    async with app.run_test(size=(200, 20)) as pilot:
        await failure_shown(pilot)
        assert status_line(app).endswith("/a\\x00b/cache.db: cannot create the cache (a path cannot hold a NUL "
                                         "character) · r tries again")


@pytest.fixture
def read_only_folder(tmp_path) -> Iterator[Path]:
    """An empty folder on a read-only bind mount: even root cannot write into it (chmod would not stop root)."""
    (tmp_path / "source").mkdir()
    with read_only_view(tmp_path / "source", tmp_path / "read-only") as folder:
        yield folder


async def test_a_read_only_home_is_named_in_the_status_line(read_only_folder: Path):
    app = offline_app(read_only_folder / "cache")
    async with app.run_test(size=(200, 20)) as pilot:
        await failure_shown(pilot)
        assert status_line(app) == (f"{read_only_folder}/cache/cache.db: cannot create the cache"
                                    " (Read-only file system) · r tries again")
        await pilot.press("r")
        await pilot.pause(0.2)
        assert app.sync_status.state == "no-cache" and app.workspace is None


async def test_a_batch_opens_by_its_id_from_g_or_the_palette(tmp_path):
    """`g` asks for an id (a pasted one may carry quotes or a URL around it) and opens its detail; what is not an
    id is said in the prompt; the palette offers a pasted id, and the cached batches whose id holds what is typed."""
    from batchtui.tui.commands import BatchIdCommands
    from batchtui.tui.screens.batch_detail import BatchDetailScreen
    from batchtui.tui.screens.go_to_batch import GoToBatchScreen

    await fill_cache(tmp_path, [sample_batch(n, description=f"job {n}") for n in (1, 2, 12)])
    app = offline_app(tmp_path)
    async with app.run_test() as pilot:
        await wait_for_rows(pilot, 3)
        await pilot.press("g")
        await wait_until(pilot, lambda: isinstance(app.screen, GoToBatchScreen), "the id prompt")
        prompt = app.screen
        prompt.query_one(Input).value = "no id here"
        await pilot.press("enter")
        assert "not a batch id" in str(prompt.query_one("#go-to-problem", Static).render())
        prompt.query_one(Input).value = " 'https://platform.openai.com/batches/batch_0002' "
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, BatchDetailScreen), "the detail")
        await wait_until(pilot, lambda: app.screen.batch is not None, "the batch loaded")
        assert app.screen.batch.id == "batch_0002"

        provider = BatchIdCommands(app.screen)
        pasted = [hit async for hit in provider.search("batch_0012")]
        assert [str(hit.match_display) for hit in pasted] == ["Open batch batch_0012"]
        typed = [hit async for hit in provider.search("tch_00")]
        assert sorted(str(hit.match_display) for hit in typed) == [
            "Open batch_0001", "Open batch_0002", "Open batch_0012"]
        assert {hit.help for hit in typed} == {"job 1", "job 2", "job 12"}
        pasted[0].command()
        await wait_until(pilot, lambda: getattr(app.screen, "batch_id", None) == "batch_0012", "the palette's")
        await wait_until(pilot, lambda: app.screen.batch is not None, "its batch loaded")


async def test_the_palettes_screenshot_makes_its_folder_and_says_where(tmp_path, monkeypatch):
    """Textual saves to ~/Downloads and fails when it does not exist; batchtui makes the folder and names the file
    in plain words (Textual's note wraps the path in markup, which a literal notification would show)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    heard = Notes()
    app = offline_app(tmp_path / "cache")
    async with app.run_test(message_hook=heard.hear) as pilot:
        next(c for c in app.get_system_commands(app.screen) if c.title == "Screenshot").callback()
        await wait_until(pilot, lambda: any("screenshot" in m for m in heard.messages), "the screenshot note")
    saved = list((tmp_path / "home" / "Downloads").glob("*.svg"))
    assert len(saved) == 1 and heard.messages[-1] == f"Saved the screenshot to {saved[0]}"

"""The files screen through Pilot against the sandbox: list with usage, filter, upload, download, delete, view."""

from __future__ import annotations

import asyncio

import pytest
from pilot_helpers import Notes, wait_until
from textual.widgets import DataTable, Input, ProgressBar, Static

from batchtui.core.api.client import make_openai_client
from batchtui.core.api.models import Batch, FileObject
from batchtui.core.cache.store import Cache
from batchtui.core.config import Profile
from batchtui.core.workspace import Workspace
from batchtui.tui.app import BatchtuiApp
from batchtui.tui.commands import ScreenCommands
from batchtui.tui.format import short_id
from batchtui.tui.screens.confirm import ConfirmScreen
from batchtui.tui.screens.download_path import DownloadPathScreen, path_problem
from batchtui.tui.screens.file_preview import FilePreviewScreen
from batchtui.tui.screens.files import FilesScreen
from batchtui.tui.screens.upload import UploadScreen
from batchtui.tui.widgets.file_lines_view import FileLinesView

DEAD_URL = "http://127.0.0.1:9/v1"
FIXED = 1_763_100_000.0
USED_BY = 3


async def open_files(pilot) -> DataTable:
    """Press f and wait until the files screen has listed from the API (or failed to)."""
    await pilot.press("f")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, FilesScreen), "files screen shown")
    screen = pilot.app.screen
    await wait_until(pilot, lambda: screen.state in ("synced", "offline", "error"), "files listed")
    return screen.query_one(DataTable)


def column(table: DataTable, index: int) -> list[str]:
    return [table.get_row_at(row)[index].plain for row in range(table.row_count)]


def file_ids(table: DataTable) -> list[str]:
    """The listed files' ids, top to bottom, from the row keys (a narrow terminal has no ID column)."""
    return [key.value for key in table.rows]


def status_line(app) -> str:
    return str(app.screen.query_one("#files-status", Static).render())


async def upload_through_modal(pilot, path) -> None:
    await pilot.press("u")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, UploadScreen), "upload modal shown")
    pilot.app.screen.query_one("#upload-path", Input).value = str(path)
    await pilot.press("enter")


async def test_lists_files_with_the_batch_that_uses_them_and_filters_by_purpose(
    sandbox_profile, tmp_path, write_batch_file
):
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        used = await ws.upload(write_batch_file(3, "used.jsonl"))
        unused = await ws.upload(write_batch_file(2, "unused.jsonl"))
        batch = await ws.start_batch(used.id, "/v1/chat/completions")
        for _ in range(100):
            batch = await ws.fetch_batch(batch.id)
            if batch.status == "completed":
                break
            await asyncio.sleep(0.05)
    assert batch.output_file_id
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: any(b.id == batch.id for b in app.batches), "batch synced")
        table = await open_files(pilot)
        assert table.row_count == 3
        assert set(file_ids(table)) == {used.id, unused.id, batch.output_file_id}
        usage = dict(zip(file_ids(table), column(table, USED_BY), strict=True))
        assert usage[used.id] == f"{short_id(batch.id)} input"
        assert usage[batch.output_file_id] == f"{short_id(batch.id)} output"
        assert usage[unused.id] == "-"
        created = [f.created_at for f in app.screen.visible_files()]
        assert created == sorted(created, reverse=True)

        await pilot.press("p")
        assert set(file_ids(table)) == {used.id, unused.id}
        assert "2 of 3 files · purpose: batch" in status_line(app)
        await pilot.press("p")
        assert file_ids(table) == [batch.output_file_id]
        await pilot.press("p")
        assert table.row_count == 3 and "purpose: all" in status_line(app)

        table.move_cursor(row=file_ids(table).index(used.id))
        await pilot.pause()
        detail = str(app.screen.query_one("#file-detail", Static).render())
        assert f"used by {batch.id} (input)" in detail


async def test_upload_through_the_modal(sandbox_profile, tmp_path, write_batch_file):
    path = write_batch_file(4, "fresh.jsonl")
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    heard = Notes()
    async with app.run_test(message_hook=heard.hear) as pilot:
        table = await open_files(pilot)
        assert table.row_count == 0
        await upload_through_modal(pilot, path)
        await wait_until(pilot, lambda: isinstance(app.screen, FilesScreen), "modal closed")
        assert column(table, 0) == ["fresh.jsonl"]
        new_id = file_ids(table)[0]
        assert any(n.message == f"Uploaded fresh.jsonl as {new_id}" for n in heard.shown)
        assert new_id in {f.id for f in await app.workspace.service.list_files()}


async def test_upload_picks_the_file_in_the_tree(sandbox_profile, tmp_path, write_batch_file, monkeypatch):
    path = write_batch_file(2, "picked.jsonl")
    (tmp_path / "notes.txt").write_text("not shown")
    monkeypatch.chdir(tmp_path)
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_files(pilot)
        await pilot.press("u")
        await wait_until(pilot, lambda: isinstance(app.screen, UploadScreen), "upload modal shown")
        tree = app.screen.query_one("#upload-tree")
        await wait_until(pilot, lambda: len(tree.root.children) > 0, "tree loaded")
        names = [str(node.label) for node in tree.root.children]
        assert "picked.jsonl" in names and "notes.txt" not in names
        tree.move_cursor(next(node for node in tree.root.children if str(node.label) == "picked.jsonl"))
        tree.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.query_one("#upload-path", Input).value == str(path)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, FilesScreen), "modal closed")
        assert column(app.screen.query_one(DataTable), 0) == ["picked.jsonl"]


async def test_upload_errors_name_the_file(sandbox_profile, tmp_path):
    (tmp_path / "notes.txt").write_text('{"custom_id": "x"}\n')
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test() as pilot:
        await open_files(pilot)
        await upload_through_modal(pilot, tmp_path / "missing.jsonl")
        error = app.screen.query_one("#upload-error", Static)
        await pilot.pause()
        assert str(error.render()) == f"{tmp_path / 'missing.jsonl'}: no such file"
        assert isinstance(app.screen, UploadScreen)

        app.screen.query_one("#upload-path", Input).value = str(tmp_path / "notes.txt")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "400" in str(error.render()), "API error shown")
        assert str(error.render()).startswith("notes.txt: The API rejected the request (400): Invalid file format")
        await pilot.press("escape")
        assert isinstance(app.screen, FilesScreen)


async def test_delete_asks_first(sandbox_profile, tmp_path, write_batch_file):
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        doomed = await ws.upload(write_batch_file(2, "doomed.jsonl"))
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test() as pilot:
        table = await open_files(pilot)
        assert file_ids(table) == [doomed.id]
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation asked")
        await pilot.press("n")
        await pilot.pause()
        assert file_ids(table) == [doomed.id]
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation asked")
        await pilot.press("y")
        await wait_until(pilot, lambda: table.row_count == 0, "row gone")
        assert doomed.id not in {f.id for f in await app.workspace.service.list_files()}
        assert await app.workspace.files() == []


async def test_download_to_a_folder_and_view(sandbox_profile, tmp_path, write_batch_file):
    source = write_batch_file(60, "many.jsonl")
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        await ws.upload(source)
    dest = tmp_path / "downloads"
    dest.mkdir()
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    heard = Notes()
    async with app.run_test(message_hook=heard.hear) as pilot:
        await open_files(pilot)
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, DownloadPathScreen), "destination asked")
        field = app.screen.query_one(Input)
        field.value = str(tmp_path / "nowhere" / "many.jsonl")
        await pilot.press("enter")
        await pilot.pause()
        assert str(app.screen.query_one("#download-error", Static).render()).endswith("nowhere: no such folder")
        assert isinstance(app.screen, DownloadPathScreen)
        field.value = str(dest)
        await pilot.press("enter")
        await wait_until(pilot, lambda: (dest / "many.jsonl").exists(), "file downloaded")
        assert (dest / "many.jsonl").read_bytes() == source.read_bytes()
        await wait_until(pilot, lambda: any(str(dest / "many.jsonl") in n.message for n in heard.shown),
                         "download notified")

        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, FilePreviewScreen), "preview shown")
        view = app.screen.query_one(FileLinesView)
        title = app.screen.query_one("#preview-title", Static)
        await wait_until(pilot, lambda: str(title.render()).endswith("· 60 lines"), "whole file shown")
        assert view.line_count == 60 and view.visible_lines()[0].startswith('{"custom_id": "row-0"')
        await pilot.press("escape")
        assert isinstance(app.screen, FilesScreen)


async def test_copy_id(sandbox_profile, tmp_path, write_batch_file):
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        uploaded = await ws.upload(write_batch_file(1))
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    copied = []
    app.copy = lambda text, what: copied.append((text, what))
    async with app.run_test() as pilot:
        await open_files(pilot)
        await pilot.press("y")
        assert copied == [(uploaded.id, f"file id {uploaded.id}")]


async def test_markup_looking_filename_is_literal(sandbox_profile, tmp_path):
    sdk = make_openai_client(sandbox_profile)
    async with sdk:
        hostile = await sdk.files.create(file=("[bold]x[/].jsonl", b"{}\n"), purpose="batch")
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test() as pilot:
        table = await open_files(pilot)
        cell = table.get_row(hostile.id)[0]
        assert cell.plain == "[bold]x[/].jsonl" and not cell.spans
        assert str(app.screen.query_one("#file-detail", Static).render()).startswith("[bold]x[/].jsonl · ")


async def test_files_deleted_elsewhere_leave_the_list(sandbox_profile, tmp_path, write_batch_file):
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "app") as ws:
        kept = await ws.upload(write_batch_file(1, "kept.jsonl"))
        gone = await ws.upload(write_batch_file(1, "gone.jsonl"))
        await ws.service.delete_file(gone.id)
        assert {f.id for f in await ws.files()} == {kept.id, gone.id}
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test() as pilot:
        table = await open_files(pilot)
        assert file_ids(table) == [kept.id]
        assert "1 file · purpose: all · synced at" in status_line(app)
        async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "elsewhere") as other:
            added = await other.upload(write_batch_file(1, "added.jsonl"))
        await pilot.press("r")
        await wait_until(pilot, lambda: table.row_count == 2, "refreshed")
        assert set(file_ids(table)) == {kept.id, added.id}


def sample_file(number: int, name: str, purpose: str = "batch", expires_in: int | None = 29 * 86400) -> FileObject:
    created = int(FIXED) - number * 3600
    return FileObject.from_dict({
        "id": f"file-{number:022d}",
        "object": "file",
        "bytes": 1200 * number,
        "created_at": created,
        "filename": name,
        "purpose": purpose,
        "status": "processed",
        "expires_at": created + expires_in if expires_in else None,
    })


def _files_snapshot_app(tmp_path) -> BatchtuiApp:
    """An offline app whose cache holds five files, one used by a batch as input and one as output."""
    files = [
        sample_file(1, "sentiment_v3.jsonl"),
        sample_file(2, "batch_0003_output.jsonl", "batch_output"),
        sample_file(3, "[bold]not markup[/].jsonl"),
        sample_file(50, "old_requests.jsonl", expires_in=3600),
        sample_file(4, "notes.pdf", "user_data", expires_in=None),
    ]

    batch = Batch.from_dict({
        "id": "batch_69a1b2c3d4e5f60718293a4b5c6d7e8f", "object": "batch", "endpoint": "/v1/chat/completions",
        "input_file_id": files[0].id, "output_file_id": files[1].id, "completion_window": "24h",
        "status": "completed", "created_at": int(FIXED) - 1800, "request_counts": {"total": 3, "completed": 3,
                                                                                  "failed": 0},
    })

    async def fill() -> None:
        async with await Cache.open(tmp_path / "cache.db") as cache:
            await cache.upsert_files(files)
            await cache.upsert_batches([batch], observed_at=FIXED)

    asyncio.run(fill())
    return BatchtuiApp(Profile(name="snapshot", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path,
                       clock=lambda: FIXED)


async def _settle_files(pilot) -> None:
    await open_files(pilot)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_snapshot_files_screen(snap_compare, tmp_path, utc):
    assert snap_compare(_files_snapshot_app(tmp_path), terminal_size=(100, 30), run_before=_settle_files)


def test_snapshot_files_screen_80x24(snap_compare, tmp_path, utc):
    assert snap_compare(_files_snapshot_app(tmp_path), terminal_size=(80, 24), run_before=_settle_files)


async def test_palette_commands_and_upload_progress(sandbox_profile, tmp_path):
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test() as pilot:
        await open_files(pilot)
        provider = ScreenCommands(app.screen)
        titles = [hit.text async for hit in provider.discover()]
        assert {"Upload a file", "Delete the file", "Filter by purpose", "Refresh files"} <= set(titles)
        hits = [hit async for hit in provider.search("upload")]
        assert hits and hits[0].text == "Upload a file"
        await hits[0].command()
        await wait_until(pilot, lambda: isinstance(app.screen, UploadScreen), "palette opened the upload modal")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, FilesScreen), "back on files")

        await pilot.press("u")
        await wait_until(pilot, lambda: isinstance(app.screen, UploadScreen), "upload modal shown")
        bar = app.screen.query_one(ProgressBar)
        app.screen.show_progress(300, 1200)
        assert (bar.progress, bar.total) == (300, 1200)


def test_download_path_problems(tmp_path):
    (tmp_path / "taken.txt").write_text("x")
    assert path_problem(str(tmp_path)) is None
    assert path_problem(str(tmp_path / "taken.txt")) is None  # replacing is the caller's question
    assert path_problem(str(tmp_path / "new.jsonl")) is None
    assert path_problem(str(tmp_path / "new" / "folder")) is None  # made as a folder on download
    assert path_problem(str(tmp_path / "nowhere" / "x.jsonl")) == f"Folder {tmp_path / 'nowhere'}: no such folder"
    assert path_problem(str(tmp_path / "taken.txt" / "x.jsonl")).endswith("taken.txt: is a file, not a folder")
    assert path_problem("") == "Type a folder or a file path."


async def test_preview_error_shows_in_the_title(tmp_path):
    app = BatchtuiApp(Profile(name="offline", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.workspace is not None, "workspace open")
        await app.push_screen(FilePreviewScreen("file-gone", "[bold]x[/].jsonl"))
        title = app.screen.query_one("#preview-title", Static)
        await wait_until(pilot, lambda: "loading" not in str(title.render()), "preview failed")
        assert str(title.render()).startswith("[bold]x[/].jsonl: ")
        await pilot.press("q")
        assert not isinstance(app.screen, FilePreviewScreen)


@pytest.mark.parametrize("width", [120, 200])
async def test_file_ids_show_whole_and_names_take_what_is_left(tmp_path, width):
    """At 120 columns every file id lost its last character (the table was a cell wider than the screen), so an id
    read off the screen was wrong: ids show whole, and file names take the room left, cut with an ellipsis."""
    long_name = "customer_feedback_sentiment_labels_2026_q4_part_07_of_12.jsonl"
    app = await asyncio.to_thread(_files_snapshot_app, tmp_path)  # it fills the cache with asyncio.run
    async with app.run_test(size=(width, 30)) as pilot:
        await _settle_files(pilot)
        text = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        for number in (1, 2, 3, 50, 4):
            assert f"file-{number:022d}" in text
        app.screen.files = [*app.screen.files, sample_file(5, long_name)]
        app.screen.paint()
        await pilot.pause()
        text = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        assert f"file-{5:022d}" in text
        assert (long_name in text) == (width == 200) and long_name[:20] in text

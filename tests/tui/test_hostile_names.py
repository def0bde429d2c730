"""Names from the file system shown in the app: the new batch screen's and the upload modal's folder trees, the
path fields a pick fills in, the save dialog's default folder and `batchtui view`'s header all show a file named
with escape sequences or markup literally, with its controls made visible, while the file itself still opens."""

from __future__ import annotations

from pathlib import Path

import pytest
from pilot_helpers import wait_until
from textual.widgets import DirectoryTree, Input

from batchtui.core.config import Profile
from batchtui.core.results.index import ResultFiles
from batchtui.tui.app import BatchtuiApp
from batchtui.tui.screens.batches import BatchesScreen
from batchtui.tui.screens.download_path import DownloadPathScreen
from batchtui.tui.screens.files import FilesScreen
from batchtui.tui.screens.new_batch import NewBatchScreen
from batchtui.tui.screens.upload import UploadScreen
from batchtui.tui.viewer_app import ViewerApp

DEAD_URL = "http://127.0.0.1:9/v1"
EVIL = "evil\x1b[31m\x1b]0;T\x07\u202e.jsonl"
EVIL_SHOWN = "evil\\x1b[31m\\x1b]0;T\\x07\\u202e.jsonl"
MARKUP = "[red]x[b]y[@click=app.quit]q.jsonl"
"""A file name cannot hold '/', so no closing tag like [/]; opening tags and actions are enough to tell."""
RAW = ("\x1b", "\x07", "\u202e")


def request_line() -> str:
    return ('{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", '
            '"body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}}\n')


@pytest.fixture
def hostile_folder(tmp_path, monkeypatch) -> Path:
    """The working folder holds a batch file named with escape sequences and one named with markup."""
    work = tmp_path / "work"
    work.mkdir()
    for name in (EVIL, MARKUP):
        (work / name).write_text(request_line())
    monkeypatch.chdir(work)
    return work


def screen_text(app) -> str:
    """Every cell of the screen as it would be painted."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def offline_app(tmp_path: Path) -> BatchtuiApp:
    return BatchtuiApp(Profile(name="offline", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path / "app")


async def pick_in_tree(pilot, tree: DirectoryTree, shown: str) -> None:
    await wait_until(pilot, lambda: any(n.label.plain == shown for n in tree.root.children), "the tree loaded")
    tree.focus()
    tree.cursor_line = next(n for n in tree.root.children if n.label.plain == shown).line
    await pilot.press("enter")


async def open_new_batch(pilot) -> NewBatchScreen:
    """From the batch list, `n`: the new batch screen once it is shown."""
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, BatchesScreen), "batch list shown")
    await pilot.press("n")
    await wait_until(pilot, lambda: isinstance(app.screen, NewBatchScreen), "new batch screen shown")
    return app.screen


def assert_literal(text: str) -> None:
    assert not any(char in text for char in RAW), text
    assert EVIL_SHOWN in text and MARKUP in text


async def test_new_batch_tree_and_path_field_show_local_names_literally(hostile_folder, tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_new_batch(pilot)
        tree = screen.query_one(DirectoryTree)
        await pick_in_tree(pilot, tree, EVIL_SHOWN)
        assert screen.query_one("#jsonl-path", Input).value == EVIL  # the file itself, not its shown name
        await wait_until(pilot, lambda: screen.checked is not None, "the picked file checked")
        await pick_in_tree(pilot, tree, MARKUP)
        await pilot.pause()
        text = screen_text(app)
    assert_literal(text)


async def test_a_picked_name_shows_in_its_path_field_with_visible_controls(hostile_folder, tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        field = (await open_new_batch(pilot)).query_one("#jsonl-path", Input)
        await pick_in_tree(pilot, app.screen.query_one(DirectoryTree), EVIL_SHOWN)
        shown = field.render_line(0).text
    assert field.value == EVIL
    # ESC as its picture, the RLO as U+FFFD (the BEL never reaches the field's text: Rich drops it)
    assert "evil␛[31m␛]0;T\ufffd.jsonl" in shown and not any(char in shown for char in RAW)


async def test_upload_tree_shows_local_names_literally(hostile_folder, tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, BatchesScreen), "batch list shown")
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, FilesScreen), "files screen shown")
        await pilot.press("u")
        await wait_until(pilot, lambda: isinstance(app.screen, UploadScreen), "upload modal shown")
        await pick_in_tree(pilot, app.screen.query_one(DirectoryTree), EVIL_SHOWN)
        assert app.screen.query_one("#upload-path", Input).value == str(hostile_folder / EVIL)
        await pick_in_tree(pilot, app.screen.query_one(DirectoryTree), MARKUP)
        await pilot.pause()
        assert_literal(screen_text(app))


async def test_save_dialog_shows_a_hostile_folder_literally(tmp_path):
    folder = tmp_path / "out\x1b]0;T\x07\x1b[2J"
    app = offline_app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, BatchesScreen), "batch list shown")
        app.push_screen(DownloadPathScreen("the output file", folder))
        await wait_until(pilot, lambda: isinstance(app.screen, DownloadPathScreen), "save dialog shown")
        await pilot.pause()
        field = app.screen.query_one(Input)
        shown = field.render_line(0).text
    assert field.value == str(folder)
    assert "out␛]0;T␛[2J" in shown and not any(char in shown for char in RAW)


@pytest.mark.parametrize("name", [EVIL, MARKUP])
async def test_viewer_header_shows_the_file_name_literally(tmp_path, name):
    output = tmp_path / name
    output.write_text(request_line())
    app = ViewerApp(ResultFiles(output=output), Profile(name="local"))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.3)
        header = screen_text(app).splitlines()[0]
    assert "batchtui view — " in header
    assert (EVIL_SHOWN if name == EVIL else MARKUP) in header and not any(char in header for char in RAW)

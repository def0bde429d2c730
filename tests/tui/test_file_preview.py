"""The file preview through Pilot against the sandbox: the whole file, read as the user scrolls, keys at once."""

from __future__ import annotations

from pilot_helpers import open_detail, wait_until
from textual.widgets import Static

from batchtui.core.workspace import Workspace
from batchtui.tui.app import BatchtuiApp
from batchtui.tui.screens.file_preview import FilePreviewScreen
from batchtui.tui.screens.files import FilesScreen
from batchtui.tui.widgets.detail_files import PICK_HINT, BatchFiles
from batchtui.tui.widgets.file_lines_view import FileLinesView

LINES = 3000


def painted(view: FileLinesView) -> list[str]:
    """The view's rows as painted on screen: line number and text."""
    rows = range(view.scrollable_content_region.height)
    return ["".join(segment.text for segment in view.render_line(y)).rstrip() for y in rows]


async def open_preview(pilot) -> FileLinesView:
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, FilePreviewScreen), "preview shown")
    view = pilot.app.screen.query_one(FileLinesView)
    title = pilot.app.screen.query_one("#preview-title", Static)
    await wait_until(pilot, lambda: f"{LINES:,} lines" in str(title.render()), f"whole file ready: {title.render()}")
    return view


async def test_preview_scrolls_to_the_last_line_of_a_long_file(sandbox_profile, tmp_path, write_batch_file):
    source = write_batch_file(LINES, "long.jsonl")
    last = source.read_text().splitlines()[-1]
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        await ws.upload(source)
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, FilesScreen), "files screen shown")
        await wait_until(pilot, lambda: app.screen.state == "synced", "files listed")
        await pilot.press("v")
        view = await open_preview(pilot)
        number, text = painted(view)[0].split(maxsplit=1)
        assert number == "1" and source.read_text().startswith(text) and len(text) > 60
        await pilot.press("pagedown")
        assert view.scroll_offset.y > 0
        await pilot.press("end")
        await pilot.pause()
        rows = painted(view)
        assert rows[-1].split(maxsplit=1)[0] == f"{LINES}"
        assert last.startswith(rows[-1].split(maxsplit=1)[1])
        assert view.visible_lines()[-1] == last


async def test_right_arrow_scrolls_without_tab(sandbox_profile, tmp_path, write_batch_file):
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        uploaded = await ws.upload(write_batch_file(LINES, "detail.jsonl"))
        batch = await ws.start_batch(uploaded.id, "/v1/chat/completions")
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_detail(pilot, batch.id)
        assert screen.query_one(BatchFiles).border_subtitle == PICK_HINT
        await pilot.press("v")
        view = await open_preview(pilot)
        assert view.has_focus and view.scroll_offset.x == 0
        await pilot.press("right", "right")
        await wait_until(pilot, lambda: view.scroll_offset.x == 2, "scrolled two columns")  # a loaded machine lags
        await pilot.pause()
        assert painted(view)[0].split(maxsplit=1)[1].startswith('custom_id": "row-0"')


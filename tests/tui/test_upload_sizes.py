"""The upload modal says how much has gone out in a unit that fits the file, as the command line does."""

from __future__ import annotations

from pilot_helpers import wait_until
from textual.widgets import Static

from batchtui.tui.app import BatchtuiApp
from batchtui.tui.screens.upload import UploadScreen


async def test_the_upload_modal_shows_bytes_sent_of_the_file(sandbox_profile, tmp_path):
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f")
        await pilot.press("u")
        await wait_until(pilot, lambda: isinstance(app.screen, UploadScreen), "upload modal shown")
        sent = app.screen.query_one("#upload-sent", Static)
        for done, total, shown in ((0, 412, "0 B of 412 B"), (412, 412, "412 B of 412 B"),
                                   (4_900, 12_345, "4.9 KB of 12.3 KB")):
            app.screen.show_progress(done, total)
            await pilot.pause()
            assert str(sent.render()) == shown

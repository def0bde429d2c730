"""Regenerate the README screenshots: the app against the seeded demo sandbox, saved as SVG.

Run: make screenshots
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from textual.widgets import DataTable

from batchtui.core.config import Profile
from batchtui.sandbox import SandboxConfig, SandboxServer
from batchtui.tui.app import BatchtuiApp

HERE = Path(__file__).parent
SIZE = (150, 40)


async def batch_list(server: SandboxServer, cache_dir: Path) -> None:
    profile = Profile(name="demo", base_url=server.base_url, api_key="sk-demo")
    app = BatchtuiApp(profile, cache_dir=cache_dir, demo=True)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(DataTable)
        while table.row_count == 0:
            await pilot.pause(0.1)
        await pilot.pause(0.5)
        app.save_screenshot("batch-list.svg", path=str(HERE))


def main() -> None:
    with tempfile.TemporaryDirectory() as home, SandboxServer(SandboxConfig(seed_demo=True)) as server:
        asyncio.run(batch_list(server, Path(home)))
    print(f"wrote {HERE / 'batch-list.svg'}")


if __name__ == "__main__":
    main()

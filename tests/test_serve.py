"""`batchtui serve`: the app in a real headless Chromium, and through the websocket textual-serve's page speaks;
exports arriving as browser downloads; the key kept out of the page, the logs and the command; hosts refused."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pyte
import pytest
from cli_helpers import batchtui
from serve_helpers import CHROMIUM, chromium, open_app_page, served, wait_for_screen

SECRET = "sk-never-shown-4f8a"
WAIT_SECONDS = 60


class WebTerminal:
    """The websocket of one browser tab, with the screen its bytes draw (as the page's xterm.js would)."""

    def __init__(self, websocket: aiohttp.ClientWebSocketResponse, size: tuple[int, int]) -> None:
        self.websocket = websocket
        self.screen = pyte.Screen(*size)
        self.stream = pyte.ByteStream(self.screen)
        self.received = bytearray()
        self.notes: list[list[object]] = []
        """The text messages: what the page acts on besides drawing (deliver_file_start, open_url, pong)."""

    def text(self) -> str:
        return "\n".join(self.screen.display)

    async def type(self, keys: str) -> None:
        await self.websocket.send_str(json.dumps(["stdin", keys]))

    async def wait_for(self, *texts: str) -> str:
        """The screen once it shows every one of `texts`."""
        await self._until(lambda: all(text in self.text() for text in texts), f"the screen to show {texts}")
        return self.text()

    async def wait_for_note(self, kind: str) -> list[object]:
        """The first text message of `kind`."""
        await self._until(lambda: any(note[0] == kind for note in self.notes), f"a {kind} message")
        return next(note for note in self.notes if note[0] == kind)

    async def _until(self, done: Callable[[], bool], what: str) -> None:
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                while not done():
                    message = await self.websocket.receive()
                    if message.type == aiohttp.WSMsgType.BINARY:
                        self.received += message.data
                        self.stream.feed(message.data)
                    elif message.type == aiohttp.WSMsgType.TEXT:
                        self.notes.append(json.loads(message.data))
                    else:
                        raise AssertionError(f"the websocket closed ({message.type}) while waiting for {what}; "
                                             f"the screen was:\n{self.text()}")
        except TimeoutError:
            raise AssertionError(f"waited {WAIT_SECONDS}s for {what}; the screen was:\n{self.text()}") from None


async def open_tab(session: aiohttp.ClientSession, url: str, size: tuple[int, int] = (120, 36)) -> WebTerminal:
    websocket = await session.ws_connect(f"{url}ws?width={size[0]}&height={size[1]}")
    await websocket.send_str(json.dumps(["resize", {"width": size[0], "height": size[1]}]))
    return WebTerminal(websocket, size)


def test_a_browser_shows_the_batches_and_a_batch_timeline(tmp_path):
    if CHROMIUM is None:
        pytest.skip("no chromium on this machine (Debian: apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'")
    with served("--demo", cwd=tmp_path, log=tmp_path / "serve.log") as url, chromium() as browser:
        page = open_app_page(browser, url)
        shown = wait_for_screen(page, "batchtui — DEMO", "batch_", "completed", "in progress")
        first = next(line.split()[0] for line in shown.splitlines() if line.lstrip().startswith("batch_"))
        page.focus(".xterm-helper-textarea")
        page.keyboard.press("Enter")
        detail = wait_for_screen(page, "Timeline", first.rstrip("…"))
        assert "validating" in detail


async def test_the_websocket_shows_the_first_screen(tmp_path):
    with served("--demo", cwd=tmp_path, log=tmp_path / "serve.log") as url:
        async with aiohttp.ClientSession() as session:
            tab = await open_tab(session, url)
            shown = await tab.wait_for("batchtui — DEMO", "batch_", "completed")
            assert "Quit" in shown


async def test_an_export_in_the_browser_arrives_as_a_download(tmp_path):
    """The SQL screen's CSV export, saved on the server and handed to the browser through textual-serve."""
    with served("--demo", cwd=tmp_path, log=tmp_path / "serve.log") as url:
        async with aiohttp.ClientSession() as session:
            tab = await open_tab(session, url)
            await tab.wait_for("batch_", "completed")
            await tab.type("Q")
            await tab.wait_for("ctrl+r runs the query")
            await tab.type("\x1b[18~")  # f7 selects the example query, to type over it
            await asyncio.sleep(1)  # text in the same read as an escape sequence is taken for part of it
            await tab.type("SELECT 'sent' AS word, 42 AS answer")
            await tab.type("\x12")  # ctrl+r
            await tab.wait_for("1 row")
            await tab.type("\x0f")  # ctrl+o
            await tab.wait_for("Export 1 row to:", "paths are on the machine")
            await tab.type("\r")
            _, key = await tab.wait_for_note("deliver_file_start")
            async with session.get(f"{url}download/{key}") as response:
                assert response.status == 200
                assert "attachment; filename=query.csv" in response.headers["Content-Disposition"]
                delivered = await response.read()
            await tab.wait_for("sent to your browser")
    assert delivered == (tmp_path / "query.csv").read_bytes()
    assert delivered.splitlines() == [b"word,answer", b"sent,42"]


async def test_the_key_is_in_no_page_log_or_command(tmp_path, isolated_home, fresh_sandbox):
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "config.toml").write_text(
        f'[profiles.team]\nbase_url = "{fresh_sandbox.base_url}"\napi_key = "{SECRET}"\n')
    log = tmp_path / "serve.log"
    with served("--profile", "team", cwd=tmp_path, log=log) as url:
        page = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=30).read().decode())
        async with aiohttp.ClientSession() as session:
            tab = await open_tab(session, url)
            await tab.wait_for("batchtui", "team")
            await tab.type("\x11")  # ctrl+q: the app ends, and says whatever it says on the way out
            await asyncio.sleep(1)
    shown = log.read_text()
    assert "-m batchtui --profile team" in " ".join(shown.split())
    for where, text in (("page", page), ("log", shown), ("screen", tab.received.decode(errors="replace"))):
        assert SECRET not in text, where


def test_other_hosts_need_public_and_are_warned_about(tmp_path):
    env = dict(os.environ)
    refused = batchtui("serve", "--demo", "--host", "0.0.0.0", env=env, check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "batchtui: --host 0.0.0.0: other machines could use the app and the profile's API key; "
        "add --public to serve it there"]
    no_url = batchtui("serve", "--demo", "--host", "0.0.0.0", "--public", env=env, check=False)
    assert no_url.returncode == 1
    assert "also give --url, the address browsers open" in no_url.stderr
    # 192.0.2.1 is a documentation address no machine has: the warning comes, then the bind fails.
    warned = batchtui("serve", "--demo", "--host", "192.0.2.1", "--public", "--port", "8001", env=env, check=False)
    assert warned.returncode != 0
    assert ("batchtui: warning: serving on 192.0.2.1:8001: whoever reaches this port uses the demo sandbox's key"
            in warned.stderr)


def test_without_textual_serve_it_says_how_to_install_it(tmp_path):
    blocked = ("import sys; sys.modules['textual_serve'] = None; sys.argv = ['batchtui', 'serve', '--demo']; "
               "from batchtui.cli import main; main()")
    done = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).parent)
    assert done.returncode == 1
    assert done.stderr.strip() == "batchtui: serve needs textual-serve: pip install 'batchtui[serve]'"

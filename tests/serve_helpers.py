"""`batchtui serve` in its own process, and its page in headless Chromium: for tests/test_serve.py and the README's
screenshot (screenshots/serve_screenshot.py)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

CHROMIUM = shutil.which("chromium")
"""Debian's chromium, which playwright drives in place of a browser build of its own (that needs a download)."""

TERMINAL_NEEDLE = "this.terminal.open(e),"
"""Where textual-serve's page (static/js/textual.js) opens its xterm.js terminal; the test page keeps a handle to
that terminal there, to read what it shows from its buffer (its canvas has no text to read)."""

SCREEN_TEXT = """() => {
    const buffer = window.batchtuiTerminal.buffer.active;
    const lines = [];
    for (let y = 0; y < buffer.length; y++) lines.push(buffer.getLine(y).translateToString(true));
    return lines.join("\\n");
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(*options: str, cwd: Path, log: Path) -> Iterator[str]:
    """`batchtui serve` (plus `options`) on a free loopback port, run in `cwd` with its output in `log`; yields
    the page's URL once the server answers. Its own process group, so its apps end with it."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "batchtui", "serve", "--port", str(port), *options],
                                   cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"serve ended ({process.returncode}): {log.read_text()}"
            assert time.monotonic() < deadline, f"serve did not answer on port {port}: {log.read_text()}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


def open_app_page(browser: Browser, url: str, *, size: tuple[int, int] = (1400, 800)) -> Page:
    """The served page with the terminal's handle kept (see TERMINAL_NEEDLE), every request off the server
    refused (it asks a web font service for its font, out of reach here), once the app shows batch rows."""
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})

    def keep_terminal(route: Route) -> None:
        response = route.fetch()
        script = response.text()
        assert TERMINAL_NEEDLE in script, "textual-serve's page no longer opens its terminal as this test expects"
        route.fulfill(response=response,
                      body=script.replace(TERMINAL_NEEDLE, TERMINAL_NEEDLE + "window.batchtuiTerminal=this.terminal,"))

    page.route(lambda address: not address.startswith(url), lambda route: route.abort())
    page.route("**/static/js/textual.js", keep_terminal)
    page.goto(url, wait_until="domcontentloaded")
    wait_for_screen(page, "batch_", "completed")
    return page


def screen_text(page: Page) -> str:
    """What the page's terminal shows, line by line."""
    return str(page.evaluate(SCREEN_TEXT))


def wait_for_screen(page: Page, *texts: str, timeout: float = 60) -> str:
    """The terminal's text once it shows every one of `texts`."""
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        if page.evaluate("() => Boolean(window.batchtuiTerminal)"):
            shown = screen_text(page)
            if all(text in shown for text in texts):
                return shown
        page.wait_for_timeout(200)
    raise AssertionError(f"the page never showed {texts}; it showed:\n{shown}")


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Debian chromium, driven by playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()

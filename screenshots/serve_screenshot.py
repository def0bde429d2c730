"""Take the README's picture of the app in a browser: `batchtui serve --demo`, opened in headless Debian chromium,
saved as screenshots/serve.png. It starts and drives the server as tests/test_serve.py does.

Run: .venv/bin/python screenshots/serve_screenshot.py (needs chromium: apt-get install chromium)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent.absolute()
sys.path.insert(0, str(HERE.parent / "tests"))

from serve_helpers import CHROMIUM, chromium, open_app_page, served  # noqa: E402

SETTLE_MS = 1500


def main() -> None:
    if CHROMIUM is None:
        sys.exit("serve_screenshot: no chromium on this machine (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="batchtui-serve-") as folder, \
            served("--demo", cwd=Path(folder), log=Path(folder) / "serve.log") as url, chromium() as browser:
        page = open_app_page(browser, url, size=(1280, 720))
        page.wait_for_timeout(SETTLE_MS)
        page.screenshot(path=str(HERE / "serve.png"))
    print(HERE / "serve.png")


if __name__ == "__main__":
    main()

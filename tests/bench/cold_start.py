"""Cold start: how soon batchtui answers, against baselines measured in the same run, printed as ratios.

- `batchtui --version` against `python -c "import cyclopts"` (goal: at most 2x);
- `batchtui view OUTPUT` on a 50,000-request output file, until its first rows are on screen, against a minimal
  Textual app's first paint (goal: at most 2x);
- the app on a cached account of 10,000 batches (the API unreachable), until the list's first rows are on screen,
  against the same minimal app (goal: at most 2.5x).
Whole processes each time; the screens are read in a pseudo-terminal of 140x40 through pyte, polling every 5 ms.
batchtui runs as an installed copy does, from compiled bytecode (pip compiles a package as it installs it): the
script compiles the source tree first, as a checkout under PYTHONDONTWRITEBYTECODE=1 would otherwise compile every
module of batchtui again on each start while the baselines' libraries load from their bytecode.
Run: .venv/bin/python tests/bench/cold_start.py [--runs 5] [--folder /tmp/batchtui-bench-50k]
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import fcntl
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

import pyte
from result_files import result_files_in
from tui_batch_list import make_batches

import batchtui

COLUMNS, LINES = 140, 40
TIMEOUT = 60.0
MINIMAL_APP = ("from textual.app import App\nfrom textual.widgets import Static\n"
               "class Minimal(App):\n    def compose(self):\n        yield Static('minimal app ready')\n"
               "Minimal().run()\n")


def first_screen(args: list[str], needle: str, env: dict[str, str]) -> float:
    """Seconds from starting `args` on a pty until `needle` is on its screen; the process is killed after."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    screen = pyte.Screen(COLUMNS, LINES)
    stream = pyte.ByteStream(screen)
    os.set_blocking(master, False)
    t0 = time.perf_counter()
    process = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
                               close_fds=True)
    os.close(slave)
    try:
        while time.perf_counter() - t0 < TIMEOUT:
            try:
                stream.feed(os.read(master, 1 << 20))
            except BlockingIOError:
                time.sleep(0.005)
                continue
            except OSError:
                break
            if any(needle in line for line in screen.display):
                return time.perf_counter() - t0
        raise SystemExit(f"{' '.join(args)}: the screen never showed {needle!r}:\n" + "\n".join(screen.display))
    finally:
        process.kill()
        process.wait()
        os.close(master)


def process_time(args: list[str], env: dict[str, str]) -> float:
    """Seconds `args` takes to run to its end."""
    t0 = time.perf_counter()
    subprocess.run(args, env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def fill_cache(env: dict[str, str], batches: int) -> None:
    """Write `batches` batches into the cache the app opens under `env`'s BATCHTUI_HOME."""
    os.environ.update(env)
    from batchtui.core.cache.store import Cache
    from batchtui.core.config import resolve_profile

    async def fill() -> None:
        async with await Cache.open(resolve_profile(None).cache_dir() / "cache.db") as cache:
            await cache.upsert_batches(make_batches(batches), observed_at=time.time())

    asyncio.run(fill())


def figures(label: str, runs: int, measure, baseline, goal: float) -> str:
    """Alternate the two measurements `runs` times; one line of min and median for each, and their ratios."""
    ours, base = [], []
    for _ in range(runs):
        base.append(baseline())
        ours.append(measure())
    ratio = min(ours) / min(base)
    verdict = "ok" if ratio <= goal else f"MISSED by {ratio / goal:.2f}x"
    return (f"{label:<34} {min(ours) * 1000:7.0f} {statistics.median(ours) * 1000:7.0f}   "
            f"{min(base) * 1000:7.0f} {statistics.median(base) * 1000:7.0f}   "
            f"{ratio:5.2f}x (median {statistics.median(ours) / statistics.median(base):4.2f}x)  goal {goal}x {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "batchtui-bench-50k")
    args = parser.parse_args()
    python = sys.executable
    compileall.compile_dir(Path(batchtui.__file__).parent, quiet=1)
    with tempfile.TemporaryDirectory(prefix="batchtui-cold-") as home:
        env = {**os.environ, "BATCHTUI_HOME": home, "OPENAI_API_KEY": "sk-bench",
               "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "TERM": "xterm-256color"}
        files = result_files_in(args.folder, 50_000)
        fill_cache(env, 10_000)
        minimal = lambda: first_screen([python, "-c", MINIMAL_APP], "minimal app ready", env)  # noqa: E731
        print(f"{'':<34} {'ours: min':>9} {'median':>7}   {'base: min':>9} {'median':>7}   ratio (ms)")
        print(figures("batchtui --version / import cyclopts", args.runs,
                      lambda: process_time([python, "-m", "batchtui", "--version"], env),
                      lambda: process_time([python, "-c", "import cyclopts"], env), 2.0))
        print(figures("view 50,000 first rows / minimal", args.runs,
                      lambda: first_screen([python, "-m", "batchtui", "view", str(files.output)], "review-", env),
                      minimal, 2.0))
        print(figures("app 10,000 cached / minimal", args.runs,
                      lambda: first_screen([python, "-m", "batchtui"], "batch_0000", env), minimal, 2.5))


if __name__ == "__main__":
    main()

"""Result viewer speed, headless: first rows on screen, key press to repaint, full-text search, peak RSS.

Opens the viewer (`batchtui view`'s app) on a generated chat batch of 500 and of 50,000 requests
(input ~100 MB, output ~200 MB, 2% failures at 50,000). The files are made in a child process so this
process's peak RSS is the viewer's own. A paint is timed when the screen's update reaches the headless
driver, after turning it into terminal output as a real terminal would (see tui_batch_list.PaintClock).

Run: .venv/bin/python tests/bench/tui_results.py [--sizes 500 50000] [--dir DIR] [--query WORD]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from textual.widgets import Input
from tui_batch_list import PaintClock

from batchtui.core.config import Profile
from batchtui.core.results.index import ResultFiles
from batchtui.tui.screens.results import ResultsScreen
from batchtui.tui.viewer_app import ViewerApp
from batchtui.tui.widgets.result_list import ResultList

SIZE = (140, 40)


def files_in(folder: Path) -> ResultFiles:
    return ResultFiles(input=folder / "input.jsonl", output=folder / "output.jsonl", errors=folder / "errors.jsonl")


def generate(folder: Path, count: int) -> ResultFiles:
    """Make the files in a child process (once), so their bytes never count in this process's RSS."""
    files = files_in(folder)
    if not all(path.exists() for path in (files.input, files.output, files.errors)):
        folder.mkdir(parents=True, exist_ok=True)
        code = (f"from pathlib import Path; from result_files import make_result_files; "
                f"make_result_files(Path({str(folder)!r}), {count})")
        subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent)
    return files


class BenchViewer(ViewerApp):
    def __init__(self, files: ResultFiles, clock: PaintClock) -> None:
        super().__init__(files, Profile(name="bench"))
        self.paint = clock
        self.opened_at = 0.0

    def on_mount(self) -> None:
        self.paint.wrap_display(self)
        self.first_frame_at = 0.0
        shown = self._display

        def display(screen, renderable) -> None:  # the baseline: the first frame, header and footer only
            if not self.first_frame_at:
                self.first_frame_at = time.perf_counter()
            shown(screen, renderable)

        self._display = display
        self.paint.reset()
        self.paint.data_changed = True
        self.opened_at = time.perf_counter()
        super().on_mount()


def count_row_paints(clock: PaintClock):
    """Like PaintClock.wrap_render_line, but only a request's row counts (not the header or "Indexing…")."""
    original = ResultList.render_line

    def render_line(widget: ResultList, y: int):
        if clock.data_changed and y > 0 and widget.rows:
            clock.rows_rendered = True
        return original(widget, y)

    ResultList.render_line = render_line
    return lambda: setattr(ResultList, "render_line", original)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


async def press_timed(pilot, clock: PaintClock, key: str) -> float:
    """Key to the list's repaint; keys come 0.15 s apart, so the detail pane of the last one has been drawn."""
    await pilot.pause(0.15)
    clock.reset()
    clock.data_changed = True
    started = time.perf_counter()
    await pilot.press(key)
    return await clock.wait() - started


async def search(pilot, screen: ResultsScreen, query: str) -> tuple[float, float, int]:
    """(seconds to the first hit on screen, seconds to the end of the search, hits)."""
    await pilot.press("slash", *query)
    box = screen.query_one("#results-search", Input)
    started = time.perf_counter()
    await box.action_submit()  # not pilot.press: that waits for the app to be idle, i.e. for the whole search
    first_hit = None
    while screen.hits is None or screen.searching:  # noqa: ASYNC110 (polls another thread's work)
        if first_hit is None and screen.hits:
            first_hit = time.perf_counter() - started
        await asyncio.sleep(0.001)
    spent = time.perf_counter() - started
    hits = len(screen.hits)
    await pilot.press("escape")
    return (first_hit if first_hit is not None else spent), spent, hits


async def measure(files: ResultFiles, queries: list[str], store: Path) -> dict:
    os.environ["BATCHTUI_HOME"] = str(store)
    clock = PaintClock()
    restore = count_row_paints(clock)
    app = BenchViewer(files, clock)
    result: dict = {}
    try:
        async with app.run_test(size=SIZE) as pilot:
            result["first_rows"] = await clock.wait() - app.opened_at
            result["first_frame"] = app.first_frame_at - app.opened_at
            screen = app.screen
            assert isinstance(screen, ResultsScreen)
            while screen.index is None or not screen.index.complete:  # noqa: ASYNC110 (polls another thread's work)
                await asyncio.sleep(0.005)
            result["indexed"] = time.perf_counter() - app.opened_at
            result["rows"] = len(screen.index)
            keys: dict[str, list[float]] = {"down": [], "pagedown": [], "end/home": []}
            for _ in range(40):
                keys["down"].append(await press_timed(pilot, clock, "down"))
            for _ in range(20):
                keys["pagedown"].append(await press_timed(pilot, clock, "pagedown"))
            for _ in range(10):
                keys["end/home"].append(await press_timed(pilot, clock, "end"))
                keys["end/home"].append(await press_timed(pilot, clock, "home"))
            result["keys"] = keys
            result["searches"] = [await search(pilot, screen, query) for query in queries]
    finally:
        restore()
    return result


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:,.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 50_000])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "batchtui-bench-results")
    parser.add_argument("--queries", nargs="+", default=["refund", "battery warranty", "zebra"],
                        help="searched one after the other: in most rows, in some, in none")
    args = parser.parse_args()

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Textual headless, {SIZE[0]}x{SIZE[1]}\n")
    print("| requests | MB on disk | open | first frame (baseline) | first rows | fully indexed | down p95 "
          "| page down p95 | end/home p95 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    searches = []
    for count in args.sizes:
        files = generate(args.dir / str(count), count)
        megabytes = sum(p.stat().st_size for p in (files.input, files.output, files.errors)) / 1e6
        with tempfile.TemporaryDirectory() as store:
            for label in ("cold", "stored index"):
                run = await measure(files, args.queries, Path(store))
                keys = run["keys"]
                print(f"| {count:,} | {megabytes:,.0f} | {label} | {ms(run['first_frame'])} | {ms(run['first_rows'])} "
                      f"| {ms(run['indexed'])} "
                      f"| {ms(p95(keys['down']))} | {ms(p95(keys['pagedown']))} | {ms(p95(keys['end/home']))} |")
                searches += [(count, label, query, *result) for query, result in zip(args.queries, run["searches"],
                                                                                     strict=True)]
    print("\n| requests | open | search | first hit on screen | whole search | hits |")
    print("| --- | --- | --- | --- | --- | --- |")
    for count, label, query, first_hit, spent, hits in searches:
        print(f"| {count:,} | {label} | {query!r} | {ms(first_hit)} | {ms(spent)} | {hits:,} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak:,.0f} MB (after imports, before opening: {rss_before:,.0f} MB)")


if __name__ == "__main__":
    asyncio.run(main())

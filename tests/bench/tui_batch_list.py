"""Home list speed: first paint and search-keystroke latency for BatchList, with Textual's DataTable as baseline.

Both run headless in the same process on the same batches, at the same terminal size, with the same
search index: the BatchesScreen (virtual list) against a screen that fills a DataTable with one row per
batch and, on each keystroke, clears it and adds the matching rows. A paint is timed when the screen's
update reaches the (headless) driver, after turning it into terminal output as a real terminal would.

"key→paint" runs from the key event to the paint showing the new rows, so it includes Textual's frame
pacing (at most 60 updates a second); "key handler" is the screen's own work for the keystroke.
"full GC" is one full pass of Python's cyclic garbage collector in the app after the typing and a sync that
re-read every batch: the pause that can land on any keystroke. After the first paint both apps freeze the
start-up heap as BatchtuiApp does (`--no-freeze`: as it did before).
Run: .venv/bin/python tests/bench/tui_batch_list.py [--sizes 0 1000 10000] [--query review] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Callable

from textual import on
from textual._compositor import CompositorUpdate
from textual.app import App, ComposeResult
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from batchtui.core.api.models import Batch
from batchtui.core.listing import SearchIndex, description
from batchtui.tui.app import with_changed
from batchtui.tui.format import ago, literal, status_badge
from batchtui.tui.literal_app import freeze_startup_heap
from batchtui.tui.screens.batches import BatchesScreen
from batchtui.tui.sync_status import SyncStatus
from batchtui.tui.widgets.batch_list import BatchList

NOW = 1_763_200_000.0
SIZE = (140, 40)
STATUSES = ("completed",) * 12 + ("failed", "expired", "cancelled", "in_progress", "validating", "finalizing")
TOPICS = ("review sentiment", "support triage", "product summaries", "eval nightly", "embeddings backfill")


def make_batches(count: int) -> tuple[Batch, ...]:
    """`count` batches, newest first, with the mix of statuses and metadata an account accumulates."""
    batches = []
    for i in range(count):
        status = STATUSES[i % len(STATUSES)]
        total = 100 + (i * 37) % 5_000
        done = total if status == "completed" else (total * (i % 10)) // 10
        created = int(NOW - i * 900)
        batches.append(Batch.from_dict({
            "id": f"batch_{i:032x}", "object": "batch", "endpoint": "/v1/chat/completions",
            "input_file_id": f"file-{i:024x}", "completion_window": "24h", "status": status,
            "created_at": created, "expires_at": created + 86_400, "model": "gpt-4o-mini",
            "request_counts": {"total": total, "completed": done, "failed": i % 3},
            "metadata": {"description": f"{TOPICS[i % len(TOPICS)]} #{i}", "owner": f"team-{i % 7}"},
        }))
    return tuple(batches)


class PaintClock:
    """Records when an update holding rows rendered after the data changed reaches the driver."""

    def __init__(self) -> None:
        self.data_changed = True
        self.rows_rendered = False
        self.painted_at: float | None = None

    def reset(self) -> None:
        self.data_changed = False
        self.rows_rendered = False
        self.painted_at = None

    def wrap_render_line(self, cls: type) -> Callable[[], None]:
        original = cls.render_line
        clock = self

        def render_line(widget, y: int):
            if clock.data_changed:
                clock.rows_rendered = True
            return original(widget, y)

        cls.render_line = render_line
        return lambda: setattr(cls, "render_line", original)

    def wrap_display(self, app: App) -> None:
        original = app._display
        clock = self

        def display(screen, renderable) -> None:
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)
                if clock.rows_rendered and clock.painted_at is None:
                    clock.painted_at = time.perf_counter()
            original(screen, renderable)

        app._display = display

    async def wait(self) -> float:
        deadline = time.perf_counter() + 120.0
        while self.painted_at is None:
            if time.perf_counter() > deadline:
                raise TimeoutError("no paint")
            await asyncio.sleep(0.0005)
        return self.painted_at


class BenchApp(App[None]):
    """Just enough of BatchtuiApp's contract for a screen: batches, sync status, clock, no workspace."""

    batches: reactive[tuple[Batch, ...]] = reactive((), always_update=True)
    sync_status: reactive[SyncStatus] = reactive(SyncStatus("synced", NOW - 12))

    def __init__(self, screen_type: type[Screen], batches: tuple[Batch, ...], clock: PaintClock, freeze: bool) -> None:
        super().__init__()
        self.freeze = freeze
        self.screen_type = screen_type
        self.initial = batches
        self.paint = clock
        self.workspace = None
        self.handed_over_at = 0.0

    def clock(self) -> float:
        return NOW

    def open_batch(self, batch_id: str) -> None:
        pass

    def on_mount(self) -> None:
        self.paint.wrap_display(self)
        self.paint.reset()
        self.handed_over_at = time.perf_counter()
        self.batches = self.initial
        self.push_screen(self.screen_type())
        if self.freeze:
            self.call_after_refresh(freeze_startup_heap)  # what BatchtuiApp.start does once the cache is shown


def table_cells(batch: Batch) -> list:
    counts = batch.request_counts
    progress = f"{counts.completed}/{counts.failed}/{counts.total}" if counts and counts.total else "-"
    return [literal(batch.id[:14]), status_badge(batch.status), literal(description(batch)), literal(batch.endpoint),
            literal(batch.model or "-"), literal(progress), literal(ago(batch.created_at, NOW))]


class DataTableScreen(Screen):
    """The baseline: the same data and search index, shown in a DataTable (one row per batch)."""

    def __init__(self) -> None:
        super().__init__()
        self.index = SearchIndex()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="sync-status")
        yield Input(id="search", compact=True)
        yield DataTable(id="batches", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("Batch", "Status", "Description", "Endpoint", "Model", "Progress",
                                              "Created")
        self.watch(self.app, "batches", self.show)

    def show(self, batches: tuple[Batch, ...]) -> None:
        self.fill(batches, "")

    def fill(self, batches: tuple[Batch, ...], query: str) -> None:
        table = self.query_one(DataTable)
        table.clear()
        table.add_rows([table_cells(b) for b in self.index.filter(batches, query=query)])

    @on(Input.Changed)
    def search(self, event: Input.Changed) -> None:
        self.fill(self.app.batches, event.value)


def timed(cls: type, name: str, spent: list[float], clock: PaintClock) -> Callable[[], None]:
    """Time every call of `cls.name` (a screen's reaction to new data) into `spent`; returns the undo."""
    original = getattr(cls, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)
            clock.data_changed = True

    setattr(cls, name, wrapper)
    return lambda: setattr(cls, name, original)


async def measure(screen_type: type[Screen], widget: type, batches: tuple[Batch, ...], query: str,
                  freeze: bool = True) -> dict:
    gc.unfreeze()  # the last run's app, frozen at its start-up, is garbage now: not this run's cost
    gc.collect()
    clock = PaintClock()
    restore = clock.wrap_render_line(widget)
    handler: list[float] = []
    untime = timed(screen_type, "_apply" if screen_type is BatchesScreen else "fill", handler, clock)
    app = BenchApp(screen_type, batches, clock, freeze)
    try:
        async with app.run_test(size=SIZE) as pilot:
            first_paint = await clock.wait() - app.handed_over_at
            if screen_type is BatchesScreen:
                await pilot.press("slash")
            else:
                app.screen.query_one(Input).focus()
            await pilot.pause()
            keystrokes: list[float] = []
            work: list[float] = []
            for char in query:
                await pilot.pause()
                handler.clear()
                clock.reset()
                started = time.perf_counter()
                await pilot.press(char)
                keystrokes.append(await clock.wait() - started)
                work.append(sum(handler))
            shown = len(app.screen.query_one(widget).rows)
            app.batches = with_changed(app.batches, [batches[0].model_copy()])  # a sync that changed one
            await pilot.pause()
            started = time.perf_counter()
            gc.collect()
            full_gc = time.perf_counter() - started
    finally:
        restore()
        untime()
    return {"first_paint": first_paint, "keys": keystrokes, "work": work, "shown": shown, "full_gc": full_gc}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 1_000, 10_000])
    parser.add_argument("--query", default="review")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; medians are reported")
    parser.add_argument("--no-freeze", action="store_true", help="skip the app's gc.freeze() after start-up")
    args = parser.parse_args()

    print(f"Textual headless, {SIZE[0]}x{SIZE[1]}; search typed one key at a time: {args.query!r}; "
          f"medians of {args.repeat} runs, worst of all keystrokes{'; no gc.freeze()' if args.no_freeze else ''}\n")
    header = (f"{'batches':>8}  {'widget':<10} {'first paint':>12} {'key→paint':>12} {'worst':>10} "
              f"{'key handler':>12} {'worst':>10} {'shown':>7} {'full GC':>10}")
    print(header)
    print("-" * len(header))
    await measure(BatchesScreen, BatchList, make_batches(50), args.query)  # warm imports and caches
    for count in args.sizes:
        batches = make_batches(count)
        for name, screen_type, widget in (("BatchList", BatchesScreen, BatchList),
                                          ("DataTable", DataTableScreen, DataTable)):
            runs = [await measure(screen_type, widget, batches, args.query, freeze=not args.no_freeze)
                    for _ in range(args.repeat)]
            paint = statistics.median(run["first_paint"] for run in runs)
            keys = [key for run in runs for key in run["keys"]]
            work = [spent for run in runs for spent in run["work"]]
            print(f"{count:>8,}  {name:<10} {ms(paint):>12} {ms(statistics.median(keys)):>12} "
                  f"{ms(max(keys)):>10} {ms(statistics.median(work)):>12} {ms(max(work)):>10} {runs[0]['shown']:>7,} "
                  f"{ms(statistics.median(run['full_gc'] for run in runs)):>10}")


if __name__ == "__main__":
    asyncio.run(main())

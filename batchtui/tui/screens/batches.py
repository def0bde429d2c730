"""Home screen: every cached batch in a virtual list, with status groups, incremental search and sorts."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Input, Static

from batchtui.core.api.models import Batch
from batchtui.core.domain import ACTIVE_STATUSES
from batchtui.core.errors import BatchtuiError
from batchtui.core.insights.pricing import Cost
from batchtui.core.insights.progress import RATE_WINDOW_SECONDS
from batchtui.core.listing import STATUS_GROUPS, SearchIndex, SortKey, group_counts, next_sort, sort_batches
from batchtui.tui.commands import ScreenCommands
from batchtui.tui.format import literal
from batchtui.tui.screens.base import BatchtuiScreen
from batchtui.tui.sync_status import SyncStatus
from batchtui.tui.widgets.batch_list import BatchList


def group_title(number: int) -> str:
    """What showing status group `number` does, as the palette and the key help say it: "Show every batch",
    "Show the failed batches"."""
    if number == 0:
        return "Show every batch"
    return f"Show the {STATUS_GROUPS[number].name.lower()} batches"


class BatchesScreen(BatchtuiScreen[None]):
    """Paints whatever the app has (the cache first), then follows `app.batches` as syncs land."""

    AUTO_FOCUS = "#batch-list"

    DEFAULT_CSS = """
    BatchesScreen {
        #status-row { height: auto; padding: 0 1; }
        #sync-status { width: 1fr; height: auto; }
        #list-summary { width: 28; height: 1; color: $text-muted; text-align: right; }
        #group-bar { height: 1; padding: 0 1; background: $panel; }
        #search { height: 1; width: 1fr; padding: 0 1; display: none; }
        #search.-open { display: block; }
    }
    """

    BINDINGS = [
        Binding("slash", "search", "Search", key_display="/"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("d", "reverse_sort", "Reverse the sort", show=False),
        Binding("1", "group(0)", "Group", key_display="1-6"),  # the keys 2-6 say what they show, as the palette
        *(Binding(str(n + 1), f"group({n})", group_title(n), show=False) for n in range(1, 6)),
        Binding("escape", "close_search", "Close search"),
        Binding("r", "app.refresh", "Refresh"),
        Binding("f", "app.files", "Files"),
        Binding("n", "new_batch", "New batch", show=False),  # the 80-column footer is full: ? and ctrl+p list it
        Binding("S", "stats", "Statistics", show=False),
        Binding("Q", "sql", "SQL", show=False),
    ]
    COMMANDS = {ScreenCommands}
    PALETTE = (
        ("Search batches", "Filter by id, metadata, endpoint, model or input file name", "search"),
        ("Sort batches", "Cycle the sort: created, status, progress, cost", "cycle_sort"),
        ("Reverse the sort", "Oldest, completed, least done or cheapest first (and back)", "reverse_sort"),
        ("New batch", "Check a JSONL file (or make one from a template and data), then start a batch", "new_batch"),
        ("Batch statistics", "Turnaround and phase times, outcome shares, tokens and cost per day", "stats"),
        ("Query with SQL", "Read-only SQL over the cache: batches, files and every request in llm_logs", "sql"),
        *((group_title(n), f"Group {n + 1} of the list (key {n + 1}): {group.name}", f"group({n})")
          for n, group in enumerate(STATUS_GROUPS)),
    )

    def __init__(self) -> None:
        super().__init__()
        self.index = SearchIndex()
        self.group_index = 0
        self.query_text = ""
        self.sort_key: SortKey = "created"
        self.sort_reverse = False
        self._batches: tuple[Batch, ...] = ()
        self._sorted: list[Batch] = []
        self._counts: dict[str, int] = {}
        self._group_bar = ""
        self._generation = 0
        self._last_result: tuple[tuple[int, int], str, list[Batch]] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="status-row"):
            yield Static(id="sync-status", markup=False)
            yield Static(id="list-summary", markup=False)
        yield Static(id="group-bar")
        yield Input(id="search", placeholder="/ search id, metadata, endpoint, model, file name · enter: to the list",
                    compact=True)
        yield BatchList(id="batch-list", now=self.app.clock())
        yield Footer(compact=True)

    @property
    def batch_list(self) -> BatchList:
        return self.query_one(BatchList)

    def on_mount(self) -> None:
        self.watch(self.app, "batches", self.show_batches)
        self.watch(self.app, "sync_status", self.show_status)
        self.watch(self.app, "costs", self._costs_known)
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        now = self.app.clock()
        self.batch_list.set_now(now)
        self.show_status(self.app.sync_status)

    # --- app state in

    def show_status(self, status: SyncStatus) -> None:
        text = literal(status.describe(self.app.clock()))
        line = self.query_one("#sync-status", Static)
        if str(line.render()) != text.plain:
            line.update(text)
        if not self._batches and self.batch_list.empty_message != (message := self._nothing_to_list()):
            self.batch_list.empty_message = message
            self.batch_list.refresh()

    def _nothing_to_list(self) -> str:
        """What the list says when the cache holds no batch: why, if the cache could not be opened."""
        if self.app.sync_status.state == "no-cache":
            return "Nothing to list: the cache cannot be opened (the line above says why)."
        return "No batches cached yet; they appear here once a sync reaches the API."

    def show_batches(self, batches: tuple[Batch, ...]) -> None:
        self._batches = batches
        self._counts = group_counts(batches)
        self._sorted = self._sort(batches)
        self.batch_list.measure(batches)
        self.index.forget_missing(b.id for b in batches)
        self._generation += 1
        self._apply()
        self.call_after_refresh(self.index.warm, batches)
        active = [b.id for b in batches if b.status in ACTIVE_STATUSES]
        self.load_details(active)

    @work(exclusive=True, exit_on_error=False, group="batch-list-details")
    async def load_details(self, active_ids: list[str]) -> None:
        """Progress observations of active batches (rate, ETA), input file names (search) and the models of
        batches the API names none for yet, off the event loop."""
        workspace = self.app.workspace
        if workspace is None:
            return
        try:
            # only the window the rate is taken over: a day-long batch polled every 5 s has 17,000 of them
            since = self.app.clock() - RATE_WINDOW_SECONDS
            observations = {batch_id: await workspace.observations(batch_id, since=since) for batch_id in active_ids}
            names = {file.id: file.filename for file in await workspace.files()}
            models = await workspace.request_models(self._batches)
        except BatchtuiError as exc:
            self.notify(str(exc), title="Cannot read progress from the cache", severity="warning", markup=False)
            return
        self.batch_list.set_observations(observations)
        self.batch_list.set_request_models(models)
        if names != self.index.file_names:
            self.index.set_file_names(names)
            if self.query_text:
                self._apply()

    # --- filtering

    def _apply(self) -> None:
        group = STATUS_GROUPS[self.group_index]
        key = (self._generation, self.group_index)
        last = self._last_result
        # A query that extends the last one can only narrow its result, so search that instead of everything.
        source = last[2] if last and last[0] == key and self.query_text.startswith(last[1]) else self._sorted
        shown = self.index.filter(source, group, self.query_text)
        self._last_result = (key, self.query_text, shown)
        batch_list = self.batch_list
        batch_list.set_sort_key(self.sort_key, self.sort_reverse)
        if not self._batches:
            batch_list.empty_message = self._nothing_to_list()
        else:
            kind = "" if group is STATUS_GROUPS[0] else f"{group.name.lower()} "  # not "No all batches"
            batch_list.empty_message = (f"No {kind}batches match {self.query_text!r}. Escape clears." if self.query_text
                                        else f"No {kind}batches. Press 1 for all.")
        batch_list.set_rows(shown)
        self._show_groups()
        summary = f"{len(shown):,}/{len(self._batches):,} · sort {self.sort_key}{' ▲' if self.sort_reverse else ''}"
        self.query_one("#list-summary", Static).update(summary, layout=False)

    def _show_groups(self) -> None:
        """Group names with their counts, the chosen one as a tab; on a narrow terminal the tabs close up, and if
        every count still cannot fit only the chosen group shows its count."""
        bar = self.query_one("#group-bar", Static)
        for all_counts, pad in ((True, " "), (True, ""), (False, " ")):
            gap = " " if pad else "  "  # unpadded labels still need room between them: "Active 3  3 Completed"
            labels = []
            for number, group in enumerate(STATUS_GROUPS):
                count = f" {self._counts.get(group.name, 0):,}" if all_counts or number == self.group_index else ""
                edge = " " if number == self.group_index else pad
                labels.append(f"{edge}{number + 1} {group.name}{count}{edge}")
            if sum(len(label) + len(gap) for label in labels) - len(gap) <= bar.content_region.width or not all_counts:
                break
        parts = [
            f"[@click=screen.group({number})][reverse bold]{label}[/][/]" if number == self.group_index
            else f"[@click=screen.group({number})]{label}[/]"
            for number, label in enumerate(labels)
        ]
        content = gap.join(parts)
        if content != self._group_bar:
            self._group_bar = content
            bar.update(content, layout=False)

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_groups)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close_search":
            found = self.query("#search")
            return bool(found) and found.first().has_class("-open")
        return True

    def action_group(self, number: int) -> None:
        self.group_index = number
        self._apply()

    def action_cycle_sort(self) -> None:
        self.set_sort(next_sort(self.sort_key))

    def action_reverse_sort(self) -> None:
        self.set_sort(self.sort_key, reverse=not self.sort_reverse)

    def set_sort(self, sort_key: SortKey, *, reverse: bool = False) -> None:
        self.sort_key, self.sort_reverse = sort_key, reverse
        self._sorted = self._sort(self._batches)
        self._generation += 1
        self._apply()

    def _sort(self, batches: tuple[Batch, ...]) -> list[Batch]:
        costs = {batch_id: cost.total_usd for batch_id, cost in self.app.costs.items() if cost is not None}
        return sort_batches(batches, self.sort_key, reverse=self.sort_reverse, costs=costs)

    def _costs_known(self, costs: dict[str, Cost | None]) -> None:
        self.batch_list.set_costs(costs)
        if self.sort_key == "cost":
            self.set_sort("cost", reverse=self.sort_reverse)

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.add_class("-open")
        search.focus()

    def action_close_search(self) -> None:
        search = self.query_one("#search", Input)
        if not search.has_class("-open"):
            return
        search.remove_class("-open")
        if search.value:
            search.value = ""
            self.query_text = ""
            self._apply()
        self.batch_list.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.query_text = event.value
        self._apply()

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        self.batch_list.focus()

    # --- opening (each screen imported when first opened: the app's first paint needs only this one)

    def action_new_batch(self) -> None:
        from batchtui.tui.screens.new_batch import NewBatchScreen

        self.app.push_screen(NewBatchScreen())

    def action_stats(self) -> None:
        from batchtui.tui.screens.stats import StatsScreen

        self.app.push_screen(StatsScreen())

    def action_sql(self) -> None:
        from batchtui.tui.screens.sql import SqlScreen

        self.app.push_screen(SqlScreen())

    @on(BatchList.Selected)
    def _open(self, event: BatchList.Selected) -> None:
        self.app.open_batch(event.batch_id)

    @on(BatchList.SortClicked)
    def _sort_clicked(self, event: BatchList.SortClicked) -> None:
        """A click on the sorted column's title turns the sort round; on another, sorts by it."""
        same = event.sort_key == self.sort_key
        self.set_sort(event.sort_key, reverse=same and not self.sort_reverse)

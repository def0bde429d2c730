"""A virtual list of batches: renders only the visible rows, so 10,000 batches cost what 40 do."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.strip import Strip

from batchtui.core.api.models import Batch
from batchtui.core.cache.store import ProgressObservation
from batchtui.core.domain import ACTIVE_STATUSES
from batchtui.core.insights.pricing import Cost, note_of
from batchtui.core.insights.progress import batch_progress
from batchtui.core.listing import SortKey, description
from batchtui.core.timetext import duration
from batchtui.tui.format import ago, fit, literal, short_id, status_badge
from batchtui.tui.widgets.cursor_list import CursorList

_END_FIELDS = ("completed_at", "failed_at", "expired_at", "cancelled_at")


@dataclass(frozen=True)
class Column:
    """A column of the list: `width` cells; the lowest `priority` goes first when the terminal is narrow."""

    key: str
    title: str
    width: int
    priority: int
    align: str = "left"


DESCRIPTION_MIN = 20
DESCRIPTION_ROOMY = 40
"""The description's width before ids and model names get room to show whole."""
WHOLE_AT_MOST = 64
"""The widest an id or model column grows to show its values whole (an OpenAI batch id takes 38)."""

COLUMNS: tuple[Column, ...] = (
    Column("id", "Batch", 14, 100),
    Column("status", "Status", 13, 95),
    Column("description", "Description", DESCRIPTION_MIN, 90),
    Column("endpoint", "Endpoint", 16, 30),
    Column("model", "Model", 12, 40),
    Column("progress", "Progress", 21, 85),
    Column("created", "Created", 11, 60, "right"),
    Column("elapsed", "Took", 8, 50, "right"),
    Column("eta", "ETA", 8, 70, "right"),
    Column("cost", "Cost", 11, 45, "right"),  # "$0.00000700": three significant digits of a tiny cost
)

SORT_COLUMNS: dict[str, SortKey] = {"created": "created", "status": "status", "progress": "progress", "cost": "cost"}


def layout(width: int, whole: Mapping[str, int] | None = None, keep: SortKey | None = None) -> list[Column]:
    """The columns that fit `width` cells, in display order; the column of the sort `keep` stays however narrow
    the terminal (the list sorted by created shows when each was created), another goes in its place. Room left
    over goes to the description up to DESCRIPTION_ROOMY, then to the id and model columns up to `whole` (the
    cells their widest values take), then to the description again: on a wide terminal ids and model names show
    whole, and a cut one ends in "…"."""
    columns = list(COLUMNS)
    if width < 110:
        columns = [_narrow(c) for c in columns]

    def needed(cols: list[Column]) -> int:
        return 1 + sum(c.width for c in cols) + len(cols) - 1

    droppable = sorted((c for c in columns if c.priority < 90 and (keep is None or SORT_COLUMNS.get(c.key) != keep)),
                       key=lambda c: c.priority)
    while needed(columns) > width and droppable:
        columns.remove(droppable.pop(0))
    spare = max(0, width - needed(columns))
    grow = {"description": min(spare, DESCRIPTION_ROOMY - DESCRIPTION_MIN)}
    spare -= grow["description"]
    for column in columns:
        full = min((whole or {}).get(column.key, 0), WHOLE_AT_MOST)
        if full:
            grow[column.key] = min(spare, max(0, full - column.width))
            spare -= grow[column.key]
    grow["description"] += spare
    return [Column(c.key, c.title, c.width + grow.get(c.key, 0), c.priority, c.align) for c in columns]


def _narrow(column: Column) -> Column:
    narrower = {"id": 12, "progress": 18}
    width = narrower.get(column.key, column.width)
    return Column(column.key, column.title, width, column.priority, column.align)


def _end_time(batch: Batch) -> float | None:
    times = [getattr(batch, name) for name in _END_FIELDS if getattr(batch, name, None)]
    return max(times) if times else None


class BatchList(CursorList):
    """One row per batch under a fixed header; keyboard cursor, mouse click, in-place updates.

    Give it rows with `set_rows`; the cursor and scroll position stay on the same batch id. A row is
    rendered again only when its Batch object is replaced, the clock passes a second, or the width,
    theme or observations change.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Open"),
        Binding("g", "app.go_to_batch", "Go to a batch id", show=False),  # here `g` asks for an id; home is top
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "batch-list--bar",
        "batch-list--failed",
        "batch-list--risk",
    }

    DEFAULT_CSS = """
    BatchList {
        & > .batch-list--bar { color: $success; }
        & > .batch-list--failed { color: $error; }
        & > .batch-list--risk { color: $error; text-style: bold; }
    }
    """

    class Selected(Message):
        """The user opened a batch (enter, or a click on the row under the cursor)."""

        def __init__(self, batch_id: str) -> None:
            super().__init__()
            self.batch_id = batch_id

    class SortClicked(Message):
        """The user clicked a sortable column title."""

        def __init__(self, sort_key: SortKey) -> None:
            super().__init__()
            self.sort_key = sort_key

    def __init__(self, *, now: float = 0.0, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._rows: list[Batch] = []
        self._now = now
        self._observations: Mapping[str, Sequence[ProgressObservation]] = {}
        self._costs: Mapping[str, Cost | None] = {}
        self._request_models: Mapping[str, str] = {}
        self._sort_reverse = False
        self._sort_key: SortKey = "created"
        self._layout: tuple[tuple[int, tuple[int, int], SortKey], list[Column]] | None = None
        self._whole = (0, 0)
        """The cells the widest id and model name of the rows take."""
        self.empty_message = "No batches."
        """Shown under the header when there are no rows (set by the screen: why there are none)."""

    # --- data in

    @property
    def rows(self) -> Sequence[Batch]:
        return self._rows

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def cursor_id(self) -> str | None:
        """The id of the batch under the cursor, if any."""
        return self._rows[self._cursor].id if self._rows else None

    def set_rows(self, rows: Sequence[Batch]) -> None:
        """Show `rows`; the cursor stays on the same batch (and on screen at the same height) if it is still there."""
        old_id = self.cursor_id
        on_screen = self._cursor - round(self.scroll_y)
        self._rows = list(rows)
        kept = self._position(old_id) if old_id is not None else None
        self._cursor = kept if kept is not None else max(0, min(self._cursor, len(self._rows) - 1))
        self.update_virtual_size()
        if kept is not None:
            self.scroll_to(y=max(0, self._cursor - on_screen), animate=False)
        self.scroll_cursor_into_view()
        self.refresh()

    def set_now(self, now: float) -> None:
        """Move the clock relative times and ETAs are shown against."""
        if int(now) != int(self._now):
            self.strips.clear()
            self.refresh()
        self._now = now

    def set_observations(self, observations: Mapping[str, Sequence[ProgressObservation]]) -> None:
        """Recorded progress per batch id, for rate and ETA."""
        self._observations = observations
        self.strips.clear()
        self.refresh()

    def measure(self, batches: Sequence[Batch]) -> None:
        """Size the id and model columns for every batch there is, not the rows a filter shows: the columns keep
        their width while the user searches, and a keystroke does not measure 10,000 rows again."""
        self._whole = (max((cell_len(b.id) for b in batches), default=0),
                       max((cell_len(b.model or "") for b in batches), default=0))
        self.refresh()

    def set_request_models(self, models: Mapping[str, str]) -> None:
        """The model named by the requests of batches the API names none for yet (validating, failed)."""
        self._request_models = models
        self.strips.clear()
        self.refresh()

    def set_costs(self, costs: Mapping[str, Cost | None]) -> None:
        """Each batch's cost at batch prices by batch id (None: no price for its model)."""
        self._costs = costs
        self.strips.clear()
        self.refresh()

    def set_sort_key(self, sort_key: SortKey, reverse: bool = False) -> None:
        """Mark the column the rows are sorted by, and which way (another sort may show other columns)."""
        if sort_key != self._sort_key:
            self.strips.clear()
        self._sort_key = sort_key
        self._sort_reverse = reverse
        self.refresh()

    def _position(self, batch_id: str) -> int | None:
        """Where `batch_id` is listed; a scan, so a keystroke over 10,000 rows allocates no index."""
        for index, batch in enumerate(self._rows):
            if batch.id == batch_id:
                return index
        return None

    # --- keys and mouse

    def action_select(self) -> None:
        if self._rows:
            self.post_message(self.Selected(self._rows[self._cursor].id))

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and offset.y == 0:
            self._header_clicked(offset.x)
            return
        index = self.clicked_row(event)
        if index == self._cursor:
            self.action_select()
        elif index is not None:
            self.set_cursor(index)

    def _header_clicked(self, x: int) -> None:
        position = 1
        for column in self._columns():
            if position <= x < position + column.width and column.key in SORT_COLUMNS:
                self.post_message(self.SortClicked(SORT_COLUMNS[column.key]))
            position += column.width + 1

    def _columns(self) -> list[Column]:
        width = self.scrollable_content_region.width
        if self._layout is None or self._layout[0] != (width, self._whole, self._sort_key):
            whole = {"id": self._whole[0], "model": self._whole[1]}
            self._layout = ((width, self._whole, self._sort_key), layout(width, whole, self._sort_key))
        return self._layout[1]

    def _style(self, name: str) -> Style:
        if self.styles_cache is None:
            self.styles_cache = self.base_styles()
            for part in ("bar", "failed", "risk"):
                self.styles_cache[part] = self.get_component_rich_style(f"batch-list--{part}", partial=True)
        return self.styles_cache[name]

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._header_strip(width)
        index = round(self.scroll_y) + y - 1
        if index >= len(self._rows):
            if not self._rows and y == 1:
                style = self._style("base") + self._style("dim")
                return Strip([Segment(fit(" " + literal(self.empty_message).plain, width), style)], width)
            return Strip.blank(width, self._style("base"))
        batch = self._rows[index]
        on_cursor = index == self._cursor
        key = (batch.id, on_cursor)
        cached = self.strips.get(key)
        if cached is not None and cached[0] is batch and cached[1].cell_length == width:
            return cached[1]
        return self.cache_strip(key, (batch, self._row_strip(batch, width, on_cursor)))[1]

    def _header_strip(self, width: int) -> Strip:
        style = self._style("header")
        segments = [Segment(" ", style)]
        for column in self._columns():
            # the status badge is padded by a space each side: its title starts where the word does
            title = f" {column.title}" if column.key == "status" else column.title
            if SORT_COLUMNS.get(column.key) == self._sort_key:
                title += " ▲" if self._sort_reverse else " ▼"
            segments.append(Segment(fit(title, column.width, column.align) + " ", style))
        return Strip(segments).adjust_cell_length(width, style)

    def _row_strip(self, batch: Batch, width: int, on_cursor: bool) -> Strip:
        base = self._style("cursor") if on_cursor else self._style("base")
        segments = [Segment(" ", base)]
        for column in self._columns():
            segments.extend(self._cell(batch, column, base))
            segments.append(Segment(" ", base))
        return Strip(segments).adjust_cell_length(width, base)

    def _cell(self, batch: Batch, column: Column, base: Style) -> list[Segment]:
        key, width = column.key, column.width
        now = self._now
        if key == "id":
            return [Segment(fit(literal(short_id(batch.id, width)).plain, width), base)]
        if key == "status":
            badge = status_badge(batch.status)
            return [Segment(fit(badge.plain, width), base + Style.parse(str(badge.style)))]
        if key == "description":
            return [Segment(fit(literal(description(batch)).plain, width), base)]
        if key == "endpoint":
            return [Segment(fit(literal(batch.endpoint.removeprefix("/v1/")).plain, width), base)]
        if key == "model":
            model = batch.model or self._request_models.get(batch.id) or "-"
            return [Segment(fit(literal(model).plain, width), base + self._style("dim"))]
        if key == "progress":
            return self._progress_cell(batch, width, base)
        if key == "created":
            return [Segment(fit(ago(batch.created_at, now), width, "right"), base + self._style("dim"))]
        if key == "elapsed":
            if not batch.created_at:  # a server's bad value: nothing to count from
                return [Segment(fit("-", width, "right"), base + self._style("dim"))]
            if batch.status in ACTIVE_STATUSES:
                return [Segment(fit(duration(now - batch.created_at), width, "right"), base)]
            end = _end_time(batch)
            text = duration(end - batch.created_at) if end else "-"
            return [Segment(fit(text, width, "right"), base + self._style("dim"))]
        if key == "eta":
            return self._eta_cell(batch, width, base)
        if key == "cost":
            note = note_of(self._costs[batch.id], batch.model) if batch.id in self._costs else ""
            style = base + self._style("dim") if note.startswith("no price") else base
            # "no price for <model>" quotes the API's model name
            return [Segment(fit(literal(note.replace("no price for ", "no price: ")).plain, width, "right"), style)]
        return [Segment(" " * width, base)]

    def _progress_cell(self, batch: Batch, width: int, base: Style) -> list[Segment]:
        counts = batch.request_counts
        if not counts or not counts.total:
            return [Segment(fit("-", width), base + self._style("dim"))]
        bar_width = 7 if width >= 21 else 4
        done = counts.completed + counts.failed
        filled = min(bar_width, round(done / counts.total * bar_width))
        failed_style = base + (self._style("failed") if counts.failed else self._style("dim"))
        numbers = [(str(counts.completed), base), ("/", base + self._style("dim")),
                   (str(counts.failed), failed_style), ("/", base + self._style("dim")), (str(counts.total), base)]
        segments = [Segment("█" * filled, base + self._style("bar")),
                    Segment("░" * (bar_width - filled), base + self._style("dim")), Segment(" ", base)]
        room = width - bar_width - 1
        text_len = sum(len(text) for text, _ in numbers)
        if text_len > room:
            return [*segments, Segment(fit(f"{done}/{counts.total}", room), base)]
        segments.extend(Segment(text, style) for text, style in numbers)
        segments.append(Segment(" " * (room - text_len), base))
        return segments

    def _eta_cell(self, batch: Batch, width: int, base: Style) -> list[Segment]:
        if batch.status != "in_progress":
            return [Segment(" " * width, base)]
        progress = batch_progress(batch, self._observations.get(batch.id, ()), self._now)
        if progress.eta is None:
            return [Segment(fit("…", width, "right"), base + self._style("dim"))]
        text = duration(progress.eta - self._now)
        if progress.at_risk:
            return [Segment(fit(f"⚠ {text}", width, "right"), base + self._style("risk"))]
        return [Segment(fit(text, width, "right"), base)]

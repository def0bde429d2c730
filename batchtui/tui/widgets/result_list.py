"""A virtual list of a batch's requests: renders only the visible rows, so 50,000 requests cost what 40 do.

Each row is one request of a ResultIndex: custom_id, status, tokens, the first line of the prompt and a
one-line preview of the answer. A line is parsed only when its row is painted; painted rows are kept as strips.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.message import Message
from textual.strip import Strip

from batchtui.core.results.index import Outcome, ResultIndex
from batchtui.core.results.records import answer_preview, answer_text, first_line, last_message_text
from batchtui.core.text import printable
from batchtui.tui.format import fit
from batchtui.tui.widgets.cursor_list import MAX_CACHED_STRIPS, CursorList

_CELL_CHARS = 300
"""Enough of a prompt's first line for any column, cut before escaping so a 1 MB line costs what 300 chars do."""

OUTCOME_STYLES = {
    Outcome.OK: "ok",
    Outcome.FAILED: "failed",
    Outcome.UNREADABLE: "failed",
    Outcome.EXPIRED: "stopped",
    Outcome.CANCELLED: "stopped",
    Outcome.PENDING: "dim",
}


def row_label(index: ResultIndex, row: int) -> str:
    """The custom_id, or where an unreadable line is ("output line 17": the status column says unreadable)."""
    where = index.unreadable_where(row)
    if where is not None:
        kind, line = where
        return f"{kind} line {line}"
    return index.custom_id(row)


def status_text(index: ResultIndex, row: int) -> str:
    """The status word, with how many attempts it took when the row was retried ("ok ×2")."""
    attempt = index.attempt(row)
    return index.status_label(row) + (f" ×{attempt}" if attempt > 1 else "")


def _cell_text(text: str) -> str:
    return printable(first_line(text[:_CELL_CHARS]))


def row_texts(index: ResultIndex, row: int) -> tuple[str, str]:
    """The first line of the prompt's last message and a one-line preview of the answer (or the first line of the
    raw line, when it cannot be read)."""
    if index.outcome(row) == Outcome.UNREADABLE:
        raw = index.input_line(row) or index.output_line(row) or b""
        return _cell_text(raw[:_CELL_CHARS].decode("utf-8", errors="replace")), ""
    answer = answer_preview(answer_text(index.output_line(row)))
    return _cell_text(last_message_text(index.input_line(row))), printable(answer[:_CELL_CHARS])


ID_TITLE = "custom_id"
ID_MOST = 22
"""The widest the custom_id column gets (16 below 120 cells); a longer id ends in "…"."""


def widest_label(index: ResultIndex) -> int:
    """The cells the widest row label of the whole index takes, up to ID_MOST: the custom_id column is sized by
    it, so it keeps its width whichever filter or search lists the rows."""
    widest = 0
    for row in range(len(index)):
        widest = max(widest, cell_len(printable(row_label(index, row))))
        if widest >= ID_MOST:
            break
    return widest


def layout(width: int, id_cells: int = ID_MOST) -> tuple[int, int, int, int, int]:
    """Widths of the id, status, tokens, prompt and answer columns for `width` cells, the id column no wider than
    `id_cells` (the widest label) needs. Below 100 cells the status column takes 10 ("unreadable"; "batch_exp…"),
    so the prompt and answer keep room."""
    id_width = max(len(ID_TITLE), min(id_cells, ID_MOST if width >= 120 else 16))
    status, tokens = (13 if width >= 100 else 10), 7
    rest = max(2, width - 1 - (id_width + 1) - (status + 1) - (tokens + 1) - 1)
    prompt = rest * 9 // 20
    return id_width, status, tokens, prompt, rest - prompt


class ResultList(CursorList):
    """Requests under a fixed header, with a keyboard cursor; `show` sets which index rows are listed."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "result-list--ok",
        "result-list--failed",
        "result-list--stopped",
    }

    DEFAULT_CSS = """
    ResultList {
        & > .result-list--ok { color: $success; }
        & > .result-list--failed { color: $error; text-style: bold; }
        & > .result-list--stopped { color: $warning; }
    }
    """

    class Highlighted(Message):
        """The cursor moved to another request (`row` is an index row), or the list emptied (None)."""

        def __init__(self, row: int | None) -> None:
            super().__init__()
            self.row = row

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.index: ResultIndex | None = None
        self._rows: Sequence[int] = ()
        self._texts: dict[int, tuple[str, str]] = {}
        self._id_cells = ID_MOST
        """The widest row label of the whole index (see widest_label)."""
        self._measured: tuple[ResultIndex, int, bool] | None = None
        """The index, its length and whether it was complete when `_id_cells` was measured: a filter measures no
        row again."""
        self.empty_message = "No requests."
        """Shown under the header when no row is listed (set by the screen: why there are none)."""

    @property
    def rows(self) -> Sequence[int]:
        return self._rows

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def cursor_row(self) -> int | None:
        """The index row under the cursor, if any."""
        return self._rows[self._cursor] if self._rows else None

    def show(self, index: ResultIndex, rows: Sequence[int]) -> None:
        """List `rows` of `index`; the cursor stays on the same request when it is still listed."""
        old = self.cursor_row if index is self.index else None
        self.index = index
        self._rows = rows
        kept = self._position(old) if old is not None else None
        self._cursor = kept if kept is not None else max(0, min(self._cursor, len(rows) - 1))
        self.rows_changed()
        self.scroll_cursor_into_view()
        if self.cursor_row != old or old is None:
            self.post_message(self.Highlighted(self.cursor_row))

    def rows_changed(self) -> None:
        """The index learned more about its rows (a build joined them): paint them again."""
        index = self.index
        if index is not None and self._measured != (index, len(index), index.complete):
            self._measured = (index, len(index), index.complete)
            self._id_cells = widest_label(index)
        self.strips.clear()
        self._texts.clear()
        self.update_virtual_size()
        self.refresh()

    def move_to_row(self, row: int) -> bool:
        """Put the cursor on index row `row` if it is listed."""
        position = self._position(row)
        if position is not None:
            self.set_cursor(position)
        return position is not None

    def _position(self, row: int) -> int | None:
        if isinstance(self._rows, range):
            return row - self._rows.start if row in self._rows else None
        try:
            return self._rows.index(row)
        except ValueError:
            return None

    def cursor_moved(self) -> None:
        self.post_message(self.Highlighted(self.cursor_row))

    async def _on_click(self, event: events.Click) -> None:
        row = self.clicked_row(event)
        if row is not None:
            self.set_cursor(row)

    # --- rendering

    def _style(self, name: str) -> Style:
        if self.styles_cache is None:
            self.styles_cache = self.base_styles()
            for part in ("ok", "failed", "stopped"):
                self.styles_cache[part] = self.get_component_rich_style(f"result-list--{part}", partial=True)
        return self.styles_cache[name]

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._header_strip(width)
        position = round(self.scroll_y) + y - 1
        if self.index is None or position >= len(self._rows):
            if not self._rows and y == 1:
                text = fit(" " + printable(self.empty_message), width)
                return Strip([Segment(text, self._style("base") + self._style("dim"))], width)
            return Strip.blank(width, self._style("base"))
        on_cursor = position == self._cursor
        key = (self._rows[position], on_cursor)
        strip = self.strips.get(key)
        if strip is None or strip.cell_length != width:
            if len(self._texts) > MAX_CACHED_STRIPS:
                self._texts.clear()
            strip = self.cache_strip(key, self._row_strip(self.index, key[0], width, on_cursor))
        return strip

    def _header_strip(self, width: int) -> Strip:
        style = self._style("header")
        titles = (ID_TITLE, "Status", "Tokens", "Prompt", "Answer")
        aligns = ("left", "left", "right", "left", "left")
        widths = layout(width, self._id_cells)
        text = " " + " ".join(fit(t, w, a) for t, w, a in zip(titles, widths, aligns, strict=True))
        return Strip([Segment(text, style)]).adjust_cell_length(width, style)

    def _row_strip(self, index: ResultIndex, row: int, width: int, on_cursor: bool) -> Strip:
        base = self._style("cursor") if on_cursor else self._style("base")
        dim = base + self._style("dim")
        id_width, status_width, tokens_width, prompt_width, answer_width = layout(width, self._id_cells)
        texts = self._texts.get(row)
        if texts is None:
            texts = self._texts[row] = row_texts(index, row)
        tokens = index.tokens(row)
        status_style = base + self._style(OUTCOME_STYLES[index.outcome(row)])
        segments = [
            Segment(" " + fit(printable(row_label(index, row)), id_width) + " ", base),
            Segment(fit(status_text(index, row), status_width) + " ", status_style),
            Segment(fit("" if tokens is None else f"{tokens:,}", tokens_width, "right") + " ", dim),
            Segment(fit(texts[0], prompt_width) + " ", base),
            Segment(fit(texts[1], answer_width), dim),
        ]
        return Strip(segments).adjust_cell_length(width, base)

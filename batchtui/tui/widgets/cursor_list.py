"""What the virtual lists share: a header line, a keyboard cursor over rows, and cached row strips.

A subclass renders with the line API (`render_line`): line 0 is its header, line y its row at
`scroll_y + y - 1`. Only visible rows are ever rendered, so 50,000 rows cost what 40 do.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.scroll_view import ScrollView

MAX_CACHED_STRIPS = 2_000


class CursorList(ScrollView, can_focus=True):
    """Cursor keys, page keys, home/end and clicks move `cursor`; rows are counted by `row_count`.

    Subclasses keep their row strips in `strips` and their resolved styles in `styles` (both dropped when
    the theme, focus or width changes) and may react to a move in `cursor_moved`.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "first", "Top", show=False),
        Binding("end,G", "last", "Bottom", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {"cursor-list--header", "cursor-list--cursor", "cursor-list--dim"}

    DEFAULT_CSS = """
    CursorList {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
        background: $surface;
        color: $foreground;
        & > .cursor-list--header { text-style: bold; background: $panel; color: $foreground; }
        & > .cursor-list--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:focus > .cursor-list--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .cursor-list--dim { color: $text-muted; }
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._cursor = 0
        self.strips: dict[object, Any] = {}
        self.styles_cache: dict[str, Style] | None = None

    @property
    def row_count(self) -> int:
        raise NotImplementedError

    @property
    def cursor(self) -> int:
        return self._cursor

    def cursor_moved(self) -> None:
        """Called after the cursor moved to another row."""

    # --- keys and mouse

    def action_cursor_up(self) -> None:
        self.set_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.set_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self.set_cursor(self._cursor - self.page_height())

    def action_page_down(self) -> None:
        self.set_cursor(self._cursor + self.page_height())

    def action_first(self) -> None:
        self.set_cursor(0)

    def action_last(self) -> None:
        self.set_cursor(self.row_count - 1)

    def clicked_row(self, event: events.Click) -> int | None:
        """The row under a click, or None for the header or below the last row."""
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return None
        index = round(self.scroll_y) + offset.y - 1
        return index if 0 <= index < self.row_count else None

    def page_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def set_cursor(self, index: int) -> None:
        if not self.row_count:
            return
        index = max(0, min(index, self.row_count - 1))
        moved = index != self._cursor
        self._cursor = index
        self.scroll_cursor_into_view()
        self.refresh()
        if moved:
            self.cursor_moved()

    def scroll_cursor_into_view(self) -> None:
        visible = self.page_height()
        top = round(self.scroll_y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + visible:
            self.scroll_to(y=self._cursor - visible + 1, animate=False, immediate=True)

    def update_virtual_size(self) -> None:
        """Resize the scrollable area to the rows and header; a full layout only when the scrollbar appears
        or goes."""
        size = Size(self.scrollable_content_region.width, self.row_count + 1)
        if size == self.virtual_size:
            return
        height = self.size.height
        if (self.virtual_size.height > height) == (size.height > height):
            self.set_reactive(ScrollView.virtual_size, size)
        else:
            self.virtual_size = size
        self._scroll_update(size)

    # --- styles and cached strips

    def restyle(self) -> None:
        """Drop resolved styles and rendered rows (theme, focus or width changed)."""
        self.styles_cache = None
        self.strips.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.restyle()

    def _on_focus(self, event: events.Focus) -> None:
        self.restyle()
        self.refresh()

    def _on_blur(self, event: events.Blur) -> None:
        self.restyle()
        self.refresh()

    def _on_resize(self, event: events.Resize) -> None:
        self.strips.clear()
        self.update_virtual_size()
        self.scroll_cursor_into_view()

    def base_styles(self) -> dict[str, Style]:
        """The styles every list uses: its own, the header's, the cursor row's and dim text (partial)."""
        return {
            "base": self.rich_style,
            "header": self.get_component_rich_style("cursor-list--header"),
            "cursor": self.get_component_rich_style("cursor-list--cursor"),
            "dim": self.get_component_rich_style("cursor-list--dim", partial=True),
        }

    def cache_strip(self, key: object, value: Any) -> Any:
        """Keep a rendered row (forgetting all once there are many, so memory stays bounded)."""
        if len(self.strips) > MAX_CACHED_STRIPS:
            self.strips.clear()
        self.strips[key] = value
        return value

"""A read-only view of a file's lines that reads only the rows on screen, so a 200 MB file scrolls like a small one."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from batchtui.core.results.file_lines import FileLines
from batchtui.core.text import printable
from batchtui.tui.format import clip

LINE_CHARS = 2000
"""Characters of a line shown at most: the rest is cut with an ellipsis."""


class FileLinesView(ScrollView, can_focus=True):
    """Line numbers and text, never markup, with control characters as visible escapes; arrows, Page Up/Down and
    Home/End scroll it. `show` a few lines first (a streamed head), then the whole `FileLines` when it is ready."""

    DEFAULT_CSS = """
    FileLinesView { height: 1fr; }
    FileLinesView > .file-lines--number { color: $text-muted; }
    """
    COMPONENT_CLASSES = {"file-lines--number"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.source: FileLines | list[str] = []
        self._window: tuple[int, list[str]] = (0, [])
        self._widest = 0

    def show(self, source: FileLines | list[str]) -> None:
        """Show `source` instead, where the view is scrolled to (the head's place in the whole file is the same); a
        FileLines shown before is closed."""
        if isinstance(self.source, FileLines) and self.source is not source:
            self.source.close()
        self.source = source
        self._window = (0, [])
        self._widest = 0
        self._resize()
        self.refresh()

    def on_unmount(self) -> None:
        if isinstance(self.source, FileLines):
            self.source.close()

    @property
    def line_count(self) -> int:
        return len(self.source)

    def visible_lines(self) -> list[str]:
        """The lines in the view now, top to bottom, as shown (clipped, controls made visible)."""
        top = int(self.scroll_offset.y)
        rows = min(self.scrollable_content_region.height, self.line_count - top)
        return [self._line(top + row) for row in range(rows)]

    def _line(self, number: int) -> str:
        start, lines = self._window
        if not start <= number < start + len(lines):
            start = max(0, number - self.size.height)
            count = 3 * max(self.size.height, 1)
            if isinstance(self.source, FileLines):
                lines = [clip(printable(line), LINE_CHARS) for line in self.source.lines(start, count)]
            else:
                lines = [clip(printable(line), LINE_CHARS) for line in self.source[start : start + count]]
            self._window = (start, lines)
            widest = max((len(line) for line in lines), default=0)
            if widest > self._widest:
                self._widest = widest
                self.call_after_refresh(self._resize)
        return lines[number - start] if start <= number < start + len(lines) else ""

    def _gutter(self) -> int:
        return len(str(max(self.line_count, 1))) + 2

    def _resize(self) -> None:
        self.virtual_size = Size(self._gutter() + self._widest, self.line_count)

    def render_line(self, y: int) -> Strip:
        number = int(self.scroll_offset.y) + y
        width = self.scrollable_content_region.width
        if number >= self.line_count:
            return Strip.blank(width, self.rich_style)
        gutter = self._gutter()
        style = self.rich_style
        number_style = style + self.get_component_rich_style("file-lines--number")
        text = self._line(number)
        body = Strip([Segment(text, style)]).crop(int(self.scroll_offset.x), int(self.scroll_offset.x) + width - gutter)
        head = Segment(f"{number + 1:>{gutter - 1}} ", number_style)
        return Strip([head, *body]).adjust_cell_length(width, style or Style())

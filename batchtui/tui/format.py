"""How times, sizes and statuses read on screen; every API string passes through `literal`."""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.highlighter import Highlighter
from rich.text import Text

from batchtui.core.text import byte_size, printable
from batchtui.core.timetext import duration

STATUS_STYLES = {
    "validating": "bold yellow",
    "in_progress": "bold cyan",
    "finalizing": "bold blue",
    "completed": "bold green",
    "failed": "bold red",
    "expired": "bold magenta",
    "cancelling": "bold yellow",
    "cancelled": "dim",
}


def literal(value: object, style: str = "") -> Text:
    """Untrusted text as a Rich Text: never parsed as markup, control characters made visible."""
    return Text(printable("" if value is None else str(value)), style=style)


def status_badge(status: str) -> Text:
    """The status as a coloured badge; a status the API invented shows as it came, its controls made visible."""
    return Text(f" {printable(status.replace('_', ' '))} ", style=STATUS_STYLES.get(status, "bold"))


def _visible(char: str) -> str:
    """One visible character for a control character: its Unicode control picture (ESC as ␛), else U+FFFD."""
    if printable(char) == char:
        return char
    code = ord(char)
    return chr(0x2400 + code) if code < 0x20 else "\u2421" if code == 0x7F else "\ufffd"


class ControlsShown(Highlighter):
    """For an Input holding a path from the file system: each control character is drawn as one visible
    character, so the value stays exact (the file still opens) and the cursor keeps its place."""

    def __call__(self, text: str | Text) -> Text:
        shown = text.copy() if isinstance(text, Text) else Text(text)
        if printable(shown.plain) != shown.plain:
            shown.plain = "".join(map(_visible, shown.plain))
        return shown

    def highlight(self, text: Text) -> None:
        """Nothing to colour: `__call__` does the work."""


def clip(text: str, width: int) -> str:
    """`text` cut to `width` characters, the last one an ellipsis when it was longer."""
    return text if len(text) <= width else text[: width - 1] + "…"


def fit(text: str, width: int, align: str = "left") -> str:
    """`text` in exactly `width` terminal cells: truncated with an ellipsis, or padded."""
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + "…" if width > 0 else ""
    pad = " " * (width - length)
    return pad + text if align == "right" else text + pad


def short_id(batch_id: str, width: int = 14) -> str:
    """Enough of an id to tell batches apart in a list; the full id is in the detail screen."""
    return clip(batch_id, width)


def ago(timestamp: float | None, now: float) -> str:
    """'just now', '5m ago', '3d ago'; '-' when not known (None, or the 0 a server's bad value becomes)."""
    if not timestamp:
        return "-"
    delta = now - timestamp
    return "just now" if delta < 5 else f"{duration(delta)} ago"


def size(num_bytes: int | None) -> str:
    """A file's size as `byte_size` writes it on the command line too; '-' when the API does not say."""
    return "-" if num_bytes is None else byte_size(num_bytes)


def span(seconds: float) -> str:
    """A time span in its largest unit only, to keep columns narrow: '45s', '12m', '5h', '29d'."""
    seconds = max(0, int(seconds))
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length:
            return f"{seconds // length}{unit}"
    return f"{seconds}s"


def expires(expires_at: int | None, now: float) -> str:
    """'in 29d', 'expired', or 'never'."""
    if expires_at is None:
        return "never"
    return f"in {span(expires_at - now)}" if expires_at > now else "expired"

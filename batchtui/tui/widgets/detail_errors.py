"""A failed batch's errors as a pickable list, one per bad line: the highlighted one is the line `l` (or ⏎) opens."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from batchtui.core.api.models import Batch, BatchError
from batchtui.tui.format import literal

PICK_HINT = "Tab, then ↑↓ picks an error; ⏎ or l opens its line"


def batch_errors(batch: Batch) -> list[BatchError]:
    """The errors the API gives for the batch (OpenAI lists one per bad line, up to 1,000)."""
    return list((batch.errors.data if batch.errors else None) or [])


def error_prompt(error: BatchError, line_width: int) -> Text:
    """'line 4  missing_required_parameter  body.model  Missing required parameter…', every part literal."""
    where = f"line {error.line}" if error.line is not None else "file"
    return Text.assemble(
        (f"{where:>{line_width}}", "dim"), "  ", literal(error.code or "-", "bold red"), "  ",
        literal(error.param or "", "dim"), "  " if error.param else "", literal(error.message or ""),
    )


class BatchErrorList(OptionList):
    """Every error of the batch; hidden when it has none."""

    DEFAULT_CSS = """
    BatchErrors { height: auto; max-height: 12; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(markup=False, id=id)
        self.errors: list[BatchError] = []

    def on_mount(self) -> None:
        self.border_subtitle = PICK_HINT
        self.display = False

    def show_errors(self, batch: Batch) -> None:
        """Show the batch's errors, keeping the highlight when they have not changed."""
        errors = batch_errors(batch)
        if errors == self.errors:
            return
        self.errors = errors
        self.display = bool(errors)
        width = max((len(f"line {e.line}") for e in errors if e.line is not None), default=4)
        self.set_options(Option(error_prompt(error, width)) for error in errors)
        self.border_title = "Errors" if len(errors) < 2 else f"Errors ({len(errors):,})"
        self.highlighted = 0 if errors else None

    @property
    def selected_line(self) -> int | None:
        """The input line of the highlighted error, else the first error's that names one."""
        index = self.highlighted
        if index is not None and 0 <= index < len(self.errors) and self.errors[index].line:
            return self.errors[index].line
        return next((error.line for error in self.errors if error.line), None)

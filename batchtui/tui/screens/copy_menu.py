"""Pick what to copy from a list, for screens with more copy keys than a footer can show."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

CopyChoice = tuple[str, str, str]
"""(key, what, label): pressing `key` here (or on the screen behind) copies `what`."""


class CopyMenuScreen(ModalScreen[str | None]):
    """Dismisses with the chosen `what`, or None on escape."""

    DEFAULT_CSS = """
    CopyMenuScreen { align: center middle; }
    CopyMenuScreen > Vertical { width: 44; height: auto; border: thick $primary; background: $surface; }
    CopyMenuScreen #copy-title { padding: 0 1; text-style: bold; }
    CopyMenuScreen OptionList { height: auto; border: none; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]

    def __init__(self, choices: tuple[CopyChoice, ...]) -> None:
        super().__init__()
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Copy to the clipboard", id="copy-title")
            yield OptionList(*(Option(f"{key}  {label}", id=what) for key, what, label in self.choices), markup=False)

    def on_key(self, event) -> None:
        for key, what, _ in self.choices:
            if event.character == key:
                event.stop()
                self.dismiss(what)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

"""Pick one of a few choices from a list: what to copy (more copy keys than a footer can show), an example."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

Choice = tuple[str, str, str]
"""(key, what, label): pressing `key` (or choosing the label) dismisses the menu with `what`."""


class ChoiceMenuScreen(ModalScreen[str | None]):
    """Dismisses with the chosen `what`, or None on escape."""

    DEFAULT_CSS = """
    ChoiceMenuScreen { align: center middle; }
    ChoiceMenuScreen > Vertical { width: auto; min-width: 44; max-width: 90%; height: auto; border: thick $primary;
                                  background: $surface; }
    ChoiceMenuScreen #choice-title { padding: 0 1; text-style: bold; }
    ChoiceMenuScreen OptionList { height: auto; width: auto; border: none; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]

    def __init__(self, title: str, choices: tuple[Choice, ...]) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="choice-title", markup=False)
            yield OptionList(*(Option(f"{key}  {label}", id=what) for key, what, label in self.choices), markup=False)

    def on_key(self, event) -> None:
        for key, what, _ in self.choices:
            if event.character == key:
                event.stop()
                self.dismiss(what)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

from rich.text import Text

from batchtui.core.timetext import duration
from batchtui.tui.format import ago, literal, size


def test_durations_and_ages():
    assert [duration(s) for s in (5, 125, 3600 + 300, 2 * 86400 + 4 * 3600)] == ["5s", "2m 05s", "1h 05m", "2d 4h"]
    assert ago(100, 102) == "just now" and ago(100, 700) == "10m ago" and ago(None, 1) == "-"


def test_sizes():
    assert [size(n) for n in (512, 15_600_000, 2_000_000_000)] == ["512 B", "15.6 MB", "2.0 GB"]


def test_literal_never_parses_markup():
    shown = literal("[bold]x[/] \x1b[31m")
    assert isinstance(shown, Text) and shown.plain == "[bold]x[/] \\x1b[31m" and not shown.spans

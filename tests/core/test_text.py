"""Untrusted text is shown literally: no escape sequence or bidi override reaches the terminal raw."""

from hypothesis import given
from hypothesis import strategies as st

from batchtui.core.text import printable


def test_escape_sequences_become_visible():
    assert printable("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m"
    assert printable("a\u202eb") == "a\\u202eb"
    assert printable("bell\x07") == "bell\\x07"


def test_newlines_kept_only_when_asked():
    assert printable("a\nb") == "a\\nb"
    assert printable("a\nb", keep_newlines=True) == "a\nb"


@given(st.text())
def test_no_control_characters_survive(text):
    shown = printable(text, keep_newlines=True)
    assert not any((ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F for c in shown)

"""plural: one way to write a count with its noun on the command line and in the app."""

from __future__ import annotations

import pytest

from batchtui.core.text import plural


@pytest.mark.parametrize(("count", "noun", "expected"), [
    (1, "batch", "1 batch"),
    (27, "batch", "27 batches"),
    (0, "batch", "0 batches"),
    (1, "request", "1 request"),
    (1234, "request", "1,234 requests"),
    (1, "hit", "1 hit"),
    (2, "hit", "2 hits"),
    (3, "box", "3 boxes"),
    (-1, "file", "-1 files"),
])
def test_a_count_takes_the_noun_it_needs(count, noun, expected):
    assert plural(count, noun) == expected


def test_an_irregular_plural_is_named():
    assert plural(1, "entry", "entries") == "1 entry"
    assert plural(12_000, "entry", "entries") == "12,000 entries"

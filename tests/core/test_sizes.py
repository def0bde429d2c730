"""Sizes in bytes read in the unit that fits them, one helper for the command line and the app."""

from __future__ import annotations

from batchtui.core.text import byte_size


def test_sizes_read_in_the_unit_that_fits():
    assert [byte_size(n) for n in (0, 412, 999, 1000, 12_345, 999_949, 999_950, 15_600_000, 2_000_000_000)] == [
        "0 B", "412 B", "999 B", "1.0 KB", "12.3 KB", "999.9 KB", "1.0 MB", "15.6 MB", "2.0 GB"]

"""FileLines: any line of a local file on demand, with checkpoints instead of a whole-file read."""

from __future__ import annotations

import pytest

from batchtui.core.results import file_lines
from batchtui.core.results.file_lines import FileLines


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 16 bytes, so short test files cross many checkpoints and lines span blocks."""
    monkeypatch.setattr(file_lines, "BLOCK", 16)


@pytest.mark.parametrize("content", [
    b"", b"a", b"a\n", b"\n\n\n", b"one\r\ntwo\nthree", b"x" * 40 + b"\nshort\n" + b"y" * 33 + b"\n\nend",
    b"".join(b"line %d\n" % i for i in range(500)),
])
def test_every_line_reads_as_split_lines_would(tmp_path, small_blocks, content):
    path = tmp_path / "f.jsonl"
    path.write_bytes(content)
    expected = [line.rstrip("\r") for line in content.decode().split("\n")]
    if expected[-1] == "":
        expected.pop()
    with FileLines(path) as lines:
        assert len(lines) == len(expected)
        assert lines.lines(0, len(expected) + 5) == expected
        for start in range(len(expected)):
            assert lines.lines(start, 3) == expected[start : start + 3]
        assert lines.lines(len(expected), 3) == []


def test_a_huge_line_is_cut_not_read_whole(tmp_path, small_blocks):
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"a" * 100 + b"\n" + b"b" * 10 + b"\n" + b"c" * 50)
    with FileLines(path) as lines:
        assert lines.lines(0, 3, max_bytes=20) == ["a" * 20 + "…", "b" * 10, "c" * 20 + "…"]
        assert lines.lines(1, 1, max_bytes=10) == ["b" * 10]


def test_checkpoints_stay_few_for_many_short_lines(tmp_path):
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"\n" * 1_000_000 + b"last")
    with FileLines(path) as lines:
        assert len(lines) == 1_000_001
        assert lines.lines(1_000_000, 5) == ["last"]
        assert len(lines._offsets) <= 1_000_000 // file_lines.BLOCK + 1

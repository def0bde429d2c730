"""Splitting: parts within the limits that validate, equal to the input when joined, and nothing left on error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from batchtui.core.authoring.split import SplitError, split_file
from batchtui.core.authoring.validate import MAX_LINES, validate_file

PEAK_MB = "int(next(line for line in open('/proc/self/status') if line.startswith('VmHWM:')).split()[1]) // 1024"
"""The peak memory of the process running it, in MB (ru_maxrss would count the parent's, after a fork)."""


def chat(i: int, text: str = "") -> bytes:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Describe item {i}.{text}"}]}
    request = {"custom_id": f"row-{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}
    return orjson.dumps(request) + b"\n"


def embeddings(i: int, inputs: int) -> bytes:
    body = {"model": "text-embedding-3-small", "input": [f"text {j}" for j in range(inputs)]}
    return orjson.dumps({"custom_id": f"e-{i}", "method": "POST", "url": "/v1/embeddings", "body": body}) + b"\n"


def write(tmp_path: Path, lines: list[bytes]) -> Path:
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"".join(lines))
    return path


def joined(parts: list[Path]) -> bytes:
    return b"".join(p.read_bytes() for p in parts)


def test_a_file_within_the_limits_is_left_alone(tmp_path):
    path = write(tmp_path, [chat(i) for i in range(5)])
    assert split_file(path, max_lines=5) == [path]
    assert os.listdir(tmp_path) == ["batch.jsonl"]


def test_split_by_lines_counts_requests_not_blank_lines(tmp_path):
    lines = [chat(i) for i in range(10)]
    lines[4:4] = [b"\n", b"  \n"]
    path = write(tmp_path, lines)
    parts = split_file(path, max_lines=3)
    assert [p.name for p in parts] == [f"batch.part-00{i}.jsonl" for i in range(1, 5)]
    assert joined(parts) == path.read_bytes()
    assert [validate_file(p, max_lines=3).requests for p in parts] == [3, 3, 3, 1]
    assert all(validate_file(p, max_lines=3).ok for p in parts)


def test_split_by_bytes(tmp_path):
    lines = [chat(i, "x" * (i * 37 % 200)) for i in range(40)]
    path = write(tmp_path, lines)
    limit = 3 * max(len(line) for line in lines)
    parts = split_file(path, max_bytes=limit)
    assert len(parts) > 1 and joined(parts) == path.read_bytes()
    assert all(p.stat().st_size <= limit and validate_file(p, max_bytes=limit).ok for p in parts)
    # Each part is as full as it can be: the next part's first line would not have fit.
    for part, after in zip(parts, parts[1:], strict=False):
        assert part.stat().st_size + len(after.read_bytes().split(b"\n")[0]) + 1 > limit


def test_split_keeps_embeddings_inputs_within_the_limit(tmp_path):
    path = write(tmp_path, [embeddings(i, 3) for i in range(5)])
    parts = split_file(path, max_embedding_inputs=7)
    assert [validate_file(p).requests for p in parts] == [2, 2, 1]
    assert all(validate_file(p, max_embedding_inputs=7).ok for p in parts)


def test_the_api_limits_are_the_defaults(tmp_path):
    path = write(tmp_path, [chat(i) for i in range(MAX_LINES + 1)])
    parts = split_file(path)
    assert [validate_file(p).requests for p in parts] == [MAX_LINES, 1]
    assert all(validate_file(p).ok for p in parts) and joined(parts) == path.read_bytes()


def test_parts_go_to_out_dir_with_progress(tmp_path):
    path = write(tmp_path, [chat(i) for i in range(2_500)])
    out = tmp_path / "parts"
    out.mkdir()
    seen: list[tuple[int, int]] = []
    parts = split_file(path, max_lines=1_000, out_dir=out, progress=lambda done, total: seen.append((done, total)))
    assert [p.parent for p in parts] == [out] * 3 and sorted(os.listdir(out)) == [p.name for p in parts]
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)


def test_a_line_over_max_bytes_is_an_error_naming_it_and_nothing_is_written(tmp_path):
    path = write(tmp_path, [chat(0), chat(1), chat(2, "x" * 500), chat(3)])
    with pytest.raises(SplitError, match=r"batch.jsonl line 3: \d+ bytes, more than a part may hold \(300\)"):
        split_file(path, max_bytes=300)
    with pytest.raises(SplitError, match="batch.jsonl line 1: 9 embeddings inputs"):
        split_file(write(tmp_path, [embeddings(0, 9)]), max_embedding_inputs=8)
    assert os.listdir(tmp_path) == ["batch.jsonl"]


def test_a_failure_while_writing_leaves_no_part(tmp_path, monkeypatch):
    path = write(tmp_path, [chat(i) for i in range(10)])
    replace = os.replace
    calls: list[str] = []

    def failing_replace(src, dst):
        calls.append(str(dst))
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(SplitError, match="No space left on device"):
        split_file(path, max_lines=2)
    assert len(calls) == 3
    assert os.listdir(tmp_path) == ["batch.jsonl"]


def test_a_new_split_leaves_no_part_of_an_earlier_one(tmp_path):
    path = write(tmp_path, [chat(i) for i in range(10)])
    (tmp_path / "other.part-001.jsonl").write_bytes(b"not this file's\n")
    assert len(split_file(path, max_lines=1)) == 10
    parts = split_file(path, max_lines=4)
    assert joined(parts) == path.read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["batch.jsonl", *(p.name for p in parts), "other.part-001.jsonl"]
    assert split_file(path) == [path]
    assert sorted(os.listdir(tmp_path)) == ["batch.jsonl", "other.part-001.jsonl"]


def test_the_source_and_kept_files_are_never_replaced_or_removed(tmp_path):
    source = write(tmp_path, [chat(i) for i in range(4)])
    named_as_part = tmp_path / "batch.part-002.jsonl"
    os.replace(source, named_as_part)
    source.symlink_to(named_as_part.name)
    with pytest.raises(SplitError, match=r"^batch\.jsonl \(that is, batch\.part-002\.jsonl\) has the name of a part"):
        split_file(source, max_lines=1)
    data = tmp_path / "batch.part-001.jsonl"
    data.write_text("id,text\n")
    (tmp_path / "elsewhere").mkdir()
    other = write(tmp_path / "elsewhere", [chat(i) for i in range(4)])
    with pytest.raises(SplitError, match=r"^batch\.part-001\.jsonl has the name of a part of batch\.jsonl"):
        split_file(other, max_lines=1, out_dir=tmp_path, keep=[data])
    assert sorted(os.listdir(tmp_path)) == ["batch.jsonl", "batch.part-001.jsonl", "batch.part-002.jsonl", "elsewhere"]
    assert named_as_part.read_bytes() == joined([other]) and data.read_text() == "id,text\n"


def test_a_temp_part_left_by_a_killed_split_is_removed_by_the_next(tmp_path):
    path = write(tmp_path, [chat(i) for i in range(4)])
    left = tmp_path / ".batch.part-001.jsonl.k1ll3d_x.part"
    left.write_bytes(b"x" * 1000)
    parts = split_file(path, max_lines=2)
    assert sorted(os.listdir(tmp_path)) == ["batch.jsonl", *(p.name for p in parts)]


@pytest.mark.parametrize(("limits", "option"), [({"max_lines": 0}, "max_lines must be at least 1, not 0"),
                                                 ({"max_bytes": -5}, "max_bytes must be at least 1, not -5"),
                                                 ({"max_embedding_inputs": 0}, "max_embedding_inputs must be")])
def test_a_limit_under_one_is_an_error_naming_it(tmp_path, limits, option):
    with pytest.raises(SplitError, match=f"^{option}"):
        split_file(write(tmp_path, [chat(0)]), **limits)


def test_a_line_too_long_is_never_held_whole_and_a_stream_is_refused(tmp_path):
    path = tmp_path / "batch.jsonl"
    with path.open("wb") as fh:
        fh.write(chat(0))
        fh.seek(300 << 20, 1)  # a hole: a 300 MB line of NULs that uses no disk
        fh.write(b"\n" + chat(1))
    code = ("import sys\nfrom pathlib import Path\nfrom batchtui.core.authoring.split import split_file\n"
            "try:\n    split_file(Path(sys.argv[1]))\nexcept Exception as exc:\n    print(exc)\n"
            f"print({PEAK_MB})")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    message, peak_mb = done.stdout.splitlines()
    assert message == "batch.jsonl line 2: 314,572,801 bytes, more than a part may hold (209,715,200)."
    assert int(peak_mb) < 300, "the line was held whole"
    with pytest.raises(SplitError, match=r"^zero is not a regular file"):
        split_file(Path("/dev/zero"), out_dir=tmp_path)

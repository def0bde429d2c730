"""The result index: joins by custom_id over real sandbox batches and handwritten edge cases, storage, threads."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchtui.core.api.client import BatchService
from batchtui.core.config import Profile
from batchtui.core.errors import BatchtuiError
from batchtui.core.results import index as results
from batchtui.core.results.index import (
    FIRST_REPORT,
    REPORT_EVERY,
    BuildCancelled,
    Outcome,
    ResultFileError,
    ResultFiles,
    ResultIndex,
    build_index,
    store_path,
)
from batchtui.sandbox import SandboxConfig, SandboxServer

TERMINAL = ("completed", "failed", "expired", "cancelled")


async def run_batch(profile: Profile, path: Path, stop=None) -> tuple[ResultFiles, object]:
    """Run the batch file on the sandbox and download its results beside it; `stop(service, id)` ends it early."""
    folder = path.parent
    async with BatchService(profile) as service:
        batch = await service.create((await service.upload(path)).id, "/v1/chat/completions")
        stopped = stop is None
        while batch.status not in TERMINAL:
            if not stopped and batch.request_counts and batch.request_counts.completed >= 50:
                await stop(service, batch.id)
                stopped = True
            await asyncio.sleep(0.02)
            batch = await service.retrieve(batch.id)
        found = {}
        for kind, file_id in (("output", batch.output_file_id), ("errors", batch.error_file_id)):
            if file_id:
                found[kind] = folder / f"{kind}.jsonl"
                size = (await service.retrieve_file(file_id)).bytes
                await service.download(file_id, found[kind], size=size)
    return ResultFiles(path, found.get("output"), found.get("errors")), batch


def parsed_lines(path: Path | None) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()] if path else []


def snapshot(index: ResultIndex) -> list[tuple]:
    """Everything the index says about every row, to compare two indexes."""
    return [
        (index.custom_id(r), index.outcome(r), index.status_code(r), index.error_code(r), index.status_label(r),
         index.tokens(r), index.input_line(r), index.output_line(r), index.unreadable_where(r),
         *(index.line_number(r, kind) for kind in ("input", "output", "error")))
        for r in range(len(index))
    ]


async def test_join_by_custom_id_with_shuffled_output_and_failures(write_batch_file):
    with SandboxServer(SandboxConfig(speed=1000, fail_rate=0.3)) as server:
        profile = Profile(name="t", base_url=server.base_url, api_key="sk-test")
        files, batch = await run_batch(profile, write_batch_file(300))
    outputs, errors = parsed_lines(files.output), parsed_lines(files.errors)
    assert [o["custom_id"] for o in outputs] != sorted((o["custom_id"] for o in outputs), key=lambda c: int(c[4:]))
    assert errors and len(outputs) == batch.request_counts.completed

    index = build_index(files)
    assert index.complete and len(index) == 300
    assert [index.custom_id(r) for r in range(300)] == [f"row-{i}" for i in range(300)]
    by_id = {o["custom_id"]: ("output", n, o) for n, o in enumerate(outputs, 1)}
    by_id |= {e["custom_id"]: ("error", n, e) for n, e in enumerate(errors, 1)}
    for row in range(300):
        kind, number, line = by_id[index.custom_id(row)]
        assert index.line_number(row, kind) == number and index.line_number(row, "input") == row + 1
        assert orjson.loads(index.output_line(row)) == line
        assert orjson.loads(index.input_line(row))["custom_id"] == index.custom_id(row)
        response = line["response"]
        assert index.status_code(row) == response["status_code"]
        if kind == "output":
            assert index.outcome(row) == Outcome.OK and index.status_label(row) == "ok"
            assert index.tokens(row) == response["body"]["usage"]["total_tokens"] > 0
            assert index.error_code(row) is None and index.line_number(row, "error") is None
        else:
            assert index.outcome(row) == Outcome.FAILED and index.status_label(row) == str(response["status_code"])
            assert index.error_code(row) == response["body"]["error"]["code"]
    assert len(index.rows("succeeded")) == batch.request_counts.completed
    assert len(index.rows("failed")) == batch.request_counts.failed == len(errors)
    index.close()


@pytest.mark.parametrize("how", ["cancel", "expire"])
async def test_cancelled_and_expired_batches(how, fresh_sandbox, sandbox_profile, write_batch_file):
    async def stop(service, batch_id):
        if how == "cancel":
            await service.cancel(batch_id)
        else:
            fresh_sandbox.expire_now(batch_id)

    files, batch = await run_batch(sandbox_profile, write_batch_file(4000), stop)
    assert batch.status == ("cancelled" if how == "cancel" else "expired")
    outcome, code = (Outcome.CANCELLED, "batch_cancelled") if how == "cancel" else (Outcome.EXPIRED, "batch_expired")
    index = build_index(files)
    stopped = index.rows("stopped")
    assert len(stopped) == len(parsed_lines(files.errors)) == 4000 - batch.request_counts.completed > 0
    assert len(index.rows("succeeded")) == batch.request_counts.completed >= 50
    row = stopped[0]
    assert index.outcome(row) == outcome and index.status_label(row) == code == index.error_code(row)
    assert index.status_code(row) is None and index.tokens(row) is None
    index.close()

    without_errors = build_index(ResultFiles(files.input, files.output))
    pending = [r for r in range(4000) if without_errors.outcome(r) == Outcome.PENDING]
    assert pending == stopped and without_errors.status_label(pending[0]) == "pending"
    assert without_errors.output_line(pending[0]) is None and without_errors.tokens(pending[0]) is None
    without_errors.close()


def write(path: Path, lines: list[bytes | dict], end: bytes = b"\n") -> Path:
    path.write_bytes(b"\n".join(x if isinstance(x, bytes) else orjson.dumps(x) for x in lines) + end)
    return path


def ok(cid: str, tokens: int = 10) -> dict:
    body = {"object": "chat.completion", "choices": [], "usage": {"total_tokens": tokens}}
    return {"id": "batch_req_1", "custom_id": cid, "response": {"status_code": 200, "request_id": "r", "body": body},
            "error": None}


BIG = {"custom_id": "big", "method": "POST", "url": "/v1/chat/completions", "body": {"text": "x" * (1 << 20)}}
INPUT_LINES: list[bytes | dict] = [
    {"custom_id": "a", "body": {}},  # 1
    b"   ",  # 2: blank
    b"not json",  # 3
    {"method": "POST", "body": {"custom_id": "nested"}, "custom_id": "b"},  # 4
    {"body": {"x": 1}},  # 5: no custom_id
    b'{"custom_id":"\xff\xfe","body":{}}',  # 6: invalid UTF-8 in the id
    b'{"custom_id":"c","body":{"text":"\xff"}}',  # 7: invalid UTF-8 in the body
    BIG,  # 8: a 1 MB line
    b'{"custom_id":"d\\"q\\u00e9","body":{}}',  # 9: escapes in the id
    b'{"custom_id": 5}',  # 10
    b'{"custom_id":"e","body":{"tex',  # 11: cut short
    b'{"custom_id":"f","body":{}}\r',  # 12: CRLF
    b'{"custom_id":"g"}',  # 13: last line, no newline
]


@pytest.fixture
def edge_files(tmp_path) -> ResultFiles:
    output = [
        ok("f", 3),  # 1
        b'{"response":{"status_code":200,"body":{"custom_id":"evil","usage":{"total_tokens":7}}},"custom_id":"b"}',
        b"garbage",  # 3
        b"",  # 4: blank
        ok("zzz"),  # 5: not in the input
        b'{"custom_id":"d\\u0022q\xc3\xa9","response":{"status_code":200,"body":{}}}',  # 6: same id, other escapes
        ok("big", 99),  # 7
        ok("a", 12),  # 8
    ]
    error_body = {"error": {"message": "bad", "type": "invalid_request_error", "param": None, "code": "bad_thing"}}
    errors = [
        {"id": "x", "custom_id": "c", "response": {"status_code": 400, "body": error_body}, "error": None},
        {"id": "y", "custom_id": "g", "response": None, "error": {"code": "server_error", "message": "x"}},
        {"id": "z", "custom_id": "q", "response": None, "error": {"code": "batch_expired", "message": "x"}},
    ]
    return ResultFiles(write(tmp_path / "in.jsonl", INPUT_LINES, end=b""), write(tmp_path / "out.jsonl", output),
                       write(tmp_path / "err.jsonl", errors))


def test_edge_cases_of_handwritten_files(edge_files):
    index = build_index(edge_files)
    labels = [(index.custom_id(r), index.status_label(r)) for r in range(len(index))]
    assert labels == [
        ("a", "ok"), ("", "unreadable"), ("b", "ok"), ("", "unreadable"), ("", "unreadable"), ("c", "400"),
        ("big", "ok"), ('d"qé', "ok"), ("", "unreadable"), ("", "unreadable"), ("f", "ok"), ("g", "server_error"),
        ("", "unreadable"), ("zzz", "ok"), ("q", "batch_expired"),
    ]
    assert [index.unreadable_where(r) for r in index.rows("failed") if index.outcome(r) == Outcome.UNREADABLE] == [
        ("input", 3), ("input", 5), ("input", 6), ("input", 10), ("input", 11), ("output", 3)]
    assert index.unreadable_where(0) is None
    assert index.tokens(2) == 7 and index.tokens(0) == 12 and index.tokens(6) == 99 and index.tokens(7) is None
    assert index.input_line(6) == orjson.dumps(BIG) and index.input_line(10) == b'{"custom_id":"f","body":{}}\r'
    assert index.input_line(1) == b"not json" and index.output_line(1) is None
    assert index.output_line(12) == b"garbage" and index.input_line(12) is None
    assert index.line_number(13, "output") == 5 and index.line_number(13, "input") is None
    assert index.outcome(11) == Outcome.FAILED and index.status_code(11) is None
    assert index.error_code(5) == "bad_thing" and index.line_number(5, "error") == 1
    assert index.line_number(5, "output") is None
    assert [index.row_of_input_line(n) for n in (1, 2, 3, 4, 13, 14, 0)] == [0, None, 1, 2, 11, None, None]
    index.close()
    assert index.input_line(0) is None and index.output_line(0) is None


def test_filters(edge_files):
    index = build_index(edge_files)
    assert index.rows() == list(range(15))
    assert index.rows("succeeded") == [0, 2, 6, 7, 10, 13]
    assert index.rows("failed") == [1, 3, 4, 5, 8, 9, 11, 12]
    assert index.rows("stopped") == [14]
    index.close()


def test_duplicate_ids_in_input_take_results_in_order(tmp_path):
    files = ResultFiles(write(tmp_path / "in.jsonl", [{"custom_id": "a"}, {"custom_id": "a"}, {"custom_id": "a"}]),
                        write(tmp_path / "out.jsonl", [ok("a", 1), ok("a", 2)]))
    index = build_index(files)
    assert [(index.custom_id(r), index.tokens(r), index.outcome(r)) for r in range(len(index))] == [
        ("a", 1, Outcome.OK), ("a", 2, Outcome.OK), ("a", None, Outcome.PENDING)]
    index.close()


def test_lone_files_and_empty_files(edge_files, tmp_path):
    alone = build_index(ResultFiles(output=edge_files.output, errors=edge_files.errors))
    assert [alone.custom_id(r) for r in range(len(alone))] == ["f", "b", "", "zzz", 'd"qé', "big", "a", "c", "g", "q"]
    assert alone.rows("failed") == [2, 7, 8] and alone.input_line(0) is None
    alone.close()
    errors = build_index(ResultFiles(errors=edge_files.errors))
    assert [errors.status_label(r) for r in range(3)] == ["400", "server_error", "batch_expired"]
    errors.close()
    inputs = build_index(ResultFiles(input=edge_files.input))
    assert len(inputs) == 12 and {inputs.outcome(r) for r in range(12)} == {Outcome.PENDING, Outcome.UNREADABLE}
    inputs.close()
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    (tmp_path / "blank.jsonl").write_bytes(b"\n\n  \n")
    for files in (ResultFiles(), ResultFiles(empty, empty, tmp_path / "blank.jsonl")):
        index = build_index(files)
        assert len(index) == 0 and index.complete and index.rows("failed") == []
        assert index.row_of_input_line(1) is None
        index.close()


def test_missing_or_unreadable_files_raise_a_one_line_error(tmp_path):
    with pytest.raises(ResultFileError, match="nothere.jsonl") as caught:
        build_index(ResultFiles(input=tmp_path / "nothere.jsonl"))
    assert isinstance(caught.value, BatchtuiError) and "\n" not in str(caught.value)
    with pytest.raises(ResultFileError, match=str(tmp_path)):
        build_index(ResultFiles(output=tmp_path))


def test_stored_index_is_loaded_rebuilt_when_stale_or_corrupt(edge_files, tmp_path):
    store = tmp_path / "store"
    first = build_index(edge_files, store_dir=store)
    expected = snapshot(first)
    assert not first.loaded_from_store
    first.close()
    assert [p.name for p in store.iterdir()] == [store_path(store, edge_files).name]

    calls: list[int] = []
    again = build_index(edge_files, store_dir=store, on_rows=lambda ix: calls.append(len(ix)))
    assert again.loaded_from_store and again.complete and calls == [15]
    assert snapshot(again) == expected
    again.close()

    stored = store_path(store, edge_files)
    data = stored.read_bytes()
    for broken in (data[: len(data) // 2], b"garbage", data.replace(b"BTRIDX", b"BTRIDY", 1), data + b"x"):
        stored.write_bytes(broken)
        rebuilt = build_index(edge_files, store_dir=store)
        assert not rebuilt.loaded_from_store and snapshot(rebuilt) == expected
        rebuilt.close()
    assert build_index(edge_files, store_dir=store).loaded_from_store

    with open(edge_files.output, "ab") as fh:
        fh.write(orjson.dumps(ok("new")) + b"\n")
    stale = build_index(edge_files, store_dir=store)
    assert not stale.loaded_from_store and stale.custom_id(len(stale) - 2) == "new"
    stale.close()
    assert sorted(p.name for p in store.iterdir()) == [stored.name]


def test_progress_and_cancellation(tmp_path, write_batch_file):
    count = REPORT_EVERY * 2 + 10
    path = write_batch_file(count)
    output = write(tmp_path / "out.jsonl", [ok(f"row-{i}") for i in reversed(range(count))])
    seen: list[tuple[int, bool, int]] = []

    def on_rows(index: ResultIndex) -> None:
        seen.append((len(index), index.complete, len(index.rows("succeeded"))))

    build_index(ResultFiles(path, output), on_rows=on_rows).close()
    assert seen[0] == (FIRST_REPORT, False, 0)  # a screenful first, then REPORT_EVERY lines at a time
    assert seen[1] == (FIRST_REPORT + REPORT_EVERY, False, 0)
    assert [n for n, _, _ in seen] == sorted(n for n, _, _ in seen)
    assert [done for _, done, _ in seen] == [False] * (len(seen) - 1) + [True]
    assert seen[-1] == (count, True, count) and seen[-2][2] > 0

    reports: list[ResultIndex] = []
    with pytest.raises(BuildCancelled):
        build_index(ResultFiles(path, output), on_rows=reports.append, cancelled=lambda: bool(reports))
    assert len(reports) == 1 and len(reports[0]) == FIRST_REPORT and not reports[0].complete
    assert reports[0].input_line(0) is None  # closed


def test_rows_can_be_read_from_another_thread_while_building(tmp_path, write_batch_file):
    count = REPORT_EVERY * 3
    path = write_batch_file(count)
    output = write(tmp_path / "out.jsonl", [ok(f"row-{i}") for i in range(count)])
    holder: list[ResultIndex] = []
    first = threading.Event()

    def on_rows(index: ResultIndex) -> None:
        holder.append(index)
        first.set()

    worker = threading.Thread(target=lambda: build_index(ResultFiles(path, output), on_rows=on_rows))
    worker.start()
    first.wait()
    index = holder[0]
    while not index.complete:
        for row in range(len(index)):
            assert index.custom_id(row) == f"row-{row}" and index.input_line(row)
            assert index.outcome(row) in (Outcome.PENDING, Outcome.OK)
    worker.join()
    assert len(index.rows("succeeded")) == count
    index.close()


def test_closing_from_another_thread_while_building_stops_the_build(tmp_path, write_batch_file):
    """A viewer that quits while its index is built closes it from the UI thread, maybe while the scanner reads
    the map: the build stops, releases the files itself, and raises BuildCancelled (not BufferError, not
    "mmap closed")."""
    count = REPORT_EVERY * 20
    path = write_batch_file(count)
    output = write(tmp_path / "out.jsonl", [ok(f"row-{i}") for i in range(count)])
    fds = len(os.listdir("/proc/self/fd"))
    for delay in (0.0, 0.001, 0.005, 0.02):  # at a report, and most likely inside a chunk
        holder: list[ResultIndex] = []
        first = threading.Event()
        failures: list[BaseException] = []

        def on_rows(index: ResultIndex, holder=holder, first=first) -> None:
            holder.append(index)
            first.set()

        def build(failures=failures, on_rows=on_rows) -> None:
            try:
                build_index(ResultFiles(path, output), on_rows=on_rows)
            except BaseException as exc:  # noqa: BLE001 - what the build ended with is the point
                failures.append(exc)

        worker = threading.Thread(target=build)
        worker.start()
        first.wait()
        time.sleep(delay)
        holder[0].close()
        worker.join()
        assert [type(failure) for failure in failures] in ([], [BuildCancelled])
        assert holder[0].input_line(0) is None
    assert len(os.listdir("/proc/self/fd")) == fds


def test_index_holds_no_object_per_row(tmp_path, write_batch_file):
    count = 3000
    files = ResultFiles(write_batch_file(count), write(tmp_path / "out.jsonl", [ok(f"row-{i}") for i in range(count)]))
    gc.collect()
    before = len(gc.get_objects())
    index = build_index(files)
    gc.collect()
    assert len(index) == count and len(gc.get_objects()) - before < 50  # for the garbage collector to walk
    index.close()



SCANNED = [  # (line, output, custom_id and status the scanner reads, or None when it leaves the line to Python)
    (b'{"custom_id":"a","body":{}}', False, ("a", None)),
    (b'{"custom_id": "a b", "body": {}}  \r', False, ("a b", None)),
    (b'{"custom_id": "\xc3\xa9", "body": {}}', False, ("\u00e9", None)),
    (b'{"custom_id":"a\\"b","body":{}}', False, None),  # an escape: parsed in full
    (b'{"custom_id":"a","body":{', False, None),  # cut off
    (b' {"custom_id":"a"}', False, None),
    (b'{"method":"POST","custom_id":"a"}', False, None),  # another key order
    (b'{"id":"r","custom_id":"x","response":{"status_code":204,"body":{}}}', True, ("x", 204)),
    (b'{"id": "r", "custom_id": "x", "response": {"status_code": 200, "body": {}}, "error": null}', True, ("x", 200)),
    (b'{"id":"r","custom_id":"x","response":{"status_code":2000}}', True, None),
    (b'{"id":"r","custom_id":"x","response":{"status_code":400,"body":{}}}', True, None),
    (b'{"id":"r","custom_id":"x","response":{"status_code":20}}', True, None),
    (b'{"custom_id":"x","response":{"status_code":200}}', True, None),
    (b"  \t", False, None),
]


@pytest.mark.parametrize(("line", "output", "read"), SCANNED)
def test_compiled_scanner_reads_only_lines_it_can_vouch_for(line, output, read):
    assert results._linescan is not None, "core/results/_linescan.c is not compiled: pip install -e . needs gcc"
    data = b"\xef\xbb\xbf" + line + b"\n" + line
    pos, starts, lengths, ids, statuses = results._linescan.scan(data, 3, 5, output)
    assert (pos, list(memoryview(starts).cast("q")), list(memoryview(lengths).cast("q"))) == (
        len(data), [3, 4 + len(line)], [len(line), len(line)])
    if read is None:
        assert ids is None and statuses is None
    else:
        assert ids.decode().split("\n") == [read[0]] * 2
        assert statuses is None if not output else list(memoryview(statuses).cast("i")) == [read[1]] * 2


def test_line_reader_without_the_compiled_scanner_builds_the_same_index(tmp_path, write_batch_file, monkeypatch):
    """An install with no C compiler reads every line in Python: more slowly, to the same index."""
    count = 2500
    outputs = [ok(f"row-{i}", i) for i in range(count - 40, -1, -1)]
    errors = [{"id": "e", "custom_id": f"row-{i}", "response": {"status_code": 500, "body": {}}, "error": None}
              for i in range(count - 39, count - 5)]
    files = ResultFiles(write_batch_file(count), write(tmp_path / "out.jsonl", outputs),
                        write(tmp_path / "err.jsonl", errors))
    index = build_index(files)
    quick = snapshot(index)
    index.close()
    monkeypatch.setattr(results, "_linescan", None)
    index = build_index(files)
    assert snapshot(index) == quick and len(quick) == count
    index.close()


LINE = st.one_of(
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"")),
    st.builds(lambda c: orjson.dumps({"custom_id": c, "body": {}}), st.text(max_size=8)),
    st.builds(lambda c, s, t: orjson.dumps(ok(c, t) | {"response": {"status_code": s, "body": {}}}),
              st.text(max_size=8), st.integers(-5, 1200), st.integers(0, 99)),
    st.builds(lambda c: orjson.dumps({"custom_id": c, "response": None, "error": {"code": "batch_expired"}}),
              st.sampled_from(["a", "b", ""])),
    st.recursive(st.none() | st.integers() | st.text(max_size=5), lambda x: st.lists(x, max_size=3)
                 | st.dictionaries(st.sampled_from(["custom_id", "response", "body", "error"]), x, max_size=3))
    .map(lambda value: json.dumps(value).encode()),
    st.sampled_from([b"", b"  ", b"{", b'{"custom_id":"a"', b'{"custom_id":"a"}', b"\xef\xbb\xbf{}"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(LINE, max_size=12), min_size=3, max_size=3))
def test_any_lines_are_each_accounted_for_once(contents):
    with tempfile.TemporaryDirectory() as folder:
        paths = [write(Path(folder) / f"{n}.jsonl", lines) for n, lines in enumerate(contents)]
        index = build_index(ResultFiles(*paths), store_dir=Path(folder) / "store")
        rows = snapshot(index)
        for kind, lines in zip(("input", "output", "error"), contents, strict=True):
            if lines and lines[0].startswith(b"\xef\xbb\xbf"):
                lines = [lines[0][3:], *lines[1:]]
            expected = [n for n, line in enumerate(lines, 1) if line.strip()]
            found = sorted(n for r in range(len(index)) if (n := index.line_number(r, kind)) is not None)
            assert found == expected
        assert len(index.rows("succeeded")) + len(index.rows("failed")) + len(index.rows("stopped")) + sum(
            index.outcome(r) == Outcome.PENDING for r in range(len(index))) == len(index)
        index.close()
        again = build_index(ResultFiles(*paths), store_dir=Path(folder) / "store")
        assert again.loaded_from_store and snapshot(again) == rows
        again.close()

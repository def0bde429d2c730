"""Retrying failed requests: the retry file, the batch chain on the sandbox, and the index's latest attempts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from batchtui.core.config import Profile
from batchtui.core.domain import ACTIVE_STATUSES
from batchtui.core.results.index import Outcome, ResultFiles, build_index
from batchtui.core.results.retry import NothingToRetry, rows_to_retry, write_retry_file
from batchtui.core.workspace import RetryRefused, Workspace
from batchtui.sandbox import SandboxConfig, SandboxServer


def lines(path: Path, *records: dict) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def request(cid: str) -> dict:
    return {"custom_id": cid, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"about {cid}"}]}}


def ok(cid: str, tokens: int) -> dict:
    body = {"object": "chat.completion", "choices": [{"message": {"role": "assistant", "content": f"ok {cid}"}}],
            "usage": {"total_tokens": tokens}}
    return {"id": f"batch_req_{cid}", "custom_id": cid, "response": {"status_code": 200, "body": body}, "error": None}


def failed(cid: str, status: int = 500) -> dict:
    body = {"error": {"code": "server_error", "message": "boom"}}
    return {"id": f"batch_req_{cid}", "custom_id": cid, "response": {"status_code": status, "body": body},
            "error": None}


def stopped(cid: str, code: str) -> dict:
    return {"id": f"batch_req_{cid}", "custom_id": cid, "response": None, "error": {"code": code, "message": code}}


def test_a_row_shows_its_latest_attempt(tmp_path):
    files = ResultFiles(
        input=lines(tmp_path / "in.jsonl", *(request(c) for c in "abcd")),
        output=lines(tmp_path / "out.jsonl", ok("a", 5), failed("b")),
        errors=lines(tmp_path / "err.jsonl", stopped("c", "batch_expired"), stopped("d", "batch_cancelled")),
        retries=(
            ResultFiles(output=lines(tmp_path / "r1-out.jsonl", ok("b", 7)),
                        errors=lines(tmp_path / "r1-err.jsonl", stopped("c", "batch_cancelled"))),
            ResultFiles(output=lines(tmp_path / "r2-out.jsonl", ok("c", 9), ok("stray", 1))),
        ),
    )
    index = build_index(files, store_dir=tmp_path / "store")
    try:
        rows = {index.custom_id(r): r for r in range(len(index))}
        a, b, c, d = (rows[x] for x in "abcd")
        assert [index.outcome(r) for r in (a, b, c, d)] == [Outcome.OK, Outcome.OK, Outcome.OK, Outcome.CANCELLED]
        assert [index.attempt(r) for r in (a, b, c, d)] == [1, 2, 3, 1]
        assert [index.tokens(r) for r in (a, b, c)] == [5, 7, 9]
        assert orjson.loads(index.output_line(c))["response"]["body"]["usage"]["total_tokens"] == 9
        assert index.line_number(b, "output") == 1 and index.line_number(b, "input") == 2
        assert index.attempt(rows["stray"]) == 3 and index.line_number(rows["stray"], "input") is None
        assert rows_to_retry(index, ["cancelled"]) == [d]
        assert rows_to_retry(index, ["failed", "expired"]) == []
    finally:
        index.close()
    again = build_index(files, store_dir=tmp_path / "store")
    assert again.loaded_from_store and again.attempt(rows["c"]) == 3
    again.close()


def test_retry_file_holds_the_original_lines_or_nothing(tmp_path):
    original = [request(c) for c in "abc"]
    source = lines(tmp_path / "in.jsonl", *original)
    files = ResultFiles(input=source, output=lines(tmp_path / "out.jsonl", ok("a", 1), failed("b", 400), failed("c")))
    index = build_index(files)
    try:
        rows = rows_to_retry(index, ["failed"])
        dest = tmp_path / "retry.jsonl"
        assert write_retry_file(index, rows, dest) == 2
        assert dest.read_bytes().splitlines() == source.read_bytes().splitlines()[1:]
        with pytest.raises(NothingToRetry):
            write_retry_file(index, [], tmp_path / "none.jsonl")
        assert not (tmp_path / "none.jsonl").exists()
    finally:
        index.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl", "retry.jsonl"]


async def finished(workspace: Workspace, batch_id: str):
    batch = await workspace.fetch_batch(batch_id)
    while batch.status in ACTIVE_STATUSES:
        await asyncio.sleep(0.02)
        batch = await workspace.fetch_batch(batch_id)
    return batch


async def test_retry_chain_on_the_sandbox(tmp_path, write_batch_file):
    with SandboxServer(SandboxConfig(speed=1000, fail_rate=0.4)) as server:
        profile = Profile(name="t", base_url=server.base_url, api_key="sk-test")
        async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
            uploaded = await ws.upload(write_batch_file(200))
            root = await finished(ws, (await ws.start_batch(uploaded.id, "/v1/chat/completions")).id)
            assert root.request_counts.failed > 0
            first = await ws.retry_batch(root, ["failed"])
            assert first.metadata["retry_of"] == root.id
            with pytest.raises(RetryRefused, match="still running"):
                await ws.retry_batch(root, ["failed"])
            first = await finished(ws, first.id)
            assert first.request_counts.total == root.request_counts.failed
            second = await finished(ws, (await ws.retry_batch(root, ["failed"])).id)
            assert second.request_counts.total == first.request_counts.failed

            files = await ws.batch_result_files(root)
            assert len(files.retries) == 2
            index = build_index(files)
            try:
                assert len(index) == 200
                attempts = [index.attempt(r) for r in range(200)]
                assert attempts.count(1) == root.request_counts.completed
                # A request the first retry failed again went into the second: its latest attempt is the third.
                assert attempts.count(2) == first.request_counts.total - second.request_counts.total
                assert attempts.count(3) == second.request_counts.total > 0
                assert len(index.rows("failed")) == second.request_counts.failed
                for row in range(200):
                    assert orjson.loads(index.output_line(row))["custom_id"] == index.custom_id(row)
            finally:
                index.close()
            retry_input = (await ws.batch_result_files(second)).input
            assert retry_input is not None and len(retry_input.read_bytes().splitlines()) == first.request_counts.failed

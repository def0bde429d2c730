"""llm_logs: batches of a real sandbox imported into a real cache file, one row per request, and queried."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from cache_helpers import damage_llm_log_rows, integrity
from hypothesis import given, settings
from hypothesis import strategies as st
from mounts import tmpfs

from batchtui.core.api.models import Batch
from batchtui.core.cache.llm_logs import (
    ImportCancelled,
    LogSource,
    _cost_fields,
    _units,
    import_batch,
    import_rows,
    last_import,
)
from batchtui.core.cache.sql import EXAMPLE_QUERIES, run_readonly_query
from batchtui.core.cache.store import Cache, CacheError
from batchtui.core.config import Profile
from batchtui.core.domain import ACTIVE_STATUSES
from batchtui.core.insights.pricing import price_of
from batchtui.core.results.index import ResultFiles
from batchtui.core.workspace import Workspace
from batchtui.sandbox import SandboxConfig, SandboxServer

ISSUE_QUERY = (
    "SELECT metadata -> 'batch' ->> 'custom_id', request -> 'body' ->> 'temperature' FROM llm_logs "
    "WHERE metadata -> 'batch' ->> 'custom_id' LIKE 'person%'"
)


def request(cid: str, *, model: str = "gpt-4o-mini", url: str = "/v1/chat/completions") -> dict:
    return {"custom_id": cid, "method": "POST", "url": url,
            "body": {"model": model, "temperature": 0.3, "messages": [{"role": "user", "content": f"Tell {cid}."}]}}


def write_lines(path: Path, records) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def people(tmp_path: Path, count: int, *, model: str = "gpt-4o-mini", name: str = "people.jsonl") -> Path:
    return write_lines(tmp_path / name, (request(f"person-{i}", model=model) for i in range(count)))


def log_rows(db: Path, batch_id: str | None = None) -> dict[str, dict]:
    """llm_logs rows by custom_id, JSON columns parsed (of one batch, or all)."""
    conn = sqlite3.connect(db)
    try:
        found = conn.execute(
            "SELECT id, request, response, metadata, created_at, updated_at FROM llm_logs"
            + (" WHERE metadata -> 'batch' ->> 'batch_id' = ?" if batch_id else ""),
            (batch_id,) if batch_id else (),
        ).fetchall()
    finally:
        conn.close()
    rows = {}
    for id_, req, resp, meta, created, updated in found:
        meta = json.loads(meta)
        rows[meta["batch"]["custom_id"]] = {
            "id": id_, "request": json.loads(req) if req else None, "response": json.loads(resp) if resp else None,
            "metadata": meta, "created_at": created, "updated_at": updated,
        }
    return rows


async def finished(workspace: Workspace, batch_id: str) -> Batch:
    batch = await workspace.fetch_batch(batch_id)
    while batch.status in ACTIVE_STATUSES:
        await asyncio.sleep(0.02)
        batch = await workspace.fetch_batch(batch_id)
    return batch


def created_text(batch: Batch) -> str:
    return datetime.fromtimestamp(batch.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S")


async def test_a_batch_from_upload_to_results_to_retry(tmp_path):
    with SandboxServer(SandboxConfig(speed=1000, fail_rate=0.4)) as server:
        profile = Profile(name="t", base_url=server.base_url, api_key="sk-test")
        async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
            db = ws.cache.path
            uploaded = await ws.upload(people(tmp_path, 120))
            started = await ws.start_batch(uploaded.id, "/v1/chat/completions")

            # From the moment of upload: every request is a row, with no response yet.
            rows = log_rows(db)
            assert len(rows) == 120 and all(r["response"] is None for r in rows.values())
            ids = {cid: r["id"] for cid, r in rows.items()}
            first = rows["person-7"]
            assert first["request"] == request("person-7")
            assert first["created_at"] == created_text(started)
            assert first["metadata"]["status"] == "pending" and first["metadata"]["error"] is None
            assert first["metadata"]["batch"]["input_file"] == {
                "id": uploaded.id, "filename": "people.jsonl", "bytes": uploaded.bytes, "purpose": "batch",
                "created_at": uploaded.created_at, "status": uploaded.status}
            assert first["metadata"]["cost"] is None and first["metadata"]["cost_note"] == "no response yet"

            root = await finished(ws, started.id)
            assert root.status == "completed" and root.request_counts.failed > 0
            result = await ws.import_batch(root.id)
            assert (result.rows, result.with_response, result.changed) == (120, 120, 120)
            rows = log_rows(db)
            assert {cid: r["id"] for cid, r in rows.items()} == ids  # rows are updated in place
            failed = [r for r in rows.values() if r["metadata"]["status"] == "failed"]
            ok = [r for r in rows.values() if r["metadata"]["status"] == "ok"]
            assert len(failed) == root.request_counts.failed and len(ok) == root.request_counts.completed
            for row in failed:
                meta = row["metadata"]
                assert row["response"]["status_code"] in (400, 500)
                assert meta["error"] == row["response"]["body"]["error"]
                assert meta["batch"]["output_file"] == {"id": root.error_file_id} and meta["usage"] is None
            for row in ok:
                meta = row["metadata"]
                assert row["response"]["status_code"] == 200 and meta["error"] is None
                assert meta["batch"]["output_file"] == {"id": root.output_file_id}
                assert meta["batch"]["id"].startswith("batch_req_") and meta["batch"]["batch_id"] == root.id
                assert meta["model"] == row["response"]["body"]["model"] == "gpt-4o-mini-2024-07-18"
                usage = row["response"]["body"]["usage"]
                assert meta["usage"]["prompt_tokens"] == usage["prompt_tokens"]
                assert meta["usage"]["total_tokens"] == usage["total_tokens"] and meta["cost"]["total_cost"] > 0
                assert meta["provider"] == "openai" and meta["batch"]["attempt"] == 1

            # Importing again reads nothing; forced, it writes nothing: updated_at stays.
            again = await ws.import_batch(root)
            assert again.unchanged and (again.rows, again.with_response) == (120, 120)
            forced = await ws.import_batch(root, force=True)
            assert not forced.unchanged and forced.changed == 0
            assert log_rows(db) == rows

            # A retry: the original's rows show each request's latest attempt; only those rows change.
            retry = await finished(ws, (await ws.retry_batch(root, ["failed"])).id)
            assert retry.request_counts.total == len(failed)
            redone = await ws.import_batch(root)
            assert redone.changed == len(failed) and redone.rows == 120
            after = log_rows(db, root.id)
            for cid, row in after.items():
                before = rows[cid]
                if before["metadata"]["status"] == "ok":
                    assert row == before
                    continue
                meta = row["metadata"]
                assert meta["batch"]["attempt"] == 2 and meta["batch"]["attempt_batch_id"] == retry.id
                assert meta["batch"]["output_file"]["id"] in (retry.output_file_id, retry.error_file_id)
                assert row["updated_at"] > before["updated_at"] and row["id"] == before["id"]
            assert sum(r["metadata"]["status"] == "ok" for r in after.values()) == (
                root.request_counts.completed + retry.request_counts.completed)

            # The retry imported on its own has its own rows, unique per (batch_id, custom_id).
            own = await ws.import_batch(retry)
            assert own.rows == retry.request_counts.total
            assert set(log_rows(db, retry.id)) == {cid for cid, r in rows.items() if r["metadata"]["status"] != "ok"}
            assert len(log_rows(db, root.id)) == 120

            # The issue's query, verbatim, and the example queries.
            found = run_readonly_query(db, ISSUE_QUERY)
            assert len(found.rows) == 120 + retry.request_counts.total
            assert {value for _, value in found.rows} == {0.3}
            assert {cid for cid, _ in found.rows} == set(rows)
            results = {title: run_readonly_query(db, sql) for title, sql in EXAMPLE_QUERIES}
            prompts = results["Failed requests with their prompts"]
            assert prompts.columns[-1] == "prompt" and prompts.rows
            assert all(row[-1].startswith("Tell person-") and row[2] for row in prompts.rows)
            by_model = dict((row[0], row) for row in results["Token use and cost by model"].rows)
            assert by_model["gpt-4o-mini-2024-07-18"][1] == sum(  # each batch's rows: the root's show the retry's
                r["metadata"]["status"] == "ok" for b in (root, retry) for r in log_rows(db, b.id).values())


@pytest.mark.parametrize(("how", "status", "code"), [("cancel", "cancelled", "batch_cancelled"),
                                                     ("expire", "expired", "batch_expired")])
async def test_rows_while_running_then_a_stopped_batch(how, status, code, fresh_sandbox, sandbox_profile, tmp_path):
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "cache") as ws:
        uploaded = await ws.upload(people(tmp_path, 4000))
        batch = await ws.start_batch(uploaded.id, "/v1/chat/completions")
        while batch.status != "in_progress" or batch.request_counts.completed < 50:
            assert batch.status in ACTIVE_STATUSES, f"the batch ended before the test could stop it: {batch.status}"
            await asyncio.sleep(0.01)
            batch = await ws.fetch_batch(batch.id)
        running = await ws.import_batch(batch)
        assert (running.rows, running.with_response, running.unchanged) == (4000, 0, False)
        statuses = {r["metadata"]["status"] for r in log_rows(ws.cache.path).values()}
        assert statuses == {"pending"}

        if how == "cancel":
            await ws.cancel_batch(batch.id)
        else:
            fresh_sandbox.expire_now(batch.id)
        batch = await finished(ws, batch.id)
        assert batch.status == status
        done = await ws.import_batch(batch)
        completed = batch.request_counts.completed
        assert (done.rows, done.with_response) == (4000, completed) and 50 <= completed < 4000
        rows = log_rows(ws.cache.path)
        stopped = [r for r in rows.values() if r["metadata"]["status"] == status]
        assert len(stopped) == 4000 - completed
        for row in stopped:
            meta = row["metadata"]
            assert row["response"] is None and meta["error"]["code"] == code and meta["cost_note"] == "no response"
            assert meta["batch"]["output_file"] == {"id": batch.error_file_id} and meta["batch"]["status"] == status
        assert sum(r["response"] is not None for r in rows.values()) == completed


async def test_a_batch_that_failed_validation(sandbox_profile, tmp_path):
    records = [request(f"person-{i}") for i in range(5)]
    records[2] = request("person-2", url="/v1/embeddings")
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "cache") as ws:
        uploaded = await ws.upload(write_lines(tmp_path / "bad.jsonl", records))
        batch = await finished(ws, (await ws.start_batch(uploaded.id, "/v1/chat/completions")).id)
        assert batch.status == "failed" and batch.errors.data[0].line == 3
        result = await ws.import_batch(batch)
        assert (result.rows, result.with_response, result.skipped) == (5, 0, 0)
        rows = log_rows(ws.cache.path)
    assert {r["metadata"]["status"] for r in rows.values()} == {"no_result"}
    assert all(r["response"] is None and r["metadata"]["batch"]["output_file"] is None for r in rows.values())
    assert rows["person-2"]["metadata"]["error"]["code"] == "invalid_url"
    assert rows["person-2"]["metadata"]["error"]["line"] == 3
    assert [cid for cid, r in rows.items() if r["metadata"]["error"]] == ["person-2"]


async def test_costs_at_batch_prices_and_a_model_without_a_price(tmp_path):
    with SandboxServer(SandboxConfig(speed=1000, models=("acme-llm-1",))) as server:  # a model it serves, unpriced
        profile = Profile(name="t", base_url=server.base_url, api_key="sk-test")
        async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
            batches = []
            for model in ("gpt-4o-mini", "acme-llm-1"):
                uploaded = await ws.upload(people(tmp_path, 40, model=model, name=f"{model}.jsonl"))
                batch = await finished(ws, (await ws.start_batch(uploaded.id, "/v1/chat/completions")).id)
                await ws.import_batch(batch)
                batches.append(batch)
            known, unknown = (log_rows(ws.cache.path, b.id) for b in batches)
    at = datetime.fromtimestamp(batches[0].created_at, UTC)
    cached_seen = 0
    for row in known.values():
        usage = row["response"]["body"]["usage"]
        cached = usage.get("prompt_tokens_details", {}).get("cached_tokens", 0)
        cached_seen += cached
        cost = price_of("gpt-4o-mini-2024-07-18", usage["prompt_tokens"], usage["completion_tokens"], cached, at=at)
        meta = row["metadata"]
        assert meta["cost"] == {
            "input_cost": float(cost.input_usd + cost.cached_usd), "output_cost": float(cost.output_usd),
            "total_cost": float(cost.total_usd), "input_cost_cents": float((cost.input_usd + cost.cached_usd) * 100),
            "output_cost_cents": float(cost.output_usd * 100), "total_cost_cents": float(cost.total_usd * 100),
        }
        assert meta["usage"] == {
            "prompt_tokens": usage["prompt_tokens"], "completion_tokens": usage["completion_tokens"],
            "total_tokens": usage["total_tokens"], "cached_tokens": cached, "model": "gpt-4o-mini-2024-07-18"}
    for row in unknown.values():
        meta = row["metadata"]
        assert meta["model"] == "acme-llm-1" and meta["usage"]["total_tokens"] > 0
        assert meta["cost"] is None and meta["cost_note"] == "no price for acme-llm-1"


def batch_of(batch_id: str, status: str = "completed", **fields) -> Batch:
    return Batch.from_dict({
        "id": batch_id, "object": "batch", "endpoint": "/v1/responses", "input_file_id": "file-in",
        "completion_window": "24h", "status": status, "created_at": 1_760_000_000, **fields})


def answer(cid: str, model: str, prompt: int, completion: int, cached: int) -> dict:
    usage = {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion,
             "input_tokens_details": {"cached_tokens": cached}}
    body = {"object": "response", "model": model, "output": [
        {"type": "message", "content": [{"type": "output_text", "text": f"A refund for {cid}."}]}], "usage": usage}
    return {"id": f"batch_req_{cid}", "custom_id": cid, "response": {"status_code": 200, "request_id": "req_1",
                                                                     "body": body}, "error": None}


async def fresh_db(path: Path) -> Path:
    await (await Cache.open(path)).close()
    return path


async def test_responses_usage_tiered_prices_and_odd_lines(tmp_path):
    db = await fresh_db(tmp_path / "cache.db")
    usages = {"small": (1_000, 200, 300), "long": (300_000, 500, 0), "plain": (5_000, 50, 0)}
    inputs = [{"custom_id": cid, "method": "POST", "url": "/v1/responses", "body": {"model": "gpt-5.4", "input": cid}}
              for cid in usages]
    files = ResultFiles(
        input=tmp_path / "in.jsonl", output=write_lines(tmp_path / "out.jsonl", (
            answer(cid, "gpt-5.4", *numbers) for cid, numbers in usages.items())))
    (tmp_path / "in.jsonl").write_bytes(
        b"".join(orjson.dumps(r) + b"\n" for r in inputs) + b'{"custom_id": "small", "method": "POST"}\n'
        + b"not json at all\n")
    batch = batch_of("batch_r", output_file_id="file-out")
    result = import_rows(db, LogSource(batch, files))
    assert (result.rows, result.with_response, result.skipped) == (3, 3, 2)
    rows = log_rows(db)
    at = datetime.fromtimestamp(batch.created_at, UTC)
    for cid, (prompt, completion, cached) in usages.items():
        cost = price_of("gpt-5.4", prompt, completion, cached, at=at)
        meta = rows[cid]["metadata"]
        assert meta["cost"]["total_cost"] == float(cost.total_usd) and meta["usage"]["cached_tokens"] == cached
        assert meta["usage"]["prompt_tokens"] == prompt and meta["usage"]["completion_tokens"] == completion
    long_rate = rows["long"]["metadata"]["cost"]["input_cost"] / 300_000
    assert long_rate > 1.5 * rows["plain"]["metadata"]["cost"]["input_cost"] / 5_000  # past the 272k tier
    answers = run_readonly_query(db, dict(EXAMPLE_QUERIES)["Answers that mention a word ('refund')"])
    assert sorted(row[1:] for row in answers.rows) == sorted((cid, f"A refund for {cid}.") for cid in usages)


async def test_an_interrupted_import_leaves_the_rows_as_they_were(tmp_path):
    db = await fresh_db(tmp_path / "cache.db")
    count = 2_500
    inputs = write_lines(tmp_path / "in.jsonl", (request(f"person-{i}") for i in range(count)))
    outputs = write_lines(tmp_path / "out.jsonl", (answer(f"person-{i}", "gpt-4o-mini", 10, 5, 0)
                                                   for i in range(count)))
    running = batch_of("batch_i", "in_progress")
    assert import_rows(db, LogSource(running, ResultFiles(input=inputs))).rows == count
    before, mark = log_rows(db), last_import(db, "batch_i")
    done = batch_of("batch_i", output_file_id="file-out")
    source = LogSource(done, ResultFiles(input=inputs, output=outputs))

    reported = [0]  # cancelled once rows past the first thousand have gone to SQLite
    with pytest.raises(ImportCancelled):
        import_rows(db, source, progress=lambda d, t: reported.append(d), cancelled=lambda: reported[-1] > 0)
    assert len(reported) == 3 and log_rows(db) == before and last_import(db, "batch_i") == mark

    loop = asyncio.get_running_loop()
    task: asyncio.Task | None = None

    def cancel_midway(done_bytes: int, total: int) -> None:
        if done_bytes and not getattr(cancel_midway, "fired", False):
            cancel_midway.fired = True
            loop.call_soon_threadsafe(task.cancel)
            time.sleep(0.5)  # the event loop sees the cancel and stops the import at its next check

    async with await Cache.open(db) as cache:
        task = asyncio.ensure_future(import_batch(cache, source, progress=cancel_midway))
        with pytest.raises(asyncio.CancelledError):
            await task
    assert log_rows(db) == before

    seen: list[tuple[int, int]] = []
    result = import_rows(db, source, progress=lambda d, t: seen.append((d, t)))
    assert (result.rows, result.with_response, result.changed) == (count, count, count)
    total = sum(p.stat().st_size for p in (inputs, outputs))
    assert seen[-1] == (total, total) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    after = log_rows(db)
    assert all(after[c]["id"] == before[c]["id"] and after[c]["response"]["status_code"] == 200 for c in before)


PRICE = st.decimals(min_value=Decimal("1e-12"), max_value=Decimal(100), places=12)


@given(st.tuples(PRICE, PRICE, PRICE), st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9))
def test_cost_in_whole_units_gives_the_floats_of_exact_decimal_arithmetic(rates, prompt, completion, cached):
    """The import prices 50,000 rows with ints; each figure must be the float that Decimal arithmetic gives."""
    cached = min(cached, prompt)
    units, scale = _units(*(rate / 1_000_000 for rate in rates))
    got = _cost_fields((prompt - cached) * units[0] + cached * units[1], completion * units[2], scale)
    per_token = [rate / 1_000_000 for rate in rates]
    input_usd, output_usd = (prompt - cached) * per_token[0] + cached * per_token[1], completion * per_token[2]
    assert got == {
        "input_cost": float(input_usd), "output_cost": float(output_usd), "total_cost": float(input_usd + output_usd),
        "input_cost_cents": float(input_usd * 100), "output_cost_cents": float(output_usd * 100),
        "total_cost_cents": float((input_usd + output_usd) * 100),
    }


CUSTOM_ID = st.one_of(
    st.text(min_size=1, max_size=20),
    st.text(st.sampled_from("\x00\n\"\\\u2028\x1b\U0010ffff a"), min_size=1, max_size=8),
    st.text(min_size=1, max_size=3).map(lambda part: (part * 10_240)[:10_240]),
)
LONE_SURROGATE = st.sampled_from(["\\ud800", "x\\udfff", "\\udbff\\u0041"])


def failure(cid: str) -> dict:
    body = {"error": {"message": "bad", "type": "invalid_request_error", "code": "invalid_value"}}
    return {"id": f"batch_req_{len(cid)}", "custom_id": cid, "response": {"status_code": 400, "request_id": "r",
                                                                          "body": body}, "error": None}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(CUSTOM_ID, st.booleans()), min_size=1, max_size=15, unique_by=lambda pair: pair[0]),
       st.lists(LONE_SURROGATE, max_size=2))
def test_every_request_is_a_row_whatever_its_custom_id(requests, unreadable):
    """Any custom_id (NUL, line breaks, quotes, 10 KB long) is one row holding it exactly, through the batch's own
    results and a retry's; a custom_id JSON cannot carry as text (a lone surrogate) is counted as skipped."""
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        db = asyncio.run(fresh_db(tmp / "cache.db"))
        ids = [cid for cid, _ in requests]
        failed = [cid for cid, fails in requests if fails]
        inputs = write_lines(tmp / "in.jsonl", (request(cid) for cid in ids))
        with inputs.open("ab") as file:
            file.writelines(b'{"custom_id": "%s", "method": "POST", "url": "/v1/responses", "body": {}}\n'
                            % escape.encode() for escape in unreadable)
        files = ResultFiles(
            input=inputs,
            output=write_lines(tmp / "out.jsonl", (answer(cid, "gpt-5.4", 5, 5, 0) for cid, fails in requests
                                                   if not fails)),
            errors=write_lines(tmp / "err.jsonl", map(failure, failed)),
            retries=(ResultFiles(output=write_lines(tmp / "retry.jsonl",
                                                    (answer(cid, "gpt-5.4", 7, 7, 0) for cid in failed))),),
        )
        retry = batch_of("batch_r", output_file_id="file-r-out")
        source = LogSource(batch_of("batch_p", output_file_id="file-out", error_file_id="file-err"), files,
                           retries=(retry,))
        for force in (False, True):
            result = import_rows(db, source, force=force)
            assert (result.rows, result.with_response, result.skipped) == (len(ids), len(ids), len(unreadable))
            with contextlib.closing(sqlite3.connect(db)) as conn:
                stored = conn.execute("SELECT custom_id, metadata FROM llm_log_rows WHERE batch_id = 'batch_p'")
                rows = {cid: json.loads(meta) for cid, meta in stored}
            assert sorted(rows) == sorted(ids)
            assert all(meta["batch"]["custom_id"] == cid for cid, meta in rows.items())
            assert {cid for cid, meta in rows.items() if meta["batch"]["attempt"] == 2} == set(failed)


async def test_an_import_on_a_full_disk_fails_in_one_line_and_leaves_the_cache_whole(tmp_path):
    """A disk that fills up mid-import: one line naming the cache file, and the cache as it was (no row of the
    failed batch, the other batch's rows untouched); once there is room again, the same import goes through."""
    with tmpfs(tmp_path / "disk", size="8m") as disk:
        db = await fresh_db(disk / "cache.db")
        small = import_rows(db, LogSource(batch_of("batch_small", "in_progress"), ResultFiles(input=people(
            tmp_path, 20, name="small.jsonl"))))
        before = log_rows(db)
        free = os.statvfs(disk)
        ballast = disk / "ballast"
        ballast.write_bytes(b"\0" * (free.f_bavail * free.f_frsize - 1_000_000))  # leaves 1 MB
        inputs = write_lines(tmp_path / "big.jsonl", ({**request(f"big-{i}"), "pad": "x" * 2_000}
                                                      for i in range(1_000)))
        big = LogSource(batch_of("batch_big", "in_progress"), ResultFiles(input=inputs))
        with pytest.raises(CacheError) as info:
            import_rows(db, big)
        assert str(info.value).startswith(f"{db}: the disk is full (database or disk is full)")
        assert "\n" not in str(info.value)
        assert integrity(db) == "ok" and log_rows(db) == before and small.rows == len(before) == 20
        assert last_import(db, "batch_big") is None

        ballast.unlink()
        assert import_rows(db, big).rows == 1_000 and integrity(db) == "ok"
        assert len(log_rows(db)) == 1_020


async def test_an_import_into_a_damaged_table_fails_in_one_line(tmp_path):
    db = await fresh_db(tmp_path / "cache.db")
    import_rows(db, LogSource(batch_of("batch_a", "in_progress"), ResultFiles(input=people(tmp_path, 50))))
    damage_llm_log_rows(db)
    async with await Cache.open(db):  # the open checks the small tables only: 400 MB of rows take seconds
        pass
    with pytest.raises(CacheError) as info:
        import_rows(db, LogSource(batch_of("batch_b", "in_progress"), ResultFiles(input=people(tmp_path, 5))))
    assert str(info.value) == (f"{db}: the cache file is damaged (database disk image is malformed); move it aside "
                               "and batchtui starts a new one, filled from the API")


async def test_finished_batches_fill_llm_logs_a_bounded_amount_at_a_time(sandbox_profile, tmp_path):
    """What the app does after each sync pass: finished batches never imported are imported oldest first until
    their requests reach the budget (a bigger batch still goes alone), then the next call goes on; a batch whose
    import fails is named once and not tried again; results fetched to a folder of the user's fill llm_logs too."""
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "cache") as ws:
        made = []
        for n, count in enumerate((30, 20, 25)):
            uploaded = await ws.upload(people(tmp_path, count, name=f"p{n}.jsonl"))
            made.append(await finished(ws, (await ws.start_batch(uploaded.id, "/v1/chat/completions")).id))
            await asyncio.sleep(1.1)  # distinct created_at seconds: "oldest first" is then well defined
        await ws.refresh()
        first = await ws.log_finished(budget=50)
        assert [r.batch_id for r in first.imported] == [made[0].id, made[1].id] and first.left == 1
        assert [(r.rows, r.with_response) for r in first.imported] == [(30, 30), (20, 20)]
        second = await ws.log_finished(budget=10)  # over budget on its own: imported alone all the same
        assert [r.batch_id for r in second.imported] == [made[2].id] and second.left == 0
        assert (await ws.log_finished()).imported == []
        with sqlite3.connect(ws.cache.path) as conn:
            assert conn.execute("SELECT count(*), count(response) FROM llm_logs").fetchone() == (75, 75)

        gone = await finished(ws, (await ws.start_batch(
            (await ws.upload(people(tmp_path, 5, name="gone.jsonl"))).id, "/v1/chat/completions")).id)
        await ws.service.delete_file(gone.output_file_id)
        await ws.refresh()
        broken = await ws.log_finished()
        assert broken.imported == [] and [batch_id for batch_id, _ in broken.failed] == [gone.id]
        assert (await ws.log_finished()).failed == []  # named once

        elsewhere = await finished(ws, (await ws.start_batch(
            (await ws.upload(people(tmp_path, 7, name="own.jsonl"))).id, "/v1/chat/completions")).id)
        downloaded = {f.kind: f.path for f in await ws.fetch_results(elsewhere, tmp_path / "mine")}
        result = await ws.import_batch(elsewhere, files=ResultFiles(output=downloaded["output"]))
        assert (result.rows, result.with_response) == (7, 7)
        assert all(row["request"] for row in log_rows(ws.cache.path, elsewhere.id).values())

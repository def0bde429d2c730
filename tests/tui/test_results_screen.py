"""The result viewer through Pilot: batches from the sandbox (completed, expired, cancelled, failing lines),
local files with hostile and broken lines, filters, search, copy of each kind, export, and snapshots."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import shlex
import time
from dataclasses import replace
from pathlib import Path

import orjson
import pyperclip
import pytest
from pilot_helpers import Notes, export_from_viewer, open_detail, wait_until

from batchtui.core.config import Profile
from batchtui.core.domain import ACTIVE_STATUSES
from batchtui.core.errors import NotFoundError
from batchtui.core.results.index import ResultFiles
from batchtui.core.results.records import answer_text, prompt_text
from batchtui.core.workspace import Workspace
from batchtui.sandbox import SandboxConfig, SandboxServer
from batchtui.tui import clipboard
from batchtui.tui.app import BatchtuiApp
from batchtui.tui.screens.confirm import ConfirmScreen
from batchtui.tui.screens.results import BatchResults, ResultsScreen
from batchtui.tui.viewer_app import ViewerApp
from batchtui.tui.widgets.result_detail import ResultDetail, detail_renderable
from batchtui.tui.widgets.result_list import ResultList

HOSTILE = ("[bold red]not markup[/] [link=https://x]y[/link] \x1b[2J\x1b]52;c;cHduZWQ=\x07 \u202eevil "
           "\u05e9\u05dc\u05d5\u05dd \x00")
QUOTING = "it's $HOME `id` \"q\"\nnext"
NOW = 1_763_200_000.0


def chat_lines(count: int, prefix: str = "row", model: str = "gpt-4o-mini") -> str:
    return "".join(
        json.dumps({"custom_id": f"{prefix}-{i}", "method": "POST", "url": "/v1/chat/completions",
                    "body": {"model": model, "messages": [{"role": "system", "content": "Be brief."},
                                                          {"role": "user", "content": f"Summarise item {i}."}]}})
        + "\n"
        for i in range(count)
    )


async def start(ws: Workspace, content: str, path: Path, endpoint: str = "/v1/chat/completions"):
    path.write_text(content)
    uploaded = await ws.upload(path)
    return await ws.start_batch(uploaded.id, endpoint)


async def wait_running(ws: Workspace, batch_id: str, done: int) -> None:
    """Until the batch runs with `done` requests done (Workspace.wait_for waits for its end, this for its middle)."""
    while True:
        batch = await ws.fetch_batch(batch_id)
        if batch.status == "in_progress" and batch.request_counts and batch.request_counts.completed >= done:
            return
        assert batch.status in ACTIVE_STATUSES, f"{batch_id} ended {batch.status} before {done} requests were done"
        await asyncio.sleep(0.05)


async def open_results(pilot, batch_id: str) -> ResultsScreen:
    pilot.app.push_screen(ResultsScreen(BatchResults(batch_id), batch_id))
    return await indexed(pilot)


async def indexed(pilot) -> ResultsScreen:
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ResultsScreen), "viewer shown")
    screen = pilot.app.screen
    await wait_until(pilot, lambda: screen.index is not None and screen.index.complete, "index built", tries=600)
    await pilot.pause()
    return screen


def detail_text(screen: ResultsScreen) -> str:
    from rich.console import Console

    listing = screen.query_one(ResultList)
    console = Console(width=120, color_system=None, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(detail_renderable(screen.index, listing.cursor_row, screen.query_one(ResultDetail).raw))
    return console.export_text()


def shown_rows(screen: ResultsScreen) -> list[str]:
    listing = screen.query_one(ResultList)
    return [listing.render_line(y).text for y in range(1, listing.scrollable_content_region.height)]


async def test_completed_batch_joins_each_request_with_its_response(sandbox_profile, tmp_path, fresh_sandbox):
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        batch = await start(ws, chat_lines(300), tmp_path / "in.jsonl")
        assert (await ws.wait_for(batch.id, 1)).status == "completed"
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, batch.id)
        await pilot.press("o")
        screen = await indexed(pilot)
        index = screen.index
        assert len(index) == 300 and len(screen.query_one(ResultList).rows) == 300
        output_lines = [index.line_number(row, "output") for row in range(300)]
        assert output_lines != sorted(output_lines)  # the sandbox shuffles, as OpenAI does
        for row in range(300):
            assert index.custom_id(row) == f"row-{row}"
            assert f"item {row}." in answer_text(index.output_line(row)).lower()
            assert prompt_text(index.input_line(row)).endswith(f"Summarise item {row}.")
        text = detail_text(screen)
        assert "row-0" in text and "Summarise item 0." in text and "assistant:" in text
        assert "finish_reason stop" in text and "total_tokens" in text and "at batch prices" in text
        await pilot.press("t")
        raw = detail_text(screen)
        assert '"custom_id": "row-0"' in raw and '"status_code": 200' in raw
        await pilot.press("escape")
        downloads = fresh_sandbox.stats().get("files.content", 0)
        assert downloads == 2  # input and output
        await pilot.press("o")  # a second open reads the cache: no download
        await indexed(pilot)
        assert fresh_sandbox.stats().get("files.content", 0) == downloads


async def test_expired_batch_shows_finished_and_expired_requests(sandbox_profile, tmp_path, fresh_sandbox):
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        batch = await start(ws, chat_lines(4000), tmp_path / "in.jsonl")
        await wait_running(ws, batch.id, done=50)
        fresh_sandbox.expire_now(batch.id)
        expired = await ws.wait_for(batch.id, 1)
    assert expired.status == "expired"
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_results(pilot, batch.id)
        assert len(screen.index) == 4000
        await pilot.press("4")
        stopped = screen.query_one(ResultList).rows
        assert len(stopped) == 4000 - expired.request_counts.completed
        assert {screen.index.status_label(row) for row in stopped} == {"batch_expired"}
        assert "batch_expired" in detail_text(screen)
        await pilot.press("2")
        assert len(screen.query_one(ResultList).rows) == expired.request_counts.completed


async def test_cancelled_batch_shows_cancelled_requests(sandbox_profile, tmp_path):
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        batch = await start(ws, chat_lines(4000), tmp_path / "in.jsonl")
        await wait_running(ws, batch.id, done=50)
        await ws.cancel_batch(batch.id)
        cancelled = await ws.wait_for(batch.id, 1)
    assert cancelled.status == "cancelled"
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_results(pilot, batch.id)
        await pilot.press("4")
        rows = screen.query_one(ResultList).rows
        assert len(rows) == 4000 - cancelled.request_counts.completed
        assert {screen.index.status_label(row) for row in rows} == {"batch_cancelled"}


@pytest.fixture
def failing_profile():
    with SandboxServer(SandboxConfig(speed=1000, fail_rate=0.3)) as server:
        yield Profile(name="failing", base_url=server.base_url, api_key="sk-test")


async def test_filters_next_failure_and_search(failing_profile, tmp_path):
    async with await Workspace.open(failing_profile, cache_dir=tmp_path / "setup") as ws:
        batch = await start(ws, chat_lines(60), tmp_path / "in.jsonl")
        done = await ws.wait_for(batch.id, 1)
    assert done.status == "completed"
    failed = done.request_counts.failed
    assert 0 < failed < 60
    app = BatchtuiApp(failing_profile, cache_dir=tmp_path / "app")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_results(pilot, batch.id)
        listing = screen.query_one(ResultList)
        await pilot.press("3")
        assert len(listing.rows) == failed
        assert all(screen.index.status_label(row) in {"400", "500"} for row in listing.rows)
        assert any(word in detail_text(screen) for word in ("invalid_request_error", "server_error", "400", "500"))
        await pilot.press("1")
        assert len(listing.rows) == 60
        assert screen.index.status_label(listing.cursor_row) in {"400", "500"}  # the cursor stayed on its request
        await pilot.press("home", "n")
        assert screen.index.status_label(listing.cursor_row) in {"400", "500"}
        first_failure = listing.cursor_row
        assert all(screen.index.status_label(row) == "ok" for row in range(1, first_failure))
        await pilot.press("slash")
        await pilot.press(*"item 17.", "enter")
        await wait_until(pilot, lambda: screen.hits is not None and not screen.searching, "search done")
        assert [screen.index.custom_id(row) for row in listing.rows] == ["row-17"]
        await pilot.press("escape")
        assert len(listing.rows) == 60 and screen.hits is None
        await pilot.press("slash")
        await pilot.press(*"ROW-5", "enter")  # custom_id, any case
        await wait_until(pilot, lambda: screen.hits is not None and not screen.searching, "search done")
        assert {screen.index.custom_id(row) for row in listing.rows} == {"row-5"} | {f"row-5{i}" for i in range(10)}


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def hostile_files(tmp_path: Path) -> ResultFiles:
    """Requests whose text holds markup, escapes, bidi controls and NULs, a 1 MB line, and broken lines."""
    def request(cid: str, text: str) -> bytes:
        return orjson.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions",
                             "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}})

    def response(cid: str, text: str) -> bytes:
        body = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}
        return orjson.dumps({"id": f"batch_req_{cid}", "custom_id": cid,
                             "response": {"status_code": 200, "request_id": "req_1", "body": body}, "error": None})

    inputs = [request("hostile", HOSTILE), request("huge", "x" * 1_000_000), request("quoting", QUOTING),
              b"this is not json", b'{"custom_id": "bad-utf8", "method": "POST", "body": "\xff\xfe"}']
    outputs = [response("quoting", "fine"), response("hostile", HOSTILE), response("huge", "y" * 1_000_000),
               b'{"no_custom_id": true}']
    return ResultFiles(input=write_lines(tmp_path / "in.jsonl", inputs),
                       output=write_lines(tmp_path / "out.jsonl", outputs))


async def test_hostile_and_broken_lines_render_literally(tmp_path):
    files = hostile_files(tmp_path)
    app = ViewerApp(files, Profile(name="local"))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await indexed(pilot)
        listing = screen.query_one(ResultList)
        labels = [screen.index.status_label(row) for row in listing.rows]
        assert labels.count("unreadable") == 2
        painted = "\n".join(shown_rows(screen))
        assert "\x1b" not in painted and "\x00" not in painted and "\u202e" not in painted
        assert "[bold red]not markup[/]" in painted
        assert "\\x1b[2J\\x1b]52;c;cHduZWQ=\\x07 \\u202eevil" in detail_text(screen)
        # the custom_id column is as wide as the widest label, "output line 4"
        assert "input line 4  unreadable" in painted and "output line 4 unreadable" in painted
        for _ in listing.rows:
            text = detail_text(screen)
            assert "\x1b" not in text and "\x00" not in text and "\u202e" not in text
            await pilot.press("t")
            assert "\x1b" not in detail_text(screen)
            await pilot.press("t", "down")
        svg = app.export_screenshot()
        assert "\x1b" not in svg


async def test_copy_each_kind_and_curl_replays_the_request_safely(tmp_path, copied):
    files = hostile_files(tmp_path)
    app = ViewerApp(files, Profile(name="local", base_url="http://127.0.0.1:9/v1", api_key="sk-secret-key"))
    heard = Notes()
    async with app.run_test(message_hook=heard.hear, size=(100, 30)) as pilot:
        screen = await indexed(pilot)
        screen.query_one(ResultList).move_to_row(2)  # "quoting"
        await pilot.press("y", "p", "a", "P", "A", "C")
        await app.workers.wait_for_complete()
        custom_id, prompt, answer, request, response, curl = copied
        assert (custom_id, prompt, answer) == ("quoting", QUOTING, "fine")
        assert orjson.loads(request)["custom_id"] == "quoting" and orjson.loads(response)["custom_id"] == "quoting"
        assert "$OPENAI_API_KEY" in curl and "sk-secret-key" not in curl
        words = shlex.split(curl)
        body = words[words.index("-d") + 1]
        assert orjson.loads(body)["messages"][0]["content"] == QUOTING
        assert "http://127.0.0.1:9/v1/chat/completions" in words
        assert "Copied curl command to the clipboard." in heard.messages
        await pilot.press("c")  # the copy menu: the same keys, for a footer too narrow to list them
        await wait_until(pilot, lambda: app.screen is not screen, "copy menu shown")
        await pilot.press("a")
        await app.workers.wait_for_complete()
        assert copied[-1] == "fine" and app.screen is screen


async def test_copy_falls_back_to_osc52(tmp_path, monkeypatch):
    def no_clipboard(text: str) -> None:
        raise pyperclip.PyperclipException("no clipboard here")

    monkeypatch.setattr(clipboard.pyperclip, "copy", no_clipboard)
    app = ViewerApp(hostile_files(tmp_path), Profile(name="local"))
    heard = Notes()
    async with app.run_test(message_hook=heard.hear, size=(100, 30)) as pilot:
        await indexed(pilot)
        await pilot.press("y")
        await app.workers.wait_for_complete()
        assert app.clipboard == "hostile"
        assert "Copied custom_id to the terminal clipboard (OSC 52)." in heard.messages


async def test_export_csv_and_jsonl_read_back(tmp_path):
    app = ViewerApp(hostile_files(tmp_path), Profile(name="local"))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await indexed(pilot)
        for name in ("rows.csv", "rows.jsonl"):
            await pilot.press("e")
            await wait_until(pilot, lambda: app.screen is not screen, "export asks where")
            box = app.screen.query_one("Input")
            box.value = str(tmp_path / name)
            await pilot.press("enter")
            await wait_until(pilot, lambda dest=tmp_path / name: dest.exists(), f"{name} written")
            await app.workers.wait_for_complete()
        csv.field_size_limit(2_000_000)  # the 1 MB prompt is one field
        with (tmp_path / "rows.csv").open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert [row["custom_id"] for row in rows[:3]] == ["hostile", "huge", "quoting"]
        assert rows[0]["prompt"] == HOSTILE and rows[0]["answer"] == HOSTILE
        assert rows[2]["prompt"] == QUOTING
        lines = (tmp_path / "rows.jsonl").read_bytes().splitlines()
        assert len(lines) == len(rows) == len(screen.index)
        assert orjson.loads(lines[2])["response"]["custom_id"] == "quoting"
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


async def test_validation_error_opens_the_input_at_its_line(sandbox_profile, tmp_path):
    lines = chat_lines(5).splitlines()
    lines[2] = lines[2].replace("gpt-4o-mini", "gpt-4o")  # mismatched_model on line 3
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        batch = await start(ws, "\n".join(lines) + "\n", tmp_path / "in.jsonl")
        failed = await ws.wait_for(batch.id, 1)
    assert failed.errors.data[0].line == 3
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_detail(pilot, batch.id)
        await pilot.press("l")
        screen = await indexed(pilot)
        await wait_until(pilot, lambda: screen.query_one(ResultList).cursor_row == 2, "cursor on line 3")
        assert screen.index.status_label(2) == "not run"  # the batch failed validation: nothing ran, nothing will
        assert "row-2" in detail_text(screen)


@pytest.mark.parametrize(("endpoint", "body", "expected"), [
    ("/v1/embeddings", {"model": "text-embedding-3-small", "input": "hello world"}, "dimensions"),
    ("/v1/responses", {"model": "gpt-4o-mini", "input": "Summarise item 3."}, "item 3"),
    ("/v1/moderations", {"model": "omni-moderation-latest", "input": "hello"}, "flagged"),
    ("/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "Summarise item 4."}, "item 4"),
])
async def test_each_endpoint_renders(sandbox_profile, tmp_path, endpoint, body, expected):
    line = json.dumps({"custom_id": "one", "method": "POST", "url": endpoint, "body": body}) + "\n"
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        batch = await start(ws, line, tmp_path / "in.jsonl", endpoint)
        assert (await ws.wait_for(batch.id, 1)).status == "completed"
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_results(pilot, batch.id)
        assert screen.index.status_label(0) == "ok"
        assert expected in detail_text(screen).lower()


def test_snapshot_viewer(snap_compare, tmp_path, utc):
    (tmp_path / "view").mkdir()
    files = hostile_files(tmp_path / "view")

    async def ready(pilot) -> None:
        await indexed(pilot)

    app = ViewerApp(files, Profile(name="local"), clock=lambda: NOW)
    assert snap_compare(app, terminal_size=(100, 30), run_before=ready)


def test_snapshot_viewer_80x24_failed_filter(snap_compare, tmp_path, utc):
    (tmp_path / "view").mkdir()
    files = hostile_files(tmp_path / "view")

    async def ready(pilot) -> None:
        await indexed(pilot)
        await pilot.press("3", "t")

    app = ViewerApp(files, Profile(name="local"), clock=lambda: NOW)
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)


async def test_retry_from_the_detail_and_the_viewer_shows_latest_attempts(tmp_path):
    from batchtui.tui.screens.batch_detail import BatchDetailScreen
    from batchtui.tui.screens.retry import RetryScreen

    with SandboxServer(SandboxConfig(speed=1000, fail_rate=0.4)) as server:
        profile = Profile(name="t", base_url=server.base_url, api_key="sk-test")
        async with await Workspace.open(profile, cache_dir=tmp_path / "setup") as ws:
            root = await ws.wait_for((await start(ws, chat_lines(60), tmp_path / "in.jsonl")).id, 1)
        failed = root.request_counts.failed
        assert failed > 0
        app = BatchtuiApp(profile, cache_dir=tmp_path / "app")
        async with app.run_test(size=(120, 40)) as pilot:
            await open_detail(pilot, root.id)
            await pilot.press("R")
            await wait_until(pilot, lambda: isinstance(app.screen, RetryScreen), "the retry modal")
            modal = app.screen
            await wait_until(pilot, lambda: modal.preview is not None, "the requests counted")
            sends = str(modal.query_one("#retry-sends").render())
            assert sends.startswith(f"Sends {failed} requests") and str(modal.query_one("#retry-failed").label) == (
                f"failed ({failed})")
            assert ("at this batch's average per request" in sends) == (root.usage is not None)
            await pilot.click("#retry-expired")  # untick one kind: only failed and cancelled are asked for
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, BatchDetailScreen)
                             and app.screen.batch_id != root.id and app.screen.batch is not None, "the retry's detail")
            retry = app.screen.batch
            assert retry.metadata["retry_of"] == root.id and retry.request_counts.total in (0, failed)
            async with await Workspace.open(profile, cache_dir=tmp_path / "setup") as ws:
                assert (await ws.wait_for(retry.id, 1)).status == "completed"
            await pilot.press("r")  # refresh the retry's detail, then open the first batch's results from it
            app.push_screen(ResultsScreen(BatchResults(root.id), root.id))
            screen = await indexed(pilot)
            assert [screen.index.attempt(r) for r in range(60)].count(2) == failed
            rows = shown_rows(screen)
            assert [" ×2 " in line for line in rows] == [screen.index.attempt(r) == 2 for r in range(len(rows))]
            await pilot.press("R")
            await wait_until(pilot, lambda: isinstance(app.screen, RetryScreen), "the retry modal from the viewer")
            await pilot.press("escape")
            assert isinstance(app.screen, ResultsScreen)


async def test_csv_export_of_a_made_batch_gives_the_data_back_with_answers(sandbox_profile, tmp_path):
    from batchtui.core.authoring.batch_file import make_batch_file

    example = Path(__file__).parents[2] / "examples" / "reviews"
    made = make_batch_file(example / "template.json", example / "reviews.csv", tmp_path / "reviews.jsonl")
    cache = tmp_path / "cache"  # the app's own: it remembers where the upload came from
    async with await Workspace.open(sandbox_profile, cache_dir=cache) as ws:
        uploaded = await ws.upload(made.out)
        batch = await ws.wait_for((await ws.start_batch(uploaded.id, made.endpoint)).id, 1)
    app = BatchtuiApp(sandbox_profile, cache_dir=cache)
    heard = Notes()
    async with app.run_test(message_hook=heard.hear, size=(120, 40)) as pilot:
        await open_results(pilot, batch.id)
        before, viewer = made.out.read_bytes(), app.screen  # the batch's own input: never replaced, even if asked
        await pilot.press("e")
        await wait_until(pilot, lambda: app.screen is not viewer, "export asks where")
        app.screen.query_one("Input").value = str(made.out)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "asks to replace")
        await pilot.press("y")
        await wait_until(pilot, lambda: any("is a file of the batch itself" in n for n in heard.messages), "refused")
        assert made.out.read_bytes() == before
        await export_from_viewer(pilot, tmp_path / "answers.csv")
    with (tmp_path / "answers.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with (example / "reviews.csv").open(newline="", encoding="utf-8") as handle:
        data = list(csv.DictReader(handle))
    assert list(rows[0]) == [*data[0], "status", "answer", "tokens"]
    assert [{k: row[k] for k in data[0]} for row in rows] == data
    assert all(row["status"] == "ok" and row["answer"] and int(row["tokens"]) > 0 for row in rows)


async def test_quitting_while_indexing_leaves_the_build_to_close_its_files(tmp_path, caplog):
    """Quit as soon as the first rows of a big file show: the files get closed and no error is logged on the way
    out (closing the map while the scanner reads it is tested in core's test_results)."""
    line = orjson.dumps({"id": "batch_req_x", "custom_id": "row-{}", "error": None, "response": {
        "status_code": 200, "request_id": "r", "body": {"choices": [{"message": {"content": "ok"}}]}}}).decode()
    output = tmp_path / "out.jsonl"
    output.write_text("".join(line.replace("{}", str(n)) + "\n" for n in range(300_000)))
    open_fds = len(os.listdir("/proc/self/fd"))
    app = ViewerApp(ResultFiles(output=output), Profile(name="local"))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ResultsScreen) and app.screen.index is not None,
                         "first rows")
        assert not app.screen.index.complete, "the file indexed too fast to quit during the build"
        await pilot.press("ctrl+q")
    for _ in range(200):
        if len(os.listdir("/proc/self/fd")) <= open_fds:
            break
        await asyncio.sleep(0.05)
    assert len(os.listdir("/proc/self/fd")) <= open_fds
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


async def test_a_hand_merged_output_shows_duplicates_and_json_answers_in_one_line(tmp_path):
    def result(cid: str, answer: str) -> bytes:
        choice = {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
        body = {"object": "chat.completion", "choices": [choice], "usage": {"total_tokens": 5}}
        return orjson.dumps({"custom_id": cid, "response": {"status_code": 200, "body": body}, "error": None}) + b"\n"

    merged = tmp_path / "merged.jsonl"
    merged.write_bytes(result("a", '```json\n{\n  "label": "spam"\n}\n```') + result("b", "[\n  1,\n  2\n]")
                       + result("a", "later answer"))
    app = ViewerApp(ResultFiles(output=merged), Profile(name="local"))
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await indexed(pilot)
        painted = shown_rows(screen)
        assert '{"label":"spam"}' in painted[0] and "[1,2]" in painted[1]
        assert "ok duplicate" in painted[2]
        screen.query_one(ResultList).move_to_row(2)
        await pilot.pause()
        assert "Duplicate: output line 1 has this custom_id too" in detail_text(screen)


async def test_an_open_viewer_follows_a_retry_that_finishes(tmp_path):
    """The viewer of a batch is open when a retry of it finishes: the next sync brings the retry, and the
    viewer opens the files again, so each retried request shows its latest attempt without reopening."""
    with SandboxServer(SandboxConfig(speed=1000, fail_rate=0.4)) as server:
        profile = Profile(name="t", base_url=server.base_url, api_key="sk-test")
        async with await Workspace.open(profile, cache_dir=tmp_path / "setup") as ws:
            root = await ws.wait_for((await start(ws, chat_lines(60), tmp_path / "in.jsonl")).id, 1)
        assert root.request_counts.failed > 0
        app = BatchtuiApp(profile, cache_dir=tmp_path / "app")
        heard = Notes()
        async with app.run_test(size=(120, 40), message_hook=heard.hear) as pilot:
            await wait_until(pilot, lambda: app.sync_status.state == "synced", "first sync")
            app.push_screen(ResultsScreen(BatchResults(root.id), root.id))
            screen = await indexed(pilot)
            assert all(screen.index.attempt(row) == 1 for row in range(60))
            async with await Workspace.open(profile, cache_dir=tmp_path / "setup") as ws:
                retry = await ws.retry_batch(root, ["failed"])
                await ws.wait_for(retry.id, 1)
            await pilot.press("r")  # sync: the retry arrives, finished
            await wait_until(pilot, lambda: screen.index is not None and screen.index.complete
                             and any(screen.index.attempt(row) == 2 for row in range(len(screen.index))),
                             "the latest attempts shown")
            assert [screen.index.attempt(row) for row in range(60)].count(2) == root.request_counts.failed
            assert "A retry of this batch finished: showing the latest attempts." in heard.messages


async def test_results_expired_on_the_api_open_from_the_cache_and_say_so(sandbox_profile, tmp_path):
    """A batch whose results were asked to expire after an hour: they are cached here, then the sandbox deletes
    them (its clock runs 1000 times faster; the cache's expires_at is moved an hour on to match). The viewer
    opens the cached copies and names each expired file."""
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "cache") as ws:
        path = tmp_path / "in.jsonl"
        path.write_text(chat_lines(20))
        batch = await ws.start_batch((await ws.upload(path)).id, "/v1/chat/completions",
                                     output_expires_after_seconds=3600)
        done = await ws.wait_for(batch.id, 1)
        await ws.batch_result_files(done)
        output = await ws.file_info(done.output_file_id)  # the object, as the detail shows it, in the cache
        assert output.expires_at == output.created_at + 3600
        for _ in range(100):  # 3.6 s on the sandbox's clock; 20 s at most
            try:
                await ws.service.retrieve_file(output.id)
            except NotFoundError:
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"{output.id} is still on the API")
        await ws.cache.upsert_files([replace(output, expires_at=int(time.time()) - 1)])
    heard = Notes()
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "cache")
    async with app.run_test(size=(120, 40), message_hook=heard.hear) as pilot:
        screen = await open_results(pilot, batch.id)
        assert len(screen.index) == 20
        await wait_until(pilot, lambda: any(m.startswith("Expired on the API") for m in heard.messages), "notice")
    (notice,) = [m for m in heard.messages if m.startswith("Expired on the API")]
    assert notice == f"Expired on the API: {output.filename} ({output.id}). Showing the copy cached here."

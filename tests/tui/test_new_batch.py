"""The new-batch screen through Pilot against the sandbox: a JSONL file or a template and data, the report and
preview (literal), problems that block submit until overridden, metadata input, and a snapshot."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
from pathlib import Path

import pytest
from pilot_helpers import Notes, wait_until
from rich.console import Console
from textual.widgets import Button, Checkbox, DirectoryTree, Input, Static

from batchtui.core.config import Profile
from batchtui.core.domain import ACTIVE_STATUSES
from batchtui.core.workspace import Workspace
from batchtui.tui.app import BatchtuiApp
from batchtui.tui.screens.batch_detail import BatchDetailScreen
from batchtui.tui.screens.batches import BatchesScreen
from batchtui.tui.screens.new_batch import NewBatchScreen, first_lines, parse_metadata

EXAMPLES = Path(__file__).parents[2] / "examples" / "reviews"
DEAD_URL = "http://127.0.0.1:9/v1"
NOW = 1_763_200_000.0
HOSTILE_ID = "[b]x[/]\x1b[2J"
HOSTILE_TEXT = "Summarise [red]this[/red] \x1b]52;c;cHduZWQ=\x07 now"


def request(custom_id: str, content: str = "Summarise the item.") -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                       "body": {"model": "gpt-4o-mini", "max_tokens": 50,
                                "messages": [{"role": "user", "content": content}]}}) + "\n"


def plain(widget: Static) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None, legacy_windows=False)
    console.print(widget.content)
    return console.file.getvalue()


def offline_app(tmp_path: Path) -> BatchtuiApp:
    """An app whose API cannot be reached: checking a file needs no network."""
    return BatchtuiApp(Profile(name="offline", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path / "app")


async def checked_jsonl(pilot, path: Path | str) -> NewBatchScreen:
    """The new batch screen once it has checked the JSONL file at `path`."""
    screen = await open_new_batch(pilot)
    await enter_path(pilot, screen, "#jsonl-path", path)
    await checked(pilot, screen)
    return screen


async def open_new_batch(pilot) -> NewBatchScreen:
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, BatchesScreen), "batch list shown")
    await pilot.press("n")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, NewBatchScreen), "new batch screen shown")
    return pilot.app.screen


async def enter_path(pilot, screen: NewBatchScreen, selector: str, path: Path | str) -> None:
    field = screen.query_one(selector, Input)
    field.value = str(path)
    field.focus()
    await pilot.press("enter")


async def checked(pilot, screen: NewBatchScreen) -> None:
    await wait_until(pilot, lambda: screen.checked is not None, "the file checked")
    await pilot.pause()


async def submitted(pilot) -> BatchDetailScreen:
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, BatchDetailScreen), "the new batch's detail")
    return pilot.app.screen


async def test_jsonl_file_submits_with_metadata(sandbox_profile, write_batch_file, tmp_path):
    path = write_batch_file(3)
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    heard = Notes()
    async with app.run_test(message_hook=heard.hear, size=(100, 32)) as pilot:
        screen = await open_new_batch(pilot)
        assert screen.query_one("#submit", Button).disabled
        await enter_path(pilot, screen, "#jsonl-path", path)
        await checked(pilot, screen)
        report = plain(screen.query_one("#report-body", Static))
        assert "requests.jsonl" in report and "3" in report and "gpt-4o-mini" in report
        assert "no problems found" in report
        preview = plain(screen.query_one("#preview-body", Static))
        assert "row-0" in preview and "Summarise item 0." in preview and "row-3" not in preview
        assert screen.query_one("#endpoint").value == "/v1/chat/completions"
        screen.query_one("#description", Input).value = "nightly eval"
        screen.query_one("#metadata", Input).value = "team=ml, run = 7"
        await pilot.pause()
        assert not screen.query_one("#submit", Button).disabled
        await pilot.press("ctrl+s")
        detail = await submitted(pilot)
        assert detail.batch_id in [b.id for b in app.batches]
        usage = detail.query_one("#detail-usage", Static)
        await wait_until(pilot, lambda: detail.estimate is not None and usage.display, "the estimate shown")
        assert detail.estimate == screen.checked.report.cost and "estimated" in plain(usage)
        assert f"Started {detail.batch_id} from requests.jsonl." in heard.messages
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "check") as ws:
        batch = await ws.fetch_batch(detail.batch_id)
    assert batch.metadata == {"description": "nightly eval", "team": "ml", "run": "7"}
    assert batch.endpoint == "/v1/chat/completions" and batch.completion_window == "24h"


async def test_template_and_data_picked_in_the_tree(sandbox_profile, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    for name in ("template.json", "reviews.csv"):
        shutil.copy(EXAMPLES / name, work / name)
    monkeypatch.chdir(work)
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_new_batch(pilot)
        await pilot.click("#mode-template")
        tree = screen.query_one(DirectoryTree)
        await wait_until(pilot, lambda: {n.label.plain for n in tree.root.children} == {"template.json",
                                                                                         "reviews.csv"}, "tree loaded")
        tree.focus()
        for name in ("template.json", "reviews.csv"):
            node = next(n for n in tree.root.children if n.label.plain == name)
            tree.cursor_line = node.line
            await pilot.press("enter")
        assert screen.query_one("#template-path", Input).value == "template.json"
        assert screen.query_one("#data-path", Input).value == "reviews.csv"
        assert screen.query_one("#output-path", Input).value == "reviews.batch.jsonl"
        await checked(pilot, screen)
        assert (work / "reviews.batch.jsonl").exists() and (work / "reviews.batch.manifest.json").exists()
        report = plain(screen.query_one("#report-body", Static))
        assert "from template.json and reviews.csv" in report and "no problems found" in report
        assert "Product: Trail running shoes" in plain(screen.query_one("#preview-body", Static))
        await pilot.press("ctrl+s")
        detail = await submitted(pilot)
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "check") as ws:
        batch = await ws.fetch_batch(detail.batch_id)
        made = await ws.service.retrieve_file(batch.input_file_id)
    assert batch.endpoint == "/v1/chat/completions" and made.filename == "reviews.batch.jsonl"


async def test_template_errors_are_shown(tmp_path):
    template = tmp_path / "template.json"
    template.write_text('{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "{{missing}}"}]}')
    data = tmp_path / "rows.csv"
    data.write_text("id,text\n1,hello\n")
    app = offline_app(tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_new_batch(pilot)
        await pilot.click("#mode-template")
        screen.query_one("#template-path", Input).value = str(template)
        await enter_path(pilot, screen, "#data-path", data)
        report = screen.query_one("#report-body", Static)
        await wait_until(pilot, lambda: "missing" in plain(report) and not screen.checking, "the error shown")
        assert screen.checked is None and screen.query_one("#submit", Button).disabled


async def test_problems_block_submit_until_overridden(sandbox_profile, tmp_path):
    path = tmp_path / "dup.jsonl"
    path.write_text(request("a") + request("b") + request("a"))
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    heard = Notes()
    async with app.run_test(message_hook=heard.hear, size=(80, 24)) as pilot:
        screen = await checked_jsonl(pilot, path)
        report = plain(screen.query_one("#report-body", Static))
        assert "✗ 1 problem (listed below)" in report
        assert "line 3: duplicate_custom_id: duplicate custom_id 'a'" in report
        assert screen.query_one("#submit", Button).disabled
        await pilot.press("ctrl+s")
        assert "1 problem: fix the file, or tick Submit anyway." in heard.messages
        assert isinstance(app.screen, NewBatchScreen)
        anyway = screen.query_one("#anyway", Checkbox)
        assert anyway.display
        anyway.focus()
        await pilot.press("space")
        assert anyway.value and not screen.query_one("#submit", Button).disabled
        await pilot.press("ctrl+s")
        detail = await submitted(pilot)
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "check") as ws:
        assert (await ws.fetch_batch(detail.batch_id)).endpoint == "/v1/chat/completions"


async def test_hostile_text_is_shown_literally(tmp_path):
    path = tmp_path / "hostile.jsonl"
    path.write_text(request(HOSTILE_ID, HOSTILE_TEXT) + request(HOSTILE_ID))
    app = offline_app(tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await checked_jsonl(pilot, path)
        report = plain(screen.query_one("#report-body", Static))
        preview = plain(screen.query_one("#preview-body", Static))
    assert "duplicate custom_id '[b]x[/]\\x1b[2J'" in report
    assert "[b]x[/]\\x1b[2J" in preview
    assert "Summarise [red]this[/red] \\x1b]52;c;cHduZWQ=\\x07 now" in preview
    assert "\x1b" not in report + preview and "\x07" not in preview


async def test_bad_metadata_is_shown_inline_and_blocks_submit(write_batch_file, tmp_path):
    path = write_batch_file(2)
    app = offline_app(tmp_path)
    heard = Notes()
    async with app.run_test(message_hook=heard.hear, size=(80, 24)) as pilot:
        screen = await checked_jsonl(pilot, path)
        metadata = screen.query_one("#metadata", Input)
        metadata.focus()
        await pilot.press(*"team=ml,oops")
        error = screen.query_one("#metadata-error", Static)
        assert error.display and "Metadata: 'oops' is not key=value." in plain(error)
        assert metadata.has_class("-invalid") and screen.query_one("#submit", Button).disabled
        await pilot.press("ctrl+s")
        assert "Metadata: 'oops' is not key=value." in heard.messages
        await pilot.press("equals_sign", "1")
        assert not error.display and not screen.query_one("#submit", Button).disabled
        await pilot.press("escape")
        assert isinstance(app.screen, BatchesScreen)


def test_the_metadata_field_is_comma_separated_pairs_checked_by_the_one_parser():
    """The limits themselves are tests/core/test_domain.py's; here, the field's commas and spaces."""
    assert parse_metadata(" eval ", "a=1, b = two words ,") == {"description": "eval", "a": "1", "b": "two words"}
    assert parse_metadata("", "") == {}
    with pytest.raises(ValueError, match="'a' is given twice"):
        parse_metadata("", "a=1, a=2")


def test_preview_reads_only_the_head_of_a_big_file(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_bytes(request("a").encode() + b"x" * (2 << 20) + b"\n" + request("b").encode())
    assert first_lines(path) == [request("a").encode().rstrip(b"\n")]


def test_snapshot_report_and_preview(snap_compare, tmp_path, monkeypatch, utc):
    work = tmp_path / "work"
    work.mkdir()
    (work / "evals.jsonl").write_text(request("q-1", "Which [b]planet[/b] is largest?") + request("q-2")
                                      + request("q-1", "Name a moon."))
    monkeypatch.chdir(work)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken"))  # the same token method everywhere

    async def ready(pilot) -> None:
        screen = await open_new_batch(pilot)
        tree = screen.query_one(DirectoryTree)
        await wait_until(pilot, lambda: tree.root.children, "tree loaded")
        await enter_path(pilot, screen, "#jsonl-path", "evals.jsonl")
        await checked(pilot, screen)
        screen.query_one("#description", Input).value = "planet quiz"
        screen.query_one("#metadata", Input).value = "team=ml"
        screen.query_one("#anyway", Checkbox).focus()
        await pilot.pause()

    app = BatchtuiApp(Profile(name="snapshot", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path / "app",
                      clock=lambda: NOW)
    assert snap_compare(app, terminal_size=(100, 32), run_before=ready)


async def test_another_endpoint_checks_the_file_again(write_batch_file, tmp_path):
    path = write_batch_file(2)
    app = offline_app(tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await checked_jsonl(pilot, path)
        screen.query_one("#endpoint").value = "/v1/embeddings"
        await wait_until(pilot, lambda: screen.checked is not None and not screen.checked.report.ok, "checked again")
        assert screen.checked.report.endpoint == "/v1/embeddings"
        assert screen.query_one("#endpoint").value == "/v1/embeddings"
        assert "line 1: invalid_url" in plain(screen.query_one("#report-body", Static))


async def test_picking_another_file_cancels_the_check_under_way(write_batch_file, tmp_path):
    big = write_batch_file(30_000, name="big.jsonl")
    small = write_batch_file(2, name="small.jsonl")
    app = offline_app(tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_new_batch(pilot)
        await enter_path(pilot, screen, "#jsonl-path", big)
        await enter_path(pilot, screen, "#jsonl-path", small)
        await checked(pilot, screen)
        await pilot.pause(1.0)  # time for the big file's check to land, had it not been cancelled
        assert screen.checked.source.batch_file == small and screen.checked.report.requests == 2
        assert "small.jsonl" in plain(screen.query_one("#report-body", Static))


async def test_a_failed_submit_keeps_the_form(write_batch_file, tmp_path):
    path = write_batch_file(2)
    app = offline_app(tmp_path)
    heard = Notes()
    async with app.run_test(message_hook=heard.hear, size=(100, 32)) as pilot:
        screen = await checked_jsonl(pilot, path)
        screen.query_one("#description", Input).value = "keep me"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: any(n.title == "Cannot submit" for n in heard.shown), "the error")
        assert isinstance(app.screen, NewBatchScreen) and not screen.query_one("#new-form").disabled
        assert screen.query_one("#description", Input).value == "keep me"
        assert not screen.query_one("#submit", Button).disabled


async def test_template_to_answers_with_a_retry_chain_in_the_app(tmp_path, monkeypatch):
    import csv

    from batchtui.sandbox import SandboxConfig, SandboxServer
    from batchtui.tui.screens.results import BatchResults, ResultsScreen
    from batchtui.tui.screens.retry import RetryScreen

    monkeypatch.chdir(tmp_path)
    shutil.copy(EXAMPLES / "template.json", tmp_path / "template.json")
    with (tmp_path / "items.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "product", "review", "max_tokens"])
        writer.writerows([f"r{i:03d}", f"product {i}", f'"{i}", fine,\nreally', 80] for i in range(40))

    async def finished(pilot, detail: BatchDetailScreen) -> None:
        for _ in range(300):
            if detail.batch is not None and detail.batch.status == "completed":
                return
            await pilot.press("r")
            await pilot.pause(0.1)
        raise AssertionError(f"{detail.batch_id} never completed")

    with SandboxServer(SandboxConfig(speed=1000, fail_rate=0.4)) as server:
        app = BatchtuiApp(Profile(name="t", base_url=server.base_url, api_key="sk-test"), cache_dir=tmp_path / "app")
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await open_new_batch(pilot)
            await pilot.click("#mode-template")
            screen.query_one("#template-path", Input).value = "template.json"
            await enter_path(pilot, screen, "#data-path", "items.csv")
            await checked(pilot, screen)
            assert screen.checked.report.ok
            await pilot.press("ctrl+s")
            root = await submitted(pilot)
            await finished(pilot, root)
            failed = root.batch.request_counts.failed
            assert 0 < failed < 40

            await pilot.press("R")
            await wait_until(pilot, lambda: isinstance(app.screen, RetryScreen), "the retry modal")
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, BatchDetailScreen)
                             and app.screen.batch_id != root.batch_id and app.screen.batch is not None, "the retry")
            retry = app.screen
            assert retry.batch.metadata["retry_of"] == root.batch_id
            await finished(pilot, retry)

            app.push_screen(ResultsScreen(BatchResults(root.batch_id), root.batch_id))
            await wait_until(pilot, lambda: isinstance(app.screen, ResultsScreen), "the viewer")
            viewer = app.screen
            await wait_until(pilot, lambda: viewer.index is not None and viewer.index.complete, "indexed", tries=600)
            assert sum(viewer.index.attempt(r) == 2 for r in range(40)) == failed
            await pilot.press("e")
            await wait_until(pilot, lambda: app.screen is not viewer, "export asks where")
            app.screen.query_one(Input).value = str(tmp_path / "answers.csv")
            await pilot.press("enter")
            await wait_until(pilot, lambda: (tmp_path / "answers.csv").exists(), "answers.csv written")
            await app.workers.wait_for_complete()
    with (tmp_path / "answers.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    with (tmp_path / "items.csv").open(newline="") as handle:
        data = list(csv.DictReader(handle))
    assert [{k: row[k] for k in data[0]} for row in rows] == data
    assert sum(row["status"] == "ok" for row in rows) == 40 - retry.batch.request_counts.failed


async def test_the_report_estimates_unbounded_output_from_the_accounts_history(sandbox_profile, write_batch_file,
                                                                                tmp_path):
    """With past gpt-4o-mini requests in the cache's llm_logs, requests without max_tokens get an output estimate
    and a cost that is not a floor, as `validate` gives them."""
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "app") as ws:
        batch = await ws.start_batch((await ws.upload(write_batch_file(4, name="past.jsonl"))).id,
                                     "/v1/chat/completions")
        while batch.status in ACTIVE_STATUSES:
            await asyncio.sleep(0.02)
            batch = await ws.fetch_batch(batch.id)
        await ws.import_batch(batch)
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.workspace is not None, "the workspace open")
        report = plain((await checked_jsonl(pilot, write_batch_file(2))).query_one("#report-body", Static))
    assert "estimated from 4 past requests of gpt-4o-mini in llm_logs" in " ".join(report.split())
    assert "about $" in report and "at least" not in report

"""Batch detail through Pilot against the sandbox: timeline, cancel, copy, preview, download, errors, literal text."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

from pilot_helpers import Notes, open_detail, wait_until
from rich.console import Console
from textual.widgets import Input

from batchtui.core.api.models import Batch, FileObject
from batchtui.core.cache.store import Cache, DownloadedFile
from batchtui.core.config import Profile
from batchtui.core.insights.timeline import timeline_steps
from batchtui.core.text import printable
from batchtui.core.workspace import Workspace, _split_head
from batchtui.sandbox import SandboxConfig, SandboxServer
from batchtui.tui.app import BatchtuiApp
from batchtui.tui.commands import ScreenCommands
from batchtui.tui.screens.batch_detail import BatchDetailScreen
from batchtui.tui.screens.confirm import ConfirmScreen
from batchtui.tui.screens.file_preview import FilePreviewScreen
from batchtui.tui.screens.results import ResultsScreen
from batchtui.tui.widgets.batch_timeline import BatchTimeline
from batchtui.tui.widgets.detail_errors import BatchErrorList
from batchtui.tui.widgets.detail_files import BatchFiles
from batchtui.tui.widgets.detail_progress import BatchProgressPanel
from batchtui.tui.widgets.file_lines_view import FileLinesView
from batchtui.tui.widgets.result_list import ResultList

DEAD_URL = "http://127.0.0.1:9/v1"
HOSTILE = "[bold red]not markup[/] \x1b[2J\x1b]52;c;cHduZWQ=\x07 \u202eevil"


def chat_lines(count: int, prefix: str = "row") -> str:
    """A valid chat-completions batch input of `count` lines."""
    return "".join(
        json.dumps({"custom_id": f"{prefix}-{i}", "method": "POST", "url": "/v1/chat/completions",
                    "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Item {i}."}]}}) + "\n"
        for i in range(count)
    )


def plain(renderable) -> str:
    """What a widget's renderable reads as, without styles."""
    console = Console(file=io.StringIO(), width=160, color_system=None, legacy_windows=False)
    console.print(renderable)
    return console.file.getvalue()


def section_text(app, selector: str) -> str:
    widget = app.screen.query_one(selector)
    return plain(widget.content if hasattr(widget, "content") else widget.render())


async def start(ws: Workspace, content: str, path, metadata: dict[str, str] | None = None) -> Batch:
    path.write_text(content)
    uploaded = await ws.upload(path)
    return await ws.start_batch(uploaded.id, "/v1/chat/completions", metadata=metadata)


async def test_completed_batch_shows_every_step_and_its_files(sandbox_profile, tmp_path):
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        batch = await start(ws, chat_lines(3), tmp_path / "three.jsonl", {"description": "three lines", "team": "ml"})
        done = await ws.wait_for(batch.id, 1)
    assert done.status == "completed"
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_detail(pilot, batch.id)
        await wait_until(pilot, lambda: screen.batch.status == "completed", "completed batch shown")
        steps = timeline_steps(screen.batch, app.clock())
        assert [(s.status, s.state) for s in steps] == [
            ("validating", "done"), ("in_progress", "done"), ("finalizing", "done"), ("completed", "end")
        ]
        timeline = plain(screen.query_one(BatchTimeline).render())
        for name in ("validating", "in progress", "finalizing", "completed", "took"):
            assert name in timeline
        header = section_text(app, "#detail-header")
        assert batch.id in header and "description = three lines" in header and "team = ml" in header
        assert "/v1/chat/completions" in header and "24h" in header
        assert "3 completed · 0 failed · 3 total" in plain(screen.query_one(BatchProgressPanel).render())
        usage = section_text(app, "#detail-usage")
        assert "input" in usage and "reasoning" in usage and "total" in usage
        files = screen.query_one(BatchFiles)
        await wait_until(pilot, lambda: all(f.info for f in files.files), "file names and sizes")
        assert [f.kind for f in files.files] == ["input", "output"]
        assert files.files[0].info.filename == "three.jsonl"
        assert "c" not in screen.active_bindings  # a finished batch cannot be cancelled: no Cancel key shown


async def test_follows_sync_and_refresh_live(tmp_path):
    # a sandbox of its own, slow enough that the batch still runs when its detail opens on a busy machine
    with SandboxServer(SandboxConfig(speed=200.0)) as server:
        profile = Profile(name="test", base_url=server.base_url, api_key="sk-test")
        async with await Workspace.open(profile, cache_dir=tmp_path / "setup") as ws:
            batch = await start(ws, chat_lines(2000), tmp_path / "two-thousand.jsonl")
        app = BatchtuiApp(profile, cache_dir=tmp_path / "app")
        heard = Notes()
        async with app.run_test(message_hook=heard.hear, size=(100, 40)) as pilot:
            screen = await open_detail(pilot, batch.id)
            assert screen.batch.status in ("validating", "in_progress")
            async with await Workspace.open(profile, cache_dir=tmp_path / "watch") as ws:
                assert (await ws.wait_for(batch.id, 1)).status == "completed"
            app.action_refresh()
            await wait_until(pilot, lambda: screen.batch.status == "completed", "sync brought the completed batch")
            assert [f.kind for f in screen.query_one(BatchFiles).files] == ["input", "output"]
            await pilot.press("r")
            await wait_until(pilot, lambda: f"Refreshed {batch.id}: completed." in heard.messages, "refreshed")


async def test_current_step_clock_ticks(tmp_path):
    now = [NOW]
    await fill_fixed_cache(tmp_path, status="in_progress", finalizing_at=None, completed_at=None)
    app = BatchtuiApp(Profile(name="offline", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path,
                      clock=lambda: now[0])
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_detail(pilot, FIXED_ID)
        timeline = screen.query_one(BatchTimeline)
        before = plain(timeline.render())
        assert "2h 01m" in before and "expires in 21h 58m" in before  # 21h 57m 55s, rounded
        now[0] += 3600
        await wait_until(pilot, lambda: timeline.now == now[0], "the timer ticked")
        after = plain(timeline.render())
        assert "3h 01m" in after and "expires in 20h 58m" in after


async def test_file_list_picks_the_file_actions_work_on(tmp_path, copied):
    await fill_fixed_cache(tmp_path)
    app = BatchtuiApp(Profile(name="offline", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path,
                      clock=lambda: NOW)
    heard = Notes()
    async with app.run_test(message_hook=heard.hear, size=(80, 24)) as pilot:
        screen = await open_detail(pilot, FIXED_ID)
        files = screen.query_one(BatchFiles)
        files.focus()
        await pilot.press("down", "down", "i")
        await app.workers.wait_for_complete()
        assert copied == ["file-err0001"]
        assert "Copied error file id to the clipboard." in heard.messages
        provider = ScreenCommands(screen)
        titles = [str(hit.display) async for hit in provider.discover()]
        assert "Copy batch JSON" in titles and "View file" in titles
        assert "Cancel batch" not in titles  # a completed batch cannot be cancelled


async def test_cancel_asks_first(sandbox_profile, tmp_path):
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        batch = await start(ws, chat_lines(20_000), tmp_path / "big.jsonl")
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    heard = Notes()
    async with app.run_test(message_hook=heard.hear, size=(100, 40)) as pilot:
        screen = await open_detail(pilot, batch.id)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation asked")
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is screen, "back on the detail")
        await pilot.pause(0.2)
        assert screen.batch.status in ("validating", "in_progress")
        assert not any("cancel" in n.lower() for n in heard.messages)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation asked again")
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.batch.status in ("cancelling", "cancelled"), "batch cancelling")
        assert any(n.startswith(f"Asked to cancel {batch.id}") for n in heard.messages)
        listed = next(b for b in app.batches if b.id == batch.id)
        assert listed.status in ("cancelling", "cancelled")
        await pilot.press("c")
        await pilot.pause(0.1)
        assert app.screen is screen


async def test_copy_batch_id_json_and_file_id(sandbox_profile, tmp_path, copied):
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        batch = await start(ws, chat_lines(2), tmp_path / "two.jsonl")
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    heard = Notes()
    async with app.run_test(message_hook=heard.hear, size=(100, 40)) as pilot:
        await open_detail(pilot, batch.id)
        await pilot.press("y", "Y", "i")
        await app.workers.wait_for_complete()
        assert copied[0] == batch.id
        assert Batch.from_dict(json.loads(copied[1])).id == batch.id
        assert copied[2] == batch.input_file_id
        assert "sk-test" not in "".join(copied)
        messages = heard.messages
        assert "Copied batch id to the clipboard." in messages
        assert "Copied batch JSON to the clipboard." in messages
        assert "Copied input file id to the clipboard." in messages


async def test_preview_shows_the_first_lines_literally(sandbox_profile, tmp_path):
    lines = chat_lines(60, prefix="[bold red]row[/]").splitlines()
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        batch = await start(ws, "\n".join(lines) + "\n", tmp_path / "sixty.jsonl")
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test(size=(100, 40)) as pilot:
        await open_detail(pilot, batch.id)
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, FilePreviewScreen), "preview open")
        view = app.screen.query_one(FileLinesView)
        await wait_until(pilot, lambda: "· 60 lines" in section_text(app, "#preview-title"), "whole file shown")
        assert view.line_count == 60 and view.has_focus
        shown = view.visible_lines()
        assert shown == lines[: len(shown)]
        assert '"custom_id": "[bold red]row[/]-0"' in shown[0]
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, BatchDetailScreen), "preview closed")


async def test_download_to_a_folder(sandbox_profile, tmp_path):
    content = chat_lines(4)
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        batch = await start(ws, content, tmp_path / "four.jsonl")
    folder = tmp_path / "downloads"
    folder.mkdir()
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    heard = Notes()
    async with app.run_test(message_hook=heard.hear, size=(100, 40)) as pilot:
        await open_detail(pilot, batch.id)
        await pilot.press("d")
        await wait_until(pilot, lambda: app.screen.query(Input), "path asked")
        field = app.screen.query_one(Input)
        assert field.value == str(Path.cwd())
        field.value = str(folder)
        await pilot.press("enter")
        await wait_until(pilot, lambda: any(n.startswith("Saved the input file to") for n in heard.messages), "saved")
        assert (folder / "four.jsonl").read_text() == content
        await pilot.press("d")
        await wait_until(pilot, lambda: app.screen.query(Input), "path asked again")
        app.screen.query_one(Input).value = str(folder / "new" / "sub")
        await pilot.press("enter")
        await wait_until(pilot, lambda: sum(n.startswith("Saved the input") for n in heard.messages) == 2,
                         "saved again")
        assert (folder / "new" / "sub" / "four.jsonl").read_text() == content
        await pilot.press("d")
        await wait_until(pilot, lambda: app.screen.query(Input), "path asked a third time")
        app.screen.query_one(Input).value = str(folder)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "asked before replacing")
        await pilot.press("n")
        await pilot.pause(0.2)
        assert sum(n.startswith("Saved the input") for n in heard.messages) == 2


async def test_failed_batch_lists_every_validation_error_each_opening_its_line(sandbox_profile, tmp_path):
    bad = chat_lines(1) + "this is not json\n" + chat_lines(1, prefix="other") + "[1, 2]\n"
    async with await Workspace.open(sandbox_profile, cache_dir=tmp_path / "setup") as ws:
        batch = await start(ws, bad, tmp_path / "bad.jsonl")
        failed = await ws.wait_for(batch.id, 1)
    assert failed.status == "failed" and [e.line for e in failed.errors.data] == [2, 4]  # OpenAI lists every line
    app = BatchtuiApp(sandbox_profile, cache_dir=tmp_path / "app")
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_detail(pilot, batch.id)
        await wait_until(pilot, lambda: screen.batch.status == "failed", "failed batch shown")
        errors = app.screen.query_one(BatchErrorList)
        assert errors.display and errors.border_title == "Errors (2)"
        rows = [str(errors.get_option_at_index(i).prompt) for i in range(errors.option_count)]
        assert rows[0].split()[:3] == ["line", "2", "invalid_json_line"]
        assert "This line is not parseable as valid JSON." in rows[0] and rows[1].split()[:2] == ["line", "4"]
        steps = [(s.status, s.state) for s in timeline_steps(screen.batch, app.clock())]
        assert steps == [("validating", "done"), ("failed", "end")]
        errors.focus()
        await pilot.press("down", "enter")  # the second error's line
        await wait_until(pilot, lambda: isinstance(app.screen, ResultsScreen), "the input opened")
        await wait_until(pilot, lambda: app.screen.query_one(ResultList).cursor_row == 3, "cursor on line 4")


async def test_markup_looking_metadata_is_literal(tmp_path, copied):
    await fill_fixed_cache(tmp_path, metadata={"description": HOSTILE, "[link=x]k[/link]": "v"})
    app = BatchtuiApp(Profile(name="offline", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path,
                      clock=lambda: NOW)
    async with app.run_test(size=(100, 40)) as pilot:
        await open_detail(pilot, FIXED_ID)
        header = section_text(app, "#detail-header")
        assert printable(HOSTILE) in header
        assert "[link=x]k[/link] = v" in header
        assert "\x1b" not in header and "\u202e" not in header


def test_timeline_branches():
    base = fixed_batch().to_dict()
    cancelled = Batch.from_dict({**base, "status": "cancelled", "finalizing_at": None, "completed_at": None,
                                      "cancelling_at": CREATED + 700, "cancelled_at": CREATED + 760})
    assert [(s.status, s.state, s.spent) for s in timeline_steps(cancelled, NOW)] == [
        ("validating", "done", 60), ("in_progress", "done", 640), ("cancelling", "done", 60), ("cancelled", "end", None)
    ]
    cancelling = Batch.from_dict({**base, "status": "cancelling", "finalizing_at": None, "completed_at": None,
                                       "cancelling_at": CREATED + 700})
    assert [(s.status, s.state) for s in timeline_steps(cancelling, CREATED + 730)] == [
        ("validating", "done"), ("in_progress", "done"), ("cancelling", "current"), ("cancelled", "next")
    ]
    assert timeline_steps(cancelling, CREATED + 730)[2].spent == 30
    expired = Batch.from_dict({**base, "status": "expired", "finalizing_at": None, "completed_at": None,
                                    "expired_at": CREATED + 86_400})
    assert [s.status for s in timeline_steps(expired, NOW)] == ["validating", "in_progress", "expired"]
    running = Batch.from_dict({**base, "status": "in_progress", "finalizing_at": None, "completed_at": None})
    assert [(s.status, s.state) for s in timeline_steps(running, NOW)] == [
        ("validating", "done"), ("in_progress", "current"), ("finalizing", "next"), ("completed", "next")
    ]


def test_preview_head_cuts_at_lines_and_bytes():
    assert _split_head(b"a\nb\nc\n", 2, 100) == ["a", "b"]
    assert _split_head(b"a\r\nb", 5, 100) == ["a", "b"]
    assert _split_head(b"abcdef", 5, 4) == ["abcd…"]
    assert _split_head(b"", 5, 100) == []


async def test_preview_lines_reads_a_downloaded_copy(tmp_path):
    async with await Workspace.open(Profile(name="x", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path) as ws:
        copy = tmp_path / "out.jsonl"
        copy.write_text("".join(f"line {i}\n" for i in range(100)))
        await ws.cache.record_download(DownloadedFile("file-out", "batch_x", "output", copy, copy.stat().st_size, 0))
        assert await ws.preview_lines("file-out", 3) == ["line 0", "line 1", "line 2"]


# -- snapshots: a fully fixed batch, a dead API, a frozen clock ----------------------------------

CREATED = 1_763_000_000
NOW = CREATED + 2 * 3600 + 125
FIXED_ID = "batch_6913f1c0a8e4819084b0d2e1c5f7a9b3"


def fixed_batch(**changes) -> Batch:
    data = {
        "id": FIXED_ID,
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "input_file_id": "file-in0001",
        "output_file_id": "file-out0001",
        "error_file_id": "file-err0001",
        "completion_window": "24h",
        "status": "completed",
        "created_at": CREATED,
        "in_progress_at": CREATED + 60,
        "finalizing_at": CREATED + 3600 + 60,
        "completed_at": CREATED + 3600 + 150,
        "expires_at": CREATED + 86_400,
        "model": "gpt-4o-mini",
        "request_counts": {"total": 20_000, "completed": 19_950, "failed": 50},
        "metadata": {"description": "sentiment labels v3", "team": "[b]ml[/b]"},
        "usage": {
            "input_tokens": 1_204_000, "input_tokens_details": {"cached_tokens": 300_000},
            "output_tokens": 402_500, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 1_606_500,
        },
    }
    data.update(changes)
    return Batch.from_dict(data)


def fixed_files() -> list[FileObject]:
    def file(file_id: str, name: str, size: int, purpose: str) -> FileObject:
        return FileObject.from_dict({"id": file_id, "object": "file", "bytes": size, "created_at": CREATED,
                                          "filename": name, "purpose": purpose, "status": "processed"})

    return [file("file-in0001", "sentiment_v3.jsonl", 4_812_345, "batch"),
            file("file-out0001", "batch_output.jsonl", 9_120_000, "batch_output"),
            file("file-err0001", "batch_errors.jsonl", 31_200, "batch_output")]


async def fill_fixed_cache(cache_dir, **changes) -> Batch:
    batch = fixed_batch(**changes)
    async with await Cache.open(cache_dir / "cache.db") as cache:
        await cache.upsert_batches([batch], observed_at=CREATED)
        await cache.upsert_files(fixed_files())
    return batch


def snapshot_app(tmp_path) -> BatchtuiApp:
    asyncio.run(fill_fixed_cache(tmp_path))
    return BatchtuiApp(Profile(name="snapshot", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path,
                       clock=lambda: NOW)


async def settle_on_detail(pilot):
    await wait_until(pilot, lambda: pilot.app.batches, "cache loaded")
    screen = await open_detail(pilot, FIXED_ID)
    files = screen.query_one(BatchFiles)
    await wait_until(pilot, lambda: files.files and all(f.info for f in files.files), "file info from the cache")
    await pilot.pause()


def test_snapshot_detail_100x40(snap_compare, tmp_path, utc):
    assert snap_compare(snapshot_app(tmp_path), terminal_size=(100, 40), run_before=settle_on_detail)


def test_snapshot_detail_80x24(snap_compare, tmp_path, utc):
    assert snap_compare(snapshot_app(tmp_path), terminal_size=(80, 24), run_before=settle_on_detail)


def test_snapshot_running_detail_at_risk(snap_compare, tmp_path, utc):
    running = {"status": "in_progress", "finalizing_at": None, "completed_at": None, "output_file_id": None,
               "error_file_id": None, "usage": None, "expires_at": NOW + 1800}

    async def fill():
        async with await Cache.open(tmp_path / "cache.db") as cache:
            for observed_at, completed, failed in ((NOW - 300, 7_000, 10), (NOW - 5, 8_000, 12)):
                counts = {"total": 20_000, "completed": completed, "failed": failed}
                await cache.upsert_batches([fixed_batch(**running, request_counts=counts)], observed_at=observed_at)
            await cache.upsert_files(fixed_files())

    asyncio.run(fill())
    app = BatchtuiApp(Profile(name="snapshot", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path,
                      clock=lambda: NOW)

    async def settle_with_observations(pilot):
        await settle_on_detail(pilot)
        panel = pilot.app.screen.query_one(BatchProgressPanel)  # its ETA needs the observations, read apart
        await wait_until(pilot, lambda: len(panel.observations) == 2, "the observations read")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 40), run_before=settle_with_observations)


def test_timeline_of_an_unknown_status_is_literal():
    odd = Batch(**{**fixed_batch().to_dict(), "status": "[red]paused\x1b[2J", "completed_at": None})
    steps = timeline_steps(odd, NOW)
    assert steps[-1].status == "[red]paused\x1b[2J" and steps[-1].state == "end"
    timeline = BatchTimeline()
    timeline.batch, timeline.now = odd, NOW
    text = plain(timeline.render())
    assert "[red]paused\\x1b[2J" in text and "\x1b" not in text


async def test_a_running_batch_gets_a_finish_time_from_similar_past_batches(tmp_path, utc):
    history = [fixed_batch(id=f"batch_past{i}", created_at=CREATED - 86_400 * (i + 1),
                           in_progress_at=CREATED - 86_400 * (i + 1) + 60,
                           finalizing_at=CREATED - 86_400 * (i + 1) + 60 + 3_000 + 600 * i,
                           completed_at=CREATED - 86_400 * (i + 1) + 60 + 3_000 + 600 * i + 60)
               for i in range(3)]  # in progress + finalizing took 51, 61 and 71 minutes: the median is 61
    running = fixed_batch(status="in_progress", in_progress_at=NOW - 600, finalizing_at=None, completed_at=None,
                          output_file_id=None, error_file_id=None, usage=None)
    text = await progress_panel_text(tmp_path, [*history, running])
    assert "similar batches say done by" in text and "(in 51m)" in text
    assert "3 past batches, same model and size band" in text


async def progress_panel_text(tmp_path, batches: list[Batch]) -> str:
    """The progress panel of FIXED_ID's detail, with `batches` in an offline app's cache, at NOW."""
    async with await Cache.open(tmp_path / "cache.db") as cache:
        await cache.upsert_batches(batches, observed_at=NOW)
    app = BatchtuiApp(Profile(name="t", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path, clock=lambda: NOW)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.batches) == len(batches), "cache loaded")
        screen = await open_detail(pilot, FIXED_ID)
        return plain(screen.query_one(BatchProgressPanel).render())


async def test_a_finished_batch_keeps_its_created_ago_ticking(tmp_path):
    now = [CREATED + 19]
    await fill_fixed_cache(tmp_path, finalizing_at=CREATED + 10, completed_at=CREATED + 15)
    app = BatchtuiApp(Profile(name="offline", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path,
                      clock=lambda: now[0])
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_detail(pilot, FIXED_ID)
        await wait_until(pilot, lambda: "(19s ago)" in section_text(app, "#detail-header"), "created 19s ago")
        now[0] += 60
        await wait_until(pilot, lambda: "(1m 19s ago)" in section_text(app, "#detail-header"), "the header ticked")
        assert screen.batch.status == "completed"


async def test_running_and_overall_rates_are_named_apart(tmp_path):
    observed = ((NOW - 300, 7_000), (NOW - 5, 8_000))
    async with await Cache.open(tmp_path / "cache.db") as cache:
        for observed_at, completed in observed:
            counts = {"total": 20_000, "completed": completed, "failed": 0}
            await cache.upsert_batches([fixed_batch(status="in_progress", finalizing_at=None, completed_at=None,
                                                    request_counts=counts)], observed_at=observed_at)
    app = BatchtuiApp(Profile(name="t", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path, clock=lambda: NOW)
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_detail(pilot, FIXED_ID)
        panel = screen.query_one(BatchProgressPanel)
        await wait_until(pilot, lambda: "now 203 lines/min (last 10 min)" in plain(panel.render()), "running rate")
    panel = BatchProgressPanel()
    panel.batch = fixed_batch(status="expired", finalizing_at=None, completed_at=None, expired_at=CREATED + 86_460,
                              request_counts={"total": 20_000, "completed": 200, "failed": 25})
    assert "overall 9.4 lines/h while in progress" in plain(panel.render())  # 225 lines in 24 h, not "0 lines/min"


async def test_a_cancelling_batch_is_not_predicted_done(tmp_path, utc):
    past = fixed_batch(id="batch_past", status="cancelled", created_at=CREATED - 86_400, finalizing_at=None,
                       completed_at=None, cancelling_at=CREATED - 80_000, cancelled_at=CREATED - 80_000 + 300)
    cancelling = fixed_batch(status="cancelling", finalizing_at=None, completed_at=None, cancelling_at=NOW - 60,
                             output_file_id=None, error_file_id=None, usage=None)
    text = await progress_panel_text(tmp_path, [past, cancelling])
    assert "similar cancellations say cancelled by" in text and "(in 4m 00s)" in text
    assert "done by" not in text


async def test_files_say_when_the_api_deletes_them(tmp_path):
    await fill_fixed_cache(tmp_path)
    expiring = {"file-in0001": NOW + 29 * 86_400 + 60, "file-out0001": NOW - 60}
    async with await Cache.open(tmp_path / "cache.db") as cache:
        await cache.upsert_files([FileObject.from_dict({**f.to_dict(), "expires_at": expiring.get(f.id)})
                                  for f in fixed_files()])
    app = BatchtuiApp(Profile(name="offline", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path,
                      clock=lambda: NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, FIXED_ID)
        files = app.screen.query_one(BatchFiles)
        await wait_until(pilot, lambda: all(f.info for f in files.files), "file names shown")
        rows = [str(files.get_option_at_index(i).prompt) for i in range(files.option_count)]
    assert rows[0].endswith("expires in 29d") and rows[1].endswith("expired on the API")
    assert "expire" not in rows[2]  # an expiry the API does not give is not guessed


async def test_a_batch_refused_for_the_enqueued_token_limit_can_be_submitted_again(tmp_path):
    with SandboxServer(SandboxConfig(speed=1000, enqueued_token_limit=10)) as server:
        profile = Profile(name="t", base_url=server.base_url, api_key="sk-test")
        async with await Workspace.open(profile, cache_dir=tmp_path / "setup") as ws:
            batch = await start(ws, chat_lines(3), tmp_path / "in.jsonl")
            assert (await ws.wait_for(batch.id, 1)).errors.data[0].code == "token_limit_exceeded"
        server.runtime.set_limits({"enqueued_token_limit": None})  # the running batches have finished
        app = BatchtuiApp(profile, cache_dir=tmp_path / "app")
        heard = Notes()
        async with app.run_test(size=(100, 40), message_hook=heard.hear) as pilot:
            screen = await open_detail(pilot, batch.id)
            await wait_until(pilot, lambda: screen.batch.status == "failed", "failed batch shown")
            advice = str(screen.query_one("#detail-advice").render())
            assert advice.startswith("Not run: your queued and running gpt-4o-mini batches") and "S submits" in advice
            await pilot.press("S")
            await wait_until(pilot, lambda: isinstance(app.screen, BatchDetailScreen)
                             and app.screen.batch_id != batch.id, "the new batch opened")
            again = app.screen.batch_id
            assert f"Started {again} over the input of {batch.id}." in heard.messages
        async with await Workspace.open(profile, cache_dir=tmp_path / "check") as ws:
            redone = await ws.wait_for(again, 1)
    assert redone.status == "completed" and redone.input_file_id == batch.input_file_id

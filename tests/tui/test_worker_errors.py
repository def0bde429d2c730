"""A worker that fails in a way nobody planned for: the user is told in one line, and the screen stays usable.

Every worker runs with `exit_on_error=False`, so such a failure would otherwise end quietly and leave "Opening…"
on screen for good. The failures below are bugs by nature (what a file, the cache or the API can do wrong is
already caught and shown by the screens, and their own tests provoke it for real), so each case subclasses a
screen to raise inside one of its workers: an async worker and a thread worker of each screen that has them, and
the app's own."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pilot_helpers import Notes, wait_until
from textual import work
from textual.screen import Screen
from textual.widgets import Static

from batchtui.core.config import Profile
from batchtui.core.results.index import ResultFiles
from batchtui.tui.app import BatchtuiApp
from batchtui.tui.screens.batch_detail import BatchDetailScreen
from batchtui.tui.screens.batches import BatchesScreen
from batchtui.tui.screens.file_preview import FilePreviewScreen
from batchtui.tui.screens.files import FilesScreen
from batchtui.tui.screens.new_batch import NewBatchScreen
from batchtui.tui.screens.results import LocalFiles, ResultsScreen
from batchtui.tui.screens.sql import SqlScreen
from batchtui.tui.screens.stats import StatsScreen
from batchtui.tui.screens.upload import UploadScreen

DEAD_URL = "http://127.0.0.1:9/v1"
BOOM = "disk on fire \x1b[2J\nsecond line"
SHOWN = "RuntimeError: disk on fire \\x1b[2J\\nsecond line"
"""The failure as the user sees it: its type and message on one line, with the controls made visible."""


def boom() -> None:
    raise RuntimeError(BOOM)


def beside(node: type[Screen] | type[BatchtuiApp]) -> str:
    """The class's own CSS file: Textual reads a relative CSS_PATH beside the subclass, here in tests/."""
    return str(Path(inspect.getfile(node)).with_name(str(node.CSS_PATH)))


class ResultsOpenFails(ResultsScreen):
    @work(exclusive=True, group="results-open", exit_on_error=False)
    async def _open(self) -> None:
        self._set_state("Fetching files…")
        boom()


class ResultsIndexFails(ResultsScreen):
    @work(thread=True, exclusive=True, group="results-index", exit_on_error=False)
    def _build(self, files: ResultFiles, store: Path) -> None:
        boom()


class DetailLoadFails(BatchDetailScreen):
    CSS_PATH = beside(BatchDetailScreen)
    @work(exclusive=True, group="detail-load", exit_on_error=False)
    async def _load(self) -> None:
        boom()


class FilesLoadFails(FilesScreen):
    @work(exclusive=True, group="files-load", exit_on_error=False)
    async def load(self) -> None:
        self._set_state("syncing")
        boom()


class PreviewFails(FilePreviewScreen):
    @work(exclusive=True, group="preview", exit_on_error=False)
    async def load(self) -> None:
        boom()


class UploadFails(UploadScreen):
    @work(exclusive=True, group="upload", exit_on_error=False)
    async def upload(self, path: Path) -> None:
        self._busy(True)
        boom()


class CheckFails(NewBatchScreen):
    CSS_PATH = beside(NewBatchScreen)
    @work(thread=True, group="check", exit_on_error=False)
    def check(self, run: int, source: object, endpoint: str | None) -> None:
        boom()


class SubmitFails(NewBatchScreen):
    CSS_PATH = beside(NewBatchScreen)
    @work(group="submit", exit_on_error=False)
    async def submit(self, path: Path, endpoint: str, metadata: dict[str, str], estimate: object) -> None:
        self._set_submitting("Uploading requests.jsonl…")
        boom()


class QueryFails(SqlScreen):
    @work(thread=True, exclusive=True, group="sql-run", exit_on_error=False)
    def _run(self, db_path: Path, sql: str, store: object) -> None:
        boom()


class StatsFail(StatsScreen):
    CSS_PATH = beside(StatsScreen)
    @work(thread=True, exclusive=True, exit_on_error=False, group="stats", description="batch statistics")
    def _compute(self, *args: object) -> None:
        boom()


class DetailsFail(BatchesScreen):
    @work(exclusive=True, exit_on_error=False, group="batch-list-details")
    async def load_details(self, active_ids: list[str]) -> None:
        boom()


@dataclass(frozen=True)
class Case:
    name: str
    screen: Callable[[Path], Screen]
    start: Callable[[Screen], object] = lambda screen: None
    """What sets the worker off, when mounting the screen does not."""
    status: str | None = None
    """Where the screen shows its state: the failure replaces what it was doing there."""
    stuck: str = ""
    """What must not stay on screen once the worker failed."""
    keys: tuple[str, ...] = ("escape",)
    """Keys that make the screen give way to another: it still answers."""


def results_files(tmp_path: Path) -> LocalFiles:
    output = tmp_path / "output.jsonl"
    output.write_text('{"custom_id": "a", "response": {"status_code": 200, "body": {}}}\n')
    return LocalFiles(ResultFiles(output=output))


CASES = [
    Case("results open (async)", lambda tmp: ResultsOpenFails(results_files(tmp), "out"),
         status="#results-status", stuck="Fetching files…"),
    Case("results index (thread)", lambda tmp: ResultsIndexFails(results_files(tmp), "out"),
         status="#results-status", stuck="Indexing…"),
    Case("batch detail load (async)", lambda tmp: DetailLoadFails("batch_unknown"),
         status="#detail-note", stuck="Loading batch_unknown…"),
    Case("files load (async)", lambda tmp: FilesLoadFails(), status="#files-status", stuck="syncing…"),
    Case("file preview (async)", lambda tmp: PreviewFails("file-1", "input.jsonl"),
         status="#preview-title", stuck="loading…"),
    Case("upload (async)", lambda tmp: UploadFails(tmp), start=lambda s: s.upload(Path("x.jsonl")),
         status="#upload-error"),
    Case("new batch check (thread)", lambda tmp: CheckFails(), start=lambda s: s.check(0, None, None),
         status="#report-body"),
    Case("new batch submit (async)", lambda tmp: SubmitFails(),
         start=lambda s: s.submit(Path("requests.jsonl"), "/v1/chat/completions", {}, None)),
    Case("sql query (thread)", lambda tmp: QueryFails(), start=lambda s: s.action_run(),
         status="#sql-status", stuck="running…", keys=("f2",)),  # the editor keeps escape: the examples menu
    Case("stats (thread)", lambda tmp: StatsFail(), status="#stats-summary", stuck="Computing statistics…"),
    Case("batch list details (async)", lambda tmp: DetailsFail(), start=lambda s: s.load_details([]),
         keys=("f",)),  # the home screen: `f` opens the files
]


def offline_app(tmp_path: Path, app_class: type[BatchtuiApp] = BatchtuiApp) -> BatchtuiApp:
    """The app against a dead server: its sync fails for real, which the app already reports."""
    return app_class(Profile(name="offline", base_url=DEAD_URL, api_key="sk-x"), cache_dir=tmp_path / "cache")


def shown(screen: Screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_a_failed_worker_is_told_and_the_screen_still_answers(tmp_path, case):
    heard = Notes()
    app = offline_app(tmp_path)
    async with app.run_test(message_hook=heard.hear) as pilot:
        await wait_until(pilot, lambda: app.workspace is not None, "the cache opened")
        screen = case.screen(tmp_path)
        await app.push_screen(screen)
        case.start(screen)
        await wait_until(pilot, lambda: SHOWN in heard.messages, "the failure told")
        await pilot.pause()
        if case.status is not None:
            assert SHOWN in shown(screen, case.status)
            if case.stuck:
                assert case.stuck not in shown(screen, case.status)
        if isinstance(screen, NewBatchScreen):
            assert not screen.query_one("#new-form").disabled  # a failed submit unlocks the form
        if isinstance(screen, UploadScreen):
            assert not screen.query_one("#upload-path").disabled
        await pilot.press(*case.keys)
        await wait_until(pilot, lambda: app.screen is not screen, "a key answered")


class AppWorkersFail(BatchtuiApp):
    CSS_PATH = beside(BatchtuiApp)

    @work(thread=True, exclusive=True, group="prices", exit_on_error=False, description="price the batches")
    def _price_batches(self, batches: tuple[object, ...]) -> None:
        boom()

    @work(exclusive=True, group="sync", exit_on_error=False)
    async def run_sync(self) -> None:
        raise LookupError("batch_1")


async def test_the_apps_own_failed_workers_are_told(tmp_path):
    """The app prices batches in a thread and syncs in an async worker (`r`): a bug in either is told, and the app
    goes on answering keys."""
    heard = Notes()
    app = offline_app(tmp_path, AppWorkersFail)
    async with app.run_test(message_hook=heard.hear) as pilot:
        await wait_until(pilot, lambda: SHOWN in heard.messages, "the pricing failure told")
        await wait_until(pilot, lambda: app.workspace is not None, "the cache opened")
        await pilot.press("r")
        await wait_until(pilot, lambda: "LookupError: batch_1" in heard.messages, "the retry failure told")
        assert all(note.title == "Unexpected error" and note.severity == "error"
                   for note in heard.shown if note.message in (SHOWN, "LookupError: batch_1"))
        home = app.screen
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, FilesScreen) and app.screen is not home, "files")

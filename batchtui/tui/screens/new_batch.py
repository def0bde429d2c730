"""The new-batch screen: pick a batch file (or a template and a data file), read its validation report and
the first requests, fill in endpoint and metadata, then upload it and start the batch.

Making and validating the file run in a thread (a 200 MB file takes a second or two); picking another file
cancels the check under way. Uploading and creating the batch run in an async worker.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import (
    Button,
    Checkbox,
    DirectoryTree,
    Footer,
    Header,
    Input,
    Label,
    ProgressBar,
    RadioButton,
    RadioSet,
    Select,
    Static,
)
from textual.worker import Worker, get_current_worker

from batchtui.core.authoring.batch_file import BatchFileCancelled, MadeBatchFile, make_batch_file
from batchtui.core.authoring.datasets import CSV_SUFFIXES, JSONL_SUFFIXES, XLSX_SUFFIXES
from batchtui.core.authoring.validate import ValidateCancelled, ValidationReport, report_figures, validate_file
from batchtui.core.domain import batch_endpoints, canonical_endpoint
from batchtui.core.domain import parse_metadata as metadata_from_pairs
from batchtui.core.errors import BatchtuiError
from batchtui.core.insights.pricing import Cost
from batchtui.core.jobs.plan import JobOptions, JobSource, plan_job
from batchtui.core.jobs.runner import JobRunner
from batchtui.core.results.records import RequestView, read_request
from batchtui.core.text import plural, printable
from batchtui.core.workspace import Workspace
from batchtui.tui.commands import ScreenCommands
from batchtui.tui.format import ControlsShown, literal
from batchtui.tui.screens.base import BatchtuiScreen
from batchtui.tui.widgets.file_tree import FileTree
from batchtui.tui.widgets.result_detail import request_section
from batchtui.tui.workers import on_app_thread

BATCH_FILE_SUFFIXES = frozenset({".jsonl"})
TEMPLATE_SUFFIXES = frozenset({".json", ".txt"})
DATA_SUFFIXES = frozenset(CSV_SUFFIXES + JSONL_SUFFIXES + XLSX_SUFFIXES)
PREVIEW_REQUESTS = 3
PREVIEW_BYTES = 1 << 20
"""The preview reads only this much of the file: the first requests of a 200 MB file cost what a small one does."""
WINDOWS = ("24h",)
"""Completion windows the Batch API accepts."""


@dataclass(frozen=True)
class Source:
    """What to check: a batch file, or the template and data to make it from first."""

    batch_file: Path
    template: Path | None = None
    data: Path | None = None


@dataclass(frozen=True)
class CheckedFile:
    """A batch file after its check: the report, its first request lines, and how it was made (if it was)."""

    source: Source
    report: ValidationReport
    preview: list[bytes]
    made: MadeBatchFile | None


def existing_file(text: str, what: str) -> Path:
    """The file a path field names; a BatchtuiError says what is missing or wrong."""
    if not text.strip():
        raise BatchtuiError(f"Pick the {what}: type its path and press enter, or choose it in the tree.")
    path = Path(text.strip()).expanduser()
    if not path.exists():
        raise BatchtuiError(f"{path}: no such file")
    if path.is_dir():
        raise BatchtuiError(f"{path} is a folder; pick a file in it.")
    return path


def shown_path(path: Path) -> str:
    """`path` relative to the current directory when it is inside it, as short as it can be in a narrow field."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def parse_metadata(description: str, pairs: str) -> dict[str, str]:
    """The batch's metadata from the Description field and the "key=value, key2=value2" field, within OpenAI's
    limits; ValueError says what is wrong."""
    return metadata_from_pairs([part for part in pairs.split(",") if part.strip()], description)


def first_lines(path: Path, count: int = PREVIEW_REQUESTS) -> list[bytes]:
    """The first `count` request lines of the file, read from its first PREVIEW_BYTES only."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(PREVIEW_BYTES)
    except OSError:
        return []
    if len(head) == PREVIEW_BYTES:
        head = head[: head.rfind(b"\n") + 1]
    return [line for line in head.split(b"\n") if line.strip()][:count]


def report_renderable(checked: CheckedFile) -> RenderableType:
    """The validation report in the words of the CLI's `validate`: the verdict, the figures, then every problem."""
    report, made, source = checked.report, checked.made, checked.source
    facts = Table.grid(padding=(0, 1))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column()
    rows = [("file", source.batch_file.name), ("requests", f"{report.requests:,}"),
            ("endpoint", report.endpoint or "-"), ("model", report.model or "-")]
    if made is not None and source.template is not None and source.data is not None:
        rows.insert(1, ("made", f"from {source.template.name} and {source.data.name}; manifest {made.manifest.name}"))
    rows += report_figures(report)
    for name, value in rows:
        facts.add_row(name, literal(value))
    if report.ok:
        return Group(Text("✓ no problems found", style="bold green"), facts)
    lines = [Text(f"✗ {plural(report.problems_total, 'problem')} (listed below)", style="bold red"), facts, Text()]
    for problem in report.problems:
        where = "file" if problem.line is None else f"line {problem.line}"
        lines.append(Text.assemble((where, "bold"), ": ", (problem.code, "red"), ": ", printable(problem.message)))
    if report.problems_total > len(report.problems):
        lines.append(Text(f"… and {report.problems_total - len(report.problems):,} more", style="dim"))
    return Group(*lines)


def preview_renderable(lines: list[bytes]) -> RenderableType:
    """The first requests as the result viewer shows them, each under its number and custom_id."""
    if not lines:
        return Text("No request lines to preview.", style="dim")
    parts: list[RenderableType] = []
    for number, line in enumerate(lines, 1):
        view = read_request(line)
        custom_id = view.custom_id if isinstance(view, RequestView) else None
        parts.append(Text.assemble("\n" if number > 1 else "", (f"{number} · ", "dim"),
                                   literal(custom_id or "(no custom_id)", "bold")))
        parts.extend(request_section(view))
    return Group(*parts)


def field(label: str, widget: Widget, classes: str = "") -> Horizontal:
    """A form row: a label, then the widget."""
    return Horizontal(Label(label), widget, classes=f"field {classes}")


def path_input(placeholder: str, id: str) -> Input:
    """A field for a local path; a name picked in the tree shows its control characters visibly."""
    return Input(placeholder=placeholder, id=id, highlighter=ControlsShown(), compact=True)


class NewBatchScreen(BatchtuiScreen[None]):
    """Check a batch file, then upload it and start a batch; lands on the new batch's detail."""

    CSS_PATH = "new_batch.tcss"
    TITLE = "New batch"
    AUTO_FOCUS = "#jsonl-path"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+s", "submit", "Submit"),
        Binding("ctrl+t", "start_job", "As a job"),
    ]
    COMMANDS = {ScreenCommands}
    PALETTE = (("Submit the batch", "Upload the checked file and start the batch", "submit"),
               ("Start as a job", "Cut the checked input into parts within the API's limits and carry it to the end",
                "start_job"))

    def __init__(self) -> None:
        super().__init__()
        self.checked: CheckedFile | None = None
        self._run = 0
        self._checking = False
        self._submitting = ""
        """What submitting is doing now ("Uploading x…"), or "" when it is not."""
        self._default_output = ""
        self._uploads: dict[tuple[Path, int, int], str] = {}

    @property
    def checking(self) -> bool:
        """Whether the file the fields name is being made or validated now (submitting waits for it)."""
        return self._checking

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="new-columns"):
            with Vertical(id="new-left"):
                with Vertical(id="new-form"):
                    yield RadioSet(RadioButton("JSONL file", True, id="mode-jsonl"),
                                   RadioButton("Template + data", id="mode-template"), id="new-mode", compact=True)
                    yield field("File", path_input("batch file (.jsonl)", "jsonl-path"), "jsonl-only")
                    yield field("Template", path_input(".json or .txt with {{column}}", "template-path"),
                                "template-only")
                    yield field("Data", path_input(".csv, .jsonl, .ndjson or .xlsx", "data-path"), "template-only")
                    yield field("Output", path_input("batch file to write", "output-path"), "template-only")
                    yield FileTree(Path("."), BATCH_FILE_SUFFIXES, id="new-tree")
                    endpoints = batch_endpoints(self.app.profile.kind)  # Azure's urls with an Azure profile
                    yield field("Endpoint", Select(((e, e) for e in endpoints), prompt="from the file",
                                                   id="endpoint", compact=True))
                    yield field("Window", Select(((w, w) for w in WINDOWS), value=WINDOWS[0], allow_blank=False,
                                                 disabled=True, id="window", compact=True))
                    yield field("Description", Input(placeholder="shown in the batch list", id="description",
                                                     compact=True))
                    yield field("Metadata", Input(placeholder="key=value, key2=value2", id="metadata", compact=True))
                    yield Static(id="metadata-error")
                yield Static(id="submit-note")
                with Horizontal(id="new-actions"):
                    yield Checkbox("Submit anyway", id="anyway", compact=True)
                    yield Button("As a job ^t", id="as-job", compact=True)
                    yield Button("Submit ^s", id="submit", variant="primary", compact=True)
                yield ProgressBar(id="upload-progress", show_eta=False)
            with Vertical(id="new-output"):
                with VerticalScroll(id="report"):
                    yield Static(id="report-body")
                    yield ProgressBar(id="check-progress", show_eta=False)
                with VerticalScroll(id="preview"):
                    yield Static(id="preview-body")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#report").border_title = "Validation"
        self.query_one("#preview").border_title = f"Preview · first {PREVIEW_REQUESTS} requests"
        self._check()

    def on_unmount(self) -> None:
        self._run += 1  # a check finishing after the screen closed has nowhere to show

    @property
    def template_mode(self) -> bool:
        return self.has_class("-template")

    # --- choosing the source

    @on(RadioSet.Changed, "#new-mode")
    def _mode_changed(self, event: RadioSet.Changed) -> None:
        template = event.pressed.id == "mode-template"
        self.set_class(template, "-template")
        tree = self.query_one(FileTree)
        tree.suffixes = TEMPLATE_SUFFIXES | DATA_SUFFIXES if template else BATCH_FILE_SUFFIXES
        tree.reload()
        self._check()

    @on(DirectoryTree.FileSelected)
    def _picked(self, event: DirectoryTree.FileSelected) -> None:
        if not self.template_mode:
            target = "#jsonl-path"
        else:
            target = "#template-path" if event.path.suffix.lower() in TEMPLATE_SUFFIXES else "#data-path"
        self.query_one(target, Input).value = shown_path(event.path)
        if target == "#data-path":
            self._follow_data(shown_path(event.path))
        self._check()

    @on(Input.Submitted, "#jsonl-path, #template-path, #data-path, #output-path")
    def _entered(self) -> None:
        self._check()

    @on(Input.Changed, "#data-path")
    def _data_changed(self, event: Input.Changed) -> None:
        self._follow_data(event.value)

    def _follow_data(self, data_text: str) -> None:
        """The output is DATA.batch.jsonl beside the data (as make-batch-file writes) until the user names another."""
        output = self.query_one("#output-path", Input)
        data = Path(data_text.strip())
        if data.name and output.value in ("", self._default_output):
            self._default_output = output.value = str(data.with_suffix(".batch.jsonl"))

    @on(Select.Changed, "#endpoint")
    def _endpoint_changed(self, event: Select.Changed) -> None:
        """An endpoint other than the file's: check the file again for it (a template's file is made for it)."""
        if isinstance(event.value, str) and self.checked and event.value != self.checked.report.endpoint:
            self._check(event.value)
        else:
            self._update_submit()

    def _source(self) -> Source:
        field_text = {name: self.query_one(f"#{name}", Input).value for name in
                      ("jsonl-path", "template-path", "data-path", "output-path")}
        if not self.template_mode:
            return Source(existing_file(field_text["jsonl-path"], "batch file (.jsonl)"))
        template = existing_file(field_text["template-path"], "template (.json or .txt)")
        data = existing_file(field_text["data-path"], "data file (.csv, .jsonl, .ndjson or .xlsx)")
        if not field_text["output-path"].strip():
            raise BatchtuiError("Output: name the batch file to write.")
        out = Path(field_text["output-path"].strip()).expanduser()
        if out.resolve() in (data.resolve(), template.resolve()):
            raise BatchtuiError(f"{out}: the output would overwrite an input file; name another.")
        return Source(out, template, data)

    # --- checking

    def _check(self, endpoint: str | None = None) -> None:
        """Check the source the fields name (for `endpoint`, else the file's own), cancelling any check under way;
        or say what is missing."""
        self._run += 1
        self.workers.cancel_group(self, "check")
        self.checked = None
        self.query_one("#anyway").display = False
        self.query_one("#as-job").display = False
        try:
            source = self._source()
        except BatchtuiError as exc:
            self._checking = False
            self._show(literal(str(exc), "dim"))
        else:
            self._checking = True
            doing = f"Validating {source.batch_file.name}…"
            if source.data is not None:
                doing = f"Making {source.batch_file.name} from {source.data.name}, then validating it…"
            self._show(literal(doing))
            self.check(self._run, source, endpoint)
        self._update_submit()

    @work(thread=True, group="check", exit_on_error=False)
    def check(self, run: int, source: Source, endpoint: str | None) -> None:
        worker = get_current_worker()

        def cancelled() -> bool:
            return worker.is_cancelled

        def progress(done: int, total: int) -> None:
            self.app.call_from_thread(self._check_progress, run, done, total)

        try:
            made = None
            if source.template is not None and source.data is not None:
                made = make_batch_file(source.template, source.data, source.batch_file, endpoint=endpoint,
                                       progress=progress, cancelled=cancelled)
            report = validate_file(source.batch_file, endpoint=endpoint, progress=progress, cancelled=cancelled,
                                   kind=self.app.profile.kind)
            workspace = self.app.workspace
            if workspace is not None and report.lines_without_ceiling and report.model is not None:
                report = report.with_history(workspace.output_history(report.model))
        except (BatchFileCancelled, ValidateCancelled):
            return
        except BatchtuiError as exc:
            self.app.call_from_thread(self._check_failed, run, str(exc))
            return
        checked = CheckedFile(source, report, first_lines(source.batch_file), made)
        self.app.call_from_thread(self._checked, run, checked)

    def worker_failed(self, worker: Worker[object], line: str) -> None:
        """A check that failed says why (the file can be checked again); a failed submit unlocks the form."""
        if worker.group == "check":
            self._check_failed(self._run, line)
        elif worker.group == "submit":
            self._set_submitting("")

    def _check_progress(self, run: int, done: int, total: int) -> None:
        """Rows made (total 0) or bytes validated; the bar shows only for files big enough to report progress."""
        if run == self._run and not (total and done >= total):
            bar = self.query_one("#check-progress", ProgressBar)
            bar.display = True
            bar.update(total=total or None, progress=done)

    def _checked(self, run: int, checked: CheckedFile) -> None:
        if run != self._run:
            return
        self._checking = False
        self.checked = checked
        self._show(report_renderable(checked), preview_renderable(checked.preview))
        endpoint = checked.report.endpoint
        known = endpoint is not None and canonical_endpoint(endpoint, self.app.profile.kind) is not None
        self.query_one("#endpoint", Select).value = endpoint if known else Select.BLANK
        anyway = self.query_one("#anyway", Checkbox)
        anyway.value = False
        over = checked.report.over_batch_limits  # no batch can take it: the job is offered instead of "anyway"
        anyway.display = not checked.report.ok and not over
        self.query_one("#as-job").display = over
        self._update_submit()

    def _check_failed(self, run: int, message: str) -> None:
        if run == self._run:
            self._checking = False
            self._show(literal(message, "red"))
            self._update_submit()

    def _show(self, report: RenderableType, preview: RenderableType = "") -> None:
        self.query_one("#check-progress").display = False
        self.query_one("#report-body", Static).update(report)
        self.query_one("#preview-body", Static).update(preview)

    # --- the form

    @on(Input.Changed, "#description, #metadata")
    def _metadata_changed(self) -> None:
        error = self._metadata_error()
        message = self.query_one("#metadata-error", Static)
        message.update(literal(error))
        message.display = bool(error)
        self.query_one("#metadata").set_class(bool(error), "-invalid")
        self._update_submit()

    def _metadata(self) -> dict[str, str]:
        return parse_metadata(self.query_one("#description", Input).value, self.query_one("#metadata", Input).value)

    def _metadata_error(self) -> str:
        try:
            self._metadata()
        except ValueError as exc:
            return f"Metadata: {exc}."
        return ""

    @on(Checkbox.Changed, "#anyway")
    def _update_submit(self) -> None:
        """Enable Submit, or say beside it why it is blocked."""
        blocked = self._blocker()
        report = self.checked.report if self.checked else None
        if report and report.over_batch_limits and not self._submitting:
            note = "Over the API's limits for one batch: As a job (^t) cuts it into parts and carries them to the end."
        elif blocked:
            note = "Fix the metadata above." if blocked == self._metadata_error() else blocked
        elif report and not report.ok:
            note = f"Submitting with {plural(report.problems_total, 'problem')}: the API will likely fail the batch."
        else:
            note = "Ready: Submit uploads the file and starts the batch."
        self.query_one("#submit-note", Static).update(literal(note))
        self.query_one("#submit-note").set_class(bool(blocked), "-blocked")
        self.query_one("#submit", Button).disabled = bool(blocked)
        self.query_one("#as-job", Button).disabled = bool(self._job_blocker())

    def _blocker(self) -> str:
        """Why the batch cannot be submitted now, or "" when it can."""
        if self._submitting:
            return self._submitting
        if self._checking:
            return "Wait for the check to finish."
        if self.checked is None:
            return "Nothing to submit yet: pick a file that can be checked."
        if error := self._metadata_error():
            return error
        if not isinstance(self.query_one("#endpoint", Select).value, str):
            return "Choose the endpoint."
        report = self.checked.report
        if not report.ok and not self.query_one("#anyway", Checkbox).value:
            return f"{plural(report.problems_total, 'problem')}: fix the file, or tick Submit anyway."
        return ""

    def _job_blocker(self) -> str:
        """Why the input cannot be started as a job now, or "" when it can (planning reports its problems)."""
        if self._submitting:
            return self._submitting
        if self._checking:
            return "Wait for the check to finish."
        if self.checked is None:
            return "Nothing to start yet: pick a file that can be checked."
        return ""

    # --- submitting

    @on(Button.Pressed, "#submit")
    def action_submit(self) -> None:
        if blocked := self._blocker():
            self.notify(blocked, title="Cannot submit yet", severity="warning", markup=False)
            return
        assert self.checked is not None
        endpoint = self.query_one("#endpoint", Select).value
        assert isinstance(endpoint, str)
        self.submit(self.checked.source.batch_file, endpoint, self._metadata(), self.checked.report.cost)

    @work(group="submit", exit_on_error=False)
    async def submit(self, path: Path, endpoint: str, metadata: dict[str, str], estimate: Cost | None) -> None:
        self.query_one("#upload-progress", ProgressBar).update(total=None, progress=0)
        self._set_submitting(f"Uploading {path.name}…")
        try:
            workspace = await self.app.wait_for_workspace()
            file_id = await self._upload(workspace, path)
            self._set_submitting("Creating the batch…")
            batch = await workspace.start_batch(file_id, endpoint, metadata=metadata or None,
                                                estimate=estimate)
        except (BatchtuiError, OSError) as exc:
            self._set_submitting("")
            self.notify(str(exc), title="Cannot submit", severity="error", markup=False)
            return
        self.app.batches = (batch, *self.app.batches)
        self.app.notify(f"Started {batch.id} from {path.name}.", title="New batch", markup=False)
        self.dismiss()
        self.app.open_batch(batch.id)

    @on(Button.Pressed, "#as-job")
    def action_start_job(self) -> None:
        if blocked := self._job_blocker():
            self.notify(blocked, title="Cannot start a job yet", severity="warning", markup=False)
            return
        assert self.checked is not None
        source = self.checked.source
        endpoint = self.query_one("#endpoint", Select).value
        endpoint = endpoint if isinstance(endpoint, str) else None
        self.start_job(JobSource(jsonl=source.batch_file, endpoint=endpoint) if source.template is None else
                       JobSource(template=source.template, data=source.data, endpoint=endpoint))

    @work(group="submit", exit_on_error=False)
    async def start_job(self, source: JobSource) -> None:
        """Plan the job (in a thread: it reads the whole input), record it and open it; the app advances it."""
        self.query_one("#upload-progress", ProgressBar).update(total=None, progress=0)
        self._set_submitting("Planning the job…")
        try:
            workspace = await self.app.wait_for_workspace()
            runner = JobRunner(workspace)
            plan = await asyncio.to_thread(plan_job, source, JobOptions(), runner.jobs_dir,
                                           kind=workspace.profile.kind, history=workspace.output_history)
            if plan.job is None:
                first = plan.report.problems[0].describe(source.describe()) if plan.report.problems else ""
                raise BatchtuiError(f"{plural(plan.report.problems_total, 'problem')}, nothing was started: {first}")
            job = await runner.record(plan)
        except (BatchtuiError, OSError) as exc:
            self._set_submitting("")
            self.notify(str(exc), title="Cannot start the job", severity="error", markup=False)
            return
        self.app.notify(f"Started job {job.name}: {plural(len(plan.parts), 'part')}.", title="New job", markup=False)
        self.dismiss()
        self.app.open_job(job.id)
        self.app.advance_jobs()

    async def _upload(self, workspace: Workspace, path: Path) -> str:
        """The file's id on the API, uploading it unless this very file went up on an earlier try."""
        stat = path.stat()
        key = (path.resolve(), stat.st_size, stat.st_mtime_ns)
        if key not in self._uploads:
            progress = on_app_thread(self.app, self._upload_progress)
            self._uploads[key] = (await workspace.upload(path, progress=progress)).id
        return self._uploads[key]

    def _set_submitting(self, doing: str) -> None:
        """Say what submitting is doing (the form is locked meanwhile), or "" when it stopped."""
        self._submitting = doing
        self.query_one("#new-form").disabled = bool(doing)
        self.query_one("#upload-progress").display = bool(doing)
        self._update_submit()

    def _upload_progress(self, done: int, total: int) -> None:
        """Called as bytes go out (through `on_app_thread`, so from a thread too)."""
        self.query_one("#upload-progress", ProgressBar).update(total=max(total, 1), progress=done)

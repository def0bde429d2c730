"""One job: its header, then its parts as a timeline with each part's batches (⏎ opens one), its results over
every part (`o`) and cancel (`c`). The screen follows `app.jobs`, so each pass over the jobs redraws it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from batchtui.core.errors import BatchtuiError
from batchtui.core.insights.pricing import usd
from batchtui.core.text import plural, printable
from batchtui.core.timetext import clock
from batchtui.tui.commands import ScreenCommands
from batchtui.tui.format import STATUS_STYLES, literal
from batchtui.tui.screens.base import BatchtuiScreen
from batchtui.tui.screens.confirm import ConfirmScreen
from batchtui.tui.screens.jobs import eta_text, job_status, parts_text, requests_text

if TYPE_CHECKING:
    from batchtui.core.jobs.runner import AttemptView, JobRunner, JobView
    from batchtui.core.jobs.store import Part


def header_text(view: JobView, now: float) -> Text:
    """The job's facts, one to a line: name, id and when it was made; status and reason; source; model and
    endpoint; money and attempts; requests, parts and ETA; who advances it, when another process does."""
    job = view.job
    estimate = usd(job.estimate_usd) if job.estimate_usd is not None else "no price"
    ceiling = usd(job.max_cost_usd) if job.max_cost_usd is not None else "none"
    running = f" · {plural(len(view.running), 'batch', 'batches')} running" if view.running else ""
    lines = [
        Text.assemble(literal(job.name, "bold"), literal(f"  {job.id} · made {clock(job.created_at)}", "dim")),
        Text.assemble(job_status(view), literal(f" · {job.reason}" if job.reason not in (None, job.status) else ""),
                      literal(running)),
        literal(f"source: {job.source}"),
        literal(f"{job.model or 'no model'} · {job.endpoint} · {job.input_tokens:,} input tokens"),
        literal(f"estimate {estimate} · spent {usd(view.spend)} · ceiling {ceiling} · "
                f"at most {plural(job.max_attempts, 'attempt')}"),
        literal(f"requests ok/failed/pending {requests_text(view)} · parts done {parts_text(view)} · "
                f"ETA {eta_text(view, now)}"),
    ]
    if view.watching:
        lines.append(literal(f"advanced by another process: {view.watching}", "dim"))
    return Text("\n").join(lines)


def part_line(part: Part) -> Text:
    state = "done" if part.done else "open"
    return literal(f"Part {part.part} · {part.requests:,} requests · {part.succeeded:,} ok · {part.failed:,} failed"
                   f" · {part.pending:,} pending · {state}", "bold")


def attempt_line(item: AttemptView) -> Text:
    """'  #2 batch_…  completed  27/30 done, 3 failed': an attempt of a part and its batch as last seen."""
    attempt, batch = item.attempt, item.batch
    status = batch.status if batch else ("sending" if attempt.create_started else "waiting")
    counts = batch.request_counts if batch else None
    figures = plural(attempt.requests, "request")
    if counts is not None and counts.total:
        failed = f", {counts.failed:,} failed" if counts.failed else ""
        figures = f"{counts.completed:,}/{counts.total:,} done{failed}"
    note = " · refused for the enqueued-token limit, sent again" if attempt.state == "limited" else ""
    return Text.assemble(literal(f"  #{attempt.attempt} {attempt.batch_id or '(no batch yet)'}  "),
                         literal(status, STATUS_STYLES.get(status, "")), literal(f"  {figures}{note}", "dim"))


class JobDetailScreen(BatchtuiScreen[None]):
    """A job by id; ⏎ on a batch line (or a part, for its latest batch) opens the batch's detail."""

    DEFAULT_CSS = """
    JobDetailScreen #job-header { height: auto; padding: 0 1; background: $boost; }
    JobDetailScreen #job-parts { height: 1fr; border: none; }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("o", "open_results", "Results"),
        Binding("c", "cancel_job", "Cancel job"),
        Binding("y", "copy_id", "Copy id"),
    ]
    COMMANDS = {ScreenCommands}
    PALETTE = (
        ("Open the job's results", "Every request of every part, each with its latest attempt", "open_results"),
        ("Cancel the job", "Send nothing more and cancel its running batches (asks first)", "cancel_job"),
        ("Copy the job id", "Copy this job's id to the clipboard", "copy_id"),
    )

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.view: JobView | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(literal("Loading the job…"), id="job-header")
        yield OptionList(id="job-parts", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.watch(self.app, "jobs", self._follow, init=False)
        known = next((view for view in self.app.jobs if view.job.id == self.job_id), None)
        if known is not None:
            self.show(known)
        else:
            self.load()

    def _follow(self, views: tuple[JobView, ...]) -> None:
        view = next((view for view in views if view.job.id == self.job_id), None)
        if view is not None:
            self.show(view)

    async def _runner(self) -> JobRunner:
        from batchtui.core.jobs.runner import JobRunner

        return self.app.job_runner or JobRunner(await self.app.wait_for_workspace())

    @work(exclusive=True, group="job-load", exit_on_error=False)
    async def load(self) -> None:
        """The job from the cache (one just started is not in `app.jobs` until the next pass)."""
        try:
            self.show(await (await self._runner()).view(self.job_id))
        except BatchtuiError as exc:
            self.query_one("#job-header", Static).update(literal(str(exc), "red"))

    def show(self, view: JobView) -> None:
        """Draw the job, keeping the highlighted line on the same part or batch."""
        self.view = view
        self.sub_title = printable(view.job.name)
        self.query_one("#job-header", Static).update(header_text(view, self.app.clock()))
        parts = self.query_one(OptionList)
        highlighted = parts.highlighted_option.id if parts.highlighted_option is not None else None
        options = []
        for part in view.parts:
            options.append(Option(part_line(part), id=f"part:{part.part}"))
            for item in (a for a in view.attempts if a.attempt.part == part.part):
                options.append(Option(attempt_line(item), id=f"attempt:{part.part}:{item.attempt.attempt}"))
        parts.clear_options()
        parts.add_options(options)
        ids = [option.id for option in options]
        if options:
            parts.highlighted = ids.index(highlighted) if highlighted in ids else 0
        self.refresh_bindings()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        """A batch line opens its batch; a part line, its latest batch."""
        if self.view is None or event.option.id is None:
            return
        kind, _, rest = event.option.id.partition(":")
        part = int(rest.split(":")[0])
        items = [a for a in self.view.attempts if a.attempt.part == part and a.attempt.batch_id]
        if kind == "attempt":
            items = [a for a in items if a.attempt.attempt == int(rest.split(":")[1])]
        if items:
            batch_id = items[-1].attempt.batch_id
            assert batch_id is not None
            self.app.open_batch(batch_id)
        else:
            self.notify("No batch of it has been created yet.", markup=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_job":
            return None if self.view is None or self.view.job.ended else True
        if action in ("open_results", "copy_id"):
            return self.view is not None
        return True

    def action_open_results(self) -> None:
        from batchtui.tui.screens.results import JobResults, ResultsScreen

        if self.view is not None:
            self.app.push_screen(ResultsScreen(JobResults(self.job_id), printable(self.view.job.name)))

    def action_copy_id(self) -> None:
        self.app.copy(self.job_id, "job id")

    def action_cancel_job(self) -> None:
        if self.view is None:
            return
        running = len(self.view.running)
        stopped = f" and {plural(running, 'running batch')} {'is' if running == 1 else 'are'} cancelled" if running \
            else ""
        question = (f"Cancel job {self.view.job.name} ({self.job_id})? Nothing more is sent{stopped}; finished "
                    "answers stay and export.")
        self.app.push_screen(ConfirmScreen(question, "Cancel the job"),
                             lambda yes: self.cancel_job() if yes else None)

    @work(exclusive=True, group="job-cancel", exit_on_error=False)
    async def cancel_job(self) -> None:
        try:
            view = await (await self._runner()).cancel(self.job_id)
        except BatchtuiError as exc:
            self.notify(str(exc), title="Cannot cancel the job", severity="error", markup=False)
            return
        self.app.adopt_job(view)
        self.notify(f"Cancelled {view.job.name}.", title="Job", markup=False)

"""Advancing a job: each pass reads the batches of its attempts that are running, settles those that ended (their
results decide what is sent again), and submits the attempts that are waiting while the model's enqueued-token
budget and the cost ceiling allow. The app and `batchtui job run` drive the same passes; a lease in the cache lets
one process advance a job while others watch.

Exactly once: before an upload or a batch creation the attempt records that it began; a pass that finds such a
mark without its result looks for the file (name, size, time) or the batch (metadata batchtui_job, batchtui_part,
batchtui_attempt) before sending again, and a batch is created without the SDK's blind retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from batchtui.core.api.backoff import Backoff
from batchtui.core.api.models import Batch
from batchtui.core.authoring.batch_file import data_rows_by_custom_id, load_manifest
from batchtui.core.domain import ACTIVE_STATUSES, ProgressCallback
from batchtui.core.errors import BadRequestError, BatchtuiError, NotFoundError
from batchtui.core.insights.pricing import batch_cost
from batchtui.core.jobs.plan import JobPlan
from batchtui.core.jobs.store import Attempt, Job, JobStore, Part, runner_id
from batchtui.core.results.export import DataJoin, check_export_dest, export_results, wants_data
from batchtui.core.results.index import Outcome, ResultFiles, ResultIndex, build_index
from batchtui.core.results.retry import RETRY_OF, write_retry_file
from batchtui.core.workspace import Workspace

JOB, PART, ATTEMPT = "batchtui_job", "batchtui_part", "batchtui_attempt"
"""The metadata that names a job's batch, so it is found again after a crash."""
LIMIT_CODE = "token_limit_exceeded"
LIMIT_IN_MESSAGE = re.compile(r"Limit:\s*([\d,]+)\s*enqueued tokens")
LEARNT_LIMIT = "enqueued_token_limit:"
"""Cache meta key (+ model) of an enqueued-token limit learnt from the API's refusal."""
MAX_LIMITED_ALONE = 3
"""Refusals for the limit in a row, sent with nothing else of the model in flight, before a part is given up."""
POLL_SECONDS = 5.0
ABANDONED_PLAN_SECONDS = 3600.0
MAX_BACKOFF_SECONDS = 300.0


class _LeaseHeld(Exception):
    """Another process holds the job: this one only watches."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


class JobRefused(BatchtuiError):
    """The job was not started: its estimate is over the cost ceiling, or it cannot be priced against one."""


def retryable(index: ResultIndex, row: int) -> bool:
    """Whether the row's latest result is a passing failure worth sending again: a 5xx or 429, an error with no
    status, batch_expired, or no result at all (its batch expired or failed before reaching it)."""
    outcome = index.outcome(row)
    if outcome in (Outcome.EXPIRED, Outcome.PENDING):
        return True
    if outcome != Outcome.FAILED:
        return False
    status = index.status_code(row)
    return status is None or status == 429 or status >= 500


@dataclass(frozen=True)
class AttemptView:
    """An attempt as `job show` lists it: its batch as last seen."""

    attempt: Attempt
    batch: Batch | None


@dataclass(frozen=True)
class JobView:
    """A job with its parts, attempts and their batches, and the figures the CLI and the app show."""

    job: Job
    parts: list[Part]
    attempts: list[AttemptView]
    spend: Decimal
    """What the job's batches have cost so far, at batch prices, from their usage."""
    watching: str | None = None
    """Who holds the job's lease, when it is not this process."""

    @property
    def running(self) -> list[AttemptView]:
        return [a for a in self.attempts if a.attempt.state == "running"]

    @property
    def in_flight(self) -> tuple[int, int]:
        """(done, failed) requests of the batches still running, as they last reported."""
        done = failed = 0
        for view in self.running:
            counts = view.batch.request_counts if view.batch else None
            if counts is not None:
                done += counts.completed
                failed += counts.failed
        return done, failed

    @property
    def succeeded(self) -> int:
        return sum(p.succeeded for p in self.parts)

    @property
    def failed(self) -> int:
        return sum(p.failed for p in self.parts)

    @property
    def pending(self) -> int:
        return self.job.requests - self.succeeded - self.failed

    def eta(self, now: float) -> float | None:
        """When the job may end, at the pace it has kept since it was made (requests settled or answered by
        running batches per second); None before anything is answered or once nothing is left."""
        done_in_flight, failed_in_flight = self.in_flight
        done = self.succeeded + self.failed + done_in_flight + failed_in_flight
        left = self.job.requests - done
        elapsed = now - self.job.created_at
        if self.job.ended or done <= 0 or left <= 0 or elapsed <= 0:
            return None
        return now + left * elapsed / done

    @property
    def finished(self) -> bool:
        """The job has ended and no batch of it is still running: nothing more will happen."""
        return self.job.ended and not self.running

    @property
    def stuck(self) -> bool:
        """Paused with nothing in flight: it waits for the user (a higher ceiling), not for a batch."""
        return self.job.status == "paused" and not self.running

    def to_dict(self) -> dict[str, object]:
        job = self.job
        return {
            "id": job.id, "name": job.name, "status": job.status, "reason": job.reason, "source": job.source,
            "endpoint": job.endpoint, "model": job.model, "created_at": job.created_at,
            "requests": {"total": job.requests, "succeeded": self.succeeded, "failed": self.failed,
                         "pending": self.pending},
            "estimate_usd": None if job.estimate_usd is None else f"{job.estimate_usd:f}",
            "spend_usd": f"{self.spend:f}",
            "max_cost_usd": None if job.max_cost_usd is None else f"{job.max_cost_usd:f}",
            "max_attempts": job.max_attempts,
            "parts": [
                {"part": p.part, "requests": p.requests, "succeeded": p.succeeded, "failed": p.failed,
                 "pending": p.pending, "done": p.done,
                 "batches": [_attempt_dict(a) for a in self.attempts if a.attempt.part == p.part]}
                for p in self.parts
            ],
        }


def _attempt_dict(view: AttemptView) -> dict[str, object]:
    batch = view.batch
    counts = batch.request_counts if batch else None
    return {
        "attempt": view.attempt.attempt, "state": view.attempt.state, "requests": view.attempt.requests,
        "batch_id": view.attempt.batch_id, "status": batch.status if batch else None,
        "counts": None if counts is None else {"total": counts.total, "completed": counts.completed,
                                               "failed": counts.failed},
    }


class JobRunner:
    """Records, advances, cancels and reads back the jobs of one workspace (`plan_job` plans them)."""

    def __init__(self, workspace: Workspace, *, owner: str | None = None) -> None:
        self.ws = workspace
        self.store = JobStore(workspace.cache_path)
        self.owner = owner or runner_id()

    @property
    def jobs_dir(self) -> Path:
        return self.ws.cache_dir / "jobs"

    async def record(self, plan: JobPlan) -> Job:
        """Record a planned job, or refuse it over the ceiling (its folder removed); nothing is uploaded yet."""
        job = plan.job
        if job is None:
            raise ValueError("a plan with problems has no job to record")
        ceiling = job.max_cost_usd
        why = None
        if ceiling is not None and job.estimate_usd is None:
            why = f"no cost estimate to hold it to the ceiling of ${ceiling} ({plan.report.no_price_reason})"
        elif ceiling is not None and job.estimate_usd is not None and job.estimate_usd > ceiling:
            why = f"its estimate, ${job.estimate_usd:.4f}, is over the ceiling of ${ceiling}"
        if why:
            shutil.rmtree(job.folder, ignore_errors=True)
            raise JobRefused(f"The job was not started: {why}. Nothing was uploaded.")
        await self.store.create(job, plan.parts, plan.attempts)
        await self._remove_abandoned_plans()
        return job

    async def _remove_abandoned_plans(self) -> None:
        """Remove the folders of plans that were never recorded: a planning killed half-way leaves one. Only those
        over an hour old, as another process may be planning one now."""
        recorded = {job.id for job in await self.store.jobs()}
        cutoff = time.time() - ABANDONED_PLAN_SECONDS
        for folder in self.jobs_dir.iterdir():
            with contextlib.suppress(OSError):
                if folder.name not in recorded and folder.stat().st_mtime < cutoff:
                    await asyncio.to_thread(shutil.rmtree, folder, True)

    async def view(self, ref: str) -> JobView:
        """The job (by id, id prefix or name) as the cache has it, with its batches as last seen."""
        job = await self.store.job(ref)
        return await self._view(job)

    async def _view(self, job: Job, watching: str | None = None) -> JobView:
        parts = await self.store.parts(job.id)
        attempts = await self.store.attempts(job.id)
        batches = {b.id: b for b in await self.ws.batches_by_id(a.batch_id for a in attempts if a.batch_id)}
        spend = Decimal(0)
        for batch in batches.values():
            cost = batch_cost(batch)
            if cost is not None:
                spend += cost.total_usd
        views = [AttemptView(a, batches.get(a.batch_id) if a.batch_id else None) for a in attempts]
        return JobView(job, parts, views, spend, watching)

    async def jobs(self) -> list[JobView]:
        return [await self._view(job) for job in await self.store.jobs()]

    # -- running ---------------------------------------------------------------------------------------------

    async def run(
        self, job_id: str, *, poll_seconds: float = POLL_SECONDS, on_pass: Callable[[JobView], None] | None = None,
        on_retry: Callable[[BatchtuiError, float], None] | None = None,
    ) -> JobView:
        """Advance the job until nothing more will happen (or it is paused with nothing in flight); passing
        failures (the network, the API's 5xx and 429) are ridden out with back-off. Safe to kill and run again."""
        backoff = Backoff(poll_seconds, max(poll_seconds, MAX_BACKOFF_SECONDS))
        try:
            while True:
                try:
                    view = await self.step(job_id)
                except BatchtuiError as exc:
                    if not exc.retryable:
                        raise
                    delay = backoff.failed(exc)
                    if on_retry is not None:
                        on_retry(exc, delay)
                    await asyncio.sleep(delay)
                    continue
                backoff.succeeded()
                if on_pass is not None:
                    on_pass(view)
                if view.finished or (view.stuck and view.watching is None):
                    return view
                await asyncio.sleep(poll_seconds)
        finally:
            await self.release(job_id)

    async def release(self, job_id: str) -> None:
        """Let go of the job, so another process (a `job run`, the app) may advance it at once."""
        await self.store.release_lease(job_id, self.owner)

    async def step(self, job_id: str) -> JobView:
        """One pass over the job, if this process holds (or can take) its lease; else the job as it is."""
        try:
            await self._hold(job_id)
            job = await self.store.job(job_id)
            for attempt in await self.store.attempts(job_id):
                if attempt.state == "running" and attempt.batch_id:
                    batch = await self.ws.fetch_batch(attempt.batch_id)
                    if job.status == "cancelled" and batch.status in ACTIVE_STATUSES and batch.status != "cancelling":
                        batch = await self.ws.cancel_batch(batch.id)
                    if batch.status not in ACTIVE_STATUSES:
                        await self._hold(job_id)
                        await self._settle(await self.store.job(job_id), attempt, batch)
            job = await self.store.job(job_id)
            if job.status in ("running", "paused"):
                await self._submit_waiting(job)
                job = await self._conclude(await self.store.job(job_id))
        except _LeaseHeld as held:
            return await self._view(await self.store.job(job_id), watching=held.holder)
        return await self._view(job)

    async def _hold(self, job_id: str) -> None:
        """Take or renew the job's lease before a step that changes it; _LeaseHeld when another process has it
        (a slow step of ours may have let it run out)."""
        holder = await self.store.take_lease(job_id, self.owner)
        if holder is not None:
            raise _LeaseHeld(holder)

    async def _conclude(self, job: Job) -> Job:
        """A job whose every part is done has completed (saying how many requests failed for good)."""
        parts = await self.store.parts(job.id)
        if job.status in ("running", "paused") and all(p.done for p in parts):
            failed = sum(p.failed for p in parts)
            reason = f"{failed:,} of {job.requests:,} requests failed for good" if failed else None
            await self.store.update_job(job.id, status="completed", reason=reason)
            return await self.store.job(job.id)
        return job

    # -- settling an attempt whose batch ended ---------------------------------------------------------------

    async def _settle(self, job: Job, attempt: Attempt, batch: Batch) -> None:
        parts = {p.part: p for p in await self.store.parts(job.id)}
        part = parts[attempt.part]
        attempts = [a for a in await self.store.attempts(job.id) if a.part == attempt.part]
        errors = (batch.errors.data if batch.errors else None) or []
        if batch.status == "failed" and any(e.code == LIMIT_CODE for e in errors):
            await self._settle_limited(job, part, attempt, attempts, batch,
                                       next((e.message for e in errors if e.code == LIMIT_CODE), None) or "")
            return
        if batch.status == "failed":
            first = next((e for e in errors), None)
            why = (first.message or first.code) if first else "no reason given"
            await self.store.settle(attempt, "ended", {"failed": part.requests - part.succeeded, "done": 1}, None)
            if not job.ended:
                await self.store.update_job(job.id, status="failed",
                                            reason=f"Part {part.part}'s batch {batch.id} failed: {why}")
            return
        files = await self._part_files(attempts, up_to=attempt.attempt)
        index = await asyncio.to_thread(build_index, files, store_dir=self.ws.index_dir())
        try:
            ok = final = 0
            again: list[int] = []
            for row in range(len(index)):
                if index.outcome(row) == Outcome.OK:
                    ok += 1
                elif job.ended and index.outcome(row) in (Outcome.CANCELLED, Outcome.PENDING):
                    continue  # the job was stopped: what it did not reach stays pending, not failed
                elif retryable(index, row):
                    again.append(row)
                else:
                    final += 1
            tried = sum(1 for a in attempts if a.counted and a.attempt <= attempt.attempt)
            following = None
            if again and tried < job.max_attempts and not job.ended:
                number = attempt.attempt + 1
                dest = Path(job.folder) / f"{job.id}-part-{part.part:04d}-attempt-{number}.jsonl"
                count = await asyncio.to_thread(write_retry_file, index, again, dest)
                tokens = round(part.input_tokens * count / max(part.requests, 1))
                following = Attempt(job.id, part.part, number, str(dest), count, tokens, True, "waiting", None,
                                    None, None, None, batch.id)
            changes = {"succeeded": ok, "failed": final + (0 if following or job.ended else len(again)),
                       "done": int(following is None and not job.ended)}
            if job.ended:  # cancelled or failed: what is not answered stays pending, the part is done
                changes["done"] = 1
        finally:
            index.close()
        await self.store.settle(attempt, "ended", changes, following)
        await self._log(attempts[0], files)

    async def _settle_limited(self, job: Job, part: Part, attempt: Attempt, attempts: list[Attempt], batch: Batch,
                              message: str) -> None:
        """The batch was refused for the enqueued-token limit: learn the limit, and send the same requests again
        (the same uploaded file) once nothing else of the model is in flight; not counted as an attempt. A part
        refused while alone, again and again, is over the limit by itself: the job fails, saying so."""
        learnt = LIMIT_IN_MESSAGE.search(message)
        if learnt and job.model:
            await self.ws.cache.set_meta(LEARNT_LIMIT + job.model, learnt.group(1).replace(",", ""))
        streak = 0  # refusals just before this one: each a resend, made with nothing else of the model in flight
        for earlier in reversed([a for a in attempts if a.attempt < attempt.attempt]):
            if earlier.state != "limited":
                break
            streak += 1
        if streak >= MAX_LIMITED_ALONE or job.ended:
            await self.store.settle(attempt, "limited", {"done": 1} if job.ended else {}, None)
            if not job.ended:
                await self.store.update_job(job.id, status="failed", reason=(
                    f"Part {part.part} ({attempt.input_tokens:,} input tokens) was refused for the enqueued-token "
                    f"limit {streak} times with nothing else of {job.model} running: it is over the limit by itself. "
                    "Plan the job again with smaller parts (--part-lines)."))
            return
        following = replace(attempt, attempt=attempt.attempt + 1, counted=False, state="waiting",
                            upload_started=None, create_started=None, batch_id=None, retry_of=batch.id)
        await self.store.settle(attempt, "limited", {}, following)

    async def _part_files(self, attempts: list[Attempt], *, up_to: int) -> ResultFiles:
        """A part's requests (its first attempt's file) with the results of its attempts up to `up_to` that made a
        batch, in order (a refused one adds none), so a row shows its latest; downloaded into the cache once."""
        results: list[ResultFiles] = []
        for attempt in attempts:
            if attempt.batch_id is None or attempt.attempt > up_to:
                continue
            batch = await self.ws.batch(attempt.batch_id) or await self.ws.fetch_batch(attempt.batch_id)
            got = {r.kind: r.path for r in await self.ws.fetch_results(batch)}
            results.append(ResultFiles(output=got.get("output"), errors=got.get("error")))
        first = results[0] if results else ResultFiles()
        return ResultFiles(input=Path(attempts[0].file), output=first.output, errors=first.errors,
                           retries=tuple(results[1:]))

    async def _log(self, first: Attempt, files: ResultFiles) -> None:
        """Put the part's requests in llm_logs under its first batch, each with its latest answer (its retries
        link to it), read from the part's own files. A failure here never stops the job: the app's import
        catches up."""
        batch = await self.ws.batch(first.batch_id) if first.batch_id else None
        if batch is None:
            return
        try:
            await self.ws.import_batch(batch, files=files)
        except BatchtuiError:
            return

    # -- submitting ------------------------------------------------------------------------------------------

    async def _submit_waiting(self, job: Job) -> None:
        """Send the waiting attempts, in part order, that the model's budget of enqueued tokens and the cost
        ceiling allow; the job's reason says why the others wait (paused: the ceiling)."""
        waiting = [a for a in await self.store.attempts(job.id) if a.state == "waiting"]
        parts = {p.part: p for p in await self.store.parts(job.id)}
        budget = await self._budget(job)
        blocked_by_cost: str | None = None
        held: str | None = None
        for attempt in waiting:
            in_flight = await self.store.tokens_in_flight(job.model)
            if attempt.create_started is None and in_flight:
                if not attempt.counted:  # resent after the limit: only once the model has nothing in flight
                    held = held or (f"part {attempt.part} waits until no batch of {job.model} is in flight "
                                    f"(it was refused for the enqueued-token limit)")
                    continue
                if budget is not None and in_flight + attempt.input_tokens > budget:
                    held = held or (f"parts wait for the enqueued-token budget: {in_flight:,} input tokens of "
                                    f"{job.model} in flight, {budget:,} allowed")
                    continue
            if attempt.create_started is None and (why := await self._over_ceiling(job, parts, attempt)):
                blocked_by_cost = why
                break
            await self._hold(job.id)
            await self._submit(job, parts[attempt.part], attempt)
        job = await self.store.job(job.id)
        if job.ended:  # a part's batch was refused outright while sending
            return
        status, reason = ("paused", blocked_by_cost) if blocked_by_cost else ("running", held)
        if (job.status, job.reason) != (status, reason):
            await self.store.update_job(job.id, status=status, reason=reason)

    async def _budget(self, job: Job) -> int | None:
        if job.enqueued_tokens is not None:
            return job.enqueued_tokens
        if job.model is None:
            return None
        if job.model in self.ws.profile.enqueued_token_limit:
            return self.ws.profile.enqueued_token_limit[job.model]
        learnt = await self.ws.cache.get_meta(LEARNT_LIMIT + job.model)
        return int(learnt) if learnt and learnt.isdigit() else None

    async def _over_ceiling(self, job: Job, parts: dict[int, Part], attempt: Attempt) -> str | None:
        """Why sending the attempt would pass the cost ceiling, or None: the spend so far, plus the estimate of
        what is in flight, plus its own estimate."""
        if job.max_cost_usd is None:
            return None
        view = await self._view(job)
        in_flight = sum((_estimate(parts[a.attempt.part], a.attempt) for a in view.running), Decimal(0))
        own = _estimate(parts[attempt.part], attempt)
        if view.spend + in_flight + own <= job.max_cost_usd:
            return None
        return (f"paused before part {attempt.part} (attempt {attempt.attempt}): spent ${view.spend:.4f}, "
                f"${in_flight:.4f} in flight and ${own:.4f} for it would pass the ceiling of ${job.max_cost_usd}")

    async def _submit(self, job: Job, part: Part, attempt: Attempt) -> None:
        """Upload the attempt's file and create its batch, each announced in the cache first and looked for
        before being sent again."""
        path = Path(attempt.file)
        file_id = attempt.file_id
        if file_id is None:
            found = None
            if attempt.upload_started is not None:
                found = await self.ws.service.find_upload(path.name, path.stat().st_size, since=attempt.upload_started)
            if found is None:
                await self.store.update_attempt(attempt, upload_started=time.time())
                found = await self.ws.upload(path)
            file_id = found.id
            await self.store.update_attempt(attempt, file_id=file_id)
        metadata = {JOB: job.id, PART: str(part.part), ATTEMPT: str(attempt.attempt)}
        batch = None
        if attempt.create_started is not None:
            batch = await self.ws.service.find_batch(metadata, since=attempt.create_started)
            if batch is not None:
                await self.ws.fetch_batch(batch.id)
        if batch is None:
            await self.store.update_attempt(attempt, create_started=time.time())
            described = {**metadata, "description": f"{job.name}: part {part.part}, attempt {attempt.attempt}"[:512]}
            if attempt.retry_of:
                described[RETRY_OF] = attempt.retry_of
            try:
                batch = await self.ws.start_batch(file_id, job.endpoint, metadata=described, once=True)
            except (BadRequestError, NotFoundError) as exc:
                if isinstance(exc, NotFoundError) and attempt.file_id is not None:
                    # The uploaded file is gone (expired, deleted): upload it again on the next pass.
                    await self.store.update_attempt(attempt, file_id=None, upload_started=None, create_started=None)
                    raise
                await self.store.update_job(job.id, status="failed", reason=f"Part {part.part} was refused: {exc}")
                await self.store.update_attempt(attempt, create_started=None)
                return
        await self.store.update_attempt(attempt, batch_id=batch.id, state="running")

    # -- reading back ----------------------------------------------------------------------------------------

    async def result_files(self, ref: str, *, progress: ProgressCallback | None = None) -> tuple[Job, ResultFiles]:
        """The whole job as one set of result files for the viewer and the export: its input, and the results of
        every batch of every part (downloaded into the cache once), each part's attempts in order so a row shows
        its latest; a batch still running is fetched first, in case it has ended."""
        view = await self.view(ref)
        pairs: list[tuple[int, Path | None, Path | None]] = []
        for item in sorted(view.attempts, key=lambda v: (v.attempt.attempt, v.attempt.part)):
            batch = item.batch
            if batch is not None and batch.status in ACTIVE_STATUSES:
                batch = await self.ws.fetch_batch(batch.id)
            if batch is None or not (batch.output_file_id or batch.error_file_id):
                continue
            got = {r.kind: r.path for r in await self.ws.fetch_results(batch, progress=progress)}
            pairs.append((item.attempt.attempt, got.get("output"), got.get("error")))
        first = pairs[0] if pairs else (1, None, None)
        files = ResultFiles(input=view.job.input, output=first[1], errors=first[2],
                            retries=tuple(ResultFiles(output=out, errors=err) for _, out, err in pairs[1:]),
                            attempts=tuple(number for number, _, _ in pairs))
        return view.job, files

    async def sources(self, ref: str) -> set[Path]:
        """The job's own files, which an export must never replace: its input, and for a job made from a template
        its manifest and the data file that names."""
        job = await self.store.job(ref)
        own = {job.input}
        if job.manifest:
            own.add(Path(job.manifest))
            with contextlib.suppress(BatchtuiError):
                own.add(load_manifest(Path(job.manifest)).data_file)
        return own

    async def data_join(self, ref: str) -> DataJoin | None:
        """The data rows a job made from a template and data was made from, to export beside the answers; None
        for a job made from a JSONL file."""
        job = await self.store.job(ref)
        if not job.manifest:
            return None
        manifest = load_manifest(Path(job.manifest))
        columns, by_id = await asyncio.to_thread(data_rows_by_custom_id, manifest)
        return DataJoin(columns, {custom_id: row.values for custom_id, row in by_id.items()})

    async def export(self, ref: str, dest: Path, *, progress: ProgressCallback | None = None) -> int:
        """Write each input row of the job once, in the input's order, with its latest attempt's result: CSV with
        the data's columns for a job made from a template and data (custom_id, status, error, prompt, answer and
        tokens otherwise), or JSONL by the name's suffix. Returns the rows written."""
        check_export_dest(dest, await self.sources(ref))
        job, files = await self.result_files(ref)
        data = await self.data_join(job.id) if wants_data(dest) else None
        index = await asyncio.to_thread(build_index, files, store_dir=self.ws.index_dir())
        try:
            rows = [row for row in range(len(index)) if index.line_number(row, "input") is not None]
            return await asyncio.to_thread(export_results, index, rows, dest, data=data, progress=progress)
        finally:
            index.close()

    async def delete(self, ref: str) -> Job:
        """Forget a job that will do nothing more, and remove its folder (its input, parts and retries); its
        batches and their results stay on the API and in the cache. A job still running is refused: cancel it."""
        view = await self.view(ref)
        if not view.finished and not view.stuck:
            raise BatchtuiError(f"{view.job.id} is {view.job.status}: cancel it first (batchtui job cancel).")
        await self.store.delete(view.job.id)
        await asyncio.to_thread(shutil.rmtree, view.job.folder, True)
        return view.job

    async def set_ceiling(self, ref: str, ceiling: Decimal) -> None:
        """Hold the job to a new cost ceiling from its next pass on (a paused job is looked at again then)."""
        await self.store.update_job((await self.store.job(ref)).id, max_cost_usd=ceiling)

    # -- cancelling ------------------------------------------------------------------------------------------

    async def cancel(self, ref: str) -> JobView:
        """Stop the job: nothing more is sent, its running batches are cancelled (their finished answers stay and
        export). Any process advancing it stops submitting at its next pass."""
        job = await self.store.job(ref)
        if job.ended:
            return await self._view(job)
        await self.store.update_job(job.id, status="cancelled", reason=None)
        for attempt in await self.store.attempts(job.id):
            if attempt.state == "waiting" and attempt.create_started is not None and attempt.batch_id is None:
                metadata = {JOB: job.id, PART: str(attempt.part), ATTEMPT: str(attempt.attempt)}
                found = await self.ws.service.find_batch(metadata, since=attempt.create_started)
                if found is not None:
                    await self.store.update_attempt(attempt, batch_id=found.id, state="running")
                    attempt = replace(attempt, batch_id=found.id, state="running")
            if attempt.state == "running" and attempt.batch_id:
                await self.ws.cancel_batch(attempt.batch_id)
        return await self._view(await self.store.job(job.id))


def _estimate(part: Part, attempt: Attempt) -> Decimal:
    """An attempt's share of its part's estimate, by requests."""
    if part.estimate_usd is None or not part.requests:
        return Decimal(0)
    return part.estimate_usd * attempt.requests / part.requests


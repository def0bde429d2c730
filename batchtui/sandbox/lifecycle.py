"""The batch lifecycle: a background thread moves every active batch through its phases on a
simulated clock, so batches progress whether or not anyone polls them.

validating -> in_progress -> finalizing -> completed, or failed at validation; cancel goes through
cancelling to cancelled, and expire (a test knob) ends the completion window at once. Phase
lengths come from each batch's Plan, in simulated seconds, divided by the server's speed.
Batches never expire by themselves: at high speed the 24 h window would pass in under a second,
before generation could finish, so expiry happens only through `expire`.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import ids
from .catalogue import ModelCatalogue
from .errors import ApiError
from .fake_model import SNAPSHOTS
from .gateway import RequestStats
from .generation import OutputWriter
from .store import THIRTY_DAYS, BatchRecord, FileRecord, Progress, Store
from .validation import validate_input

log = logging.getLogger("batchtui.sandbox")

CHUNK_LINES = 2000
SAVE_EVERY_S = 1.0
CANCELLABLE = ("validating", "in_progress", "finalizing")
EXPIRABLE = ("validating", "in_progress", "finalizing")
ENQUEUED = ("validating", "in_progress", "finalizing")
ORGANIZATION = "org-sandbox"
TOKEN_LIMIT_STAT = "batches_failed.token_limit_exceeded"


@dataclass
class _Command:
    run: Callable[[], BatchRecord]
    done: threading.Event
    result: BatchRecord | None = None
    error: BaseException | None = None


class Engine:
    """Owns all batch state changes after creation; API threads ask it through `cancel`/`expire`."""

    def __init__(
        self,
        store: Store,
        speed: float,
        fail_rate: float,
        catalogue: ModelCatalogue,
        stats: RequestStats,
        enqueued_token_limit: int | None = None,
    ) -> None:
        self.store = store
        self.speed = speed
        self.fail_rate = fail_rate
        self.catalogue = catalogue
        self.stats = stats
        self.enqueued_token_limit = enqueued_token_limit
        self._writers: dict[str, OutputWriter] = {}
        self._last_save: dict[str, float] = {}
        self._commands: list[_Command] = []
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.id_rng: random.Random | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="sandbox-engine", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)
        for batch_id, writer in list(self._writers.items()):
            self._checkpoint(self.store.batches[batch_id], writer, force=True)
            writer.close()
        self._writers.clear()

    def wake(self) -> None:
        with self._wake:
            self._wake.notify_all()

    def cancel(self, batch_id: str) -> BatchRecord:
        """Move an active batch to cancelling now; the engine finishes it to cancelled."""
        with self.store.lock:
            batch = self.store.batches[batch_id]
            if batch.status in ("cancelling", "cancelled"):
                return batch
            if batch.status not in CANCELLABLE:
                raise ApiError(409, f"Cannot cancel a batch with status '{batch.status}'.")
            batch.status = "cancelling"
            batch.cancelling_at = int(time.time())
            batch.phase_started = time.time()
            self.store.save_batch(batch)
        self.wake()
        return batch

    def expire(self, batch_id: str) -> BatchRecord:
        """End the completion window of an active batch now; returns once it is expired."""
        return self._submit(lambda: self._expire(batch_id))

    def _submit(self, run: Callable[[], BatchRecord]) -> BatchRecord:
        command = _Command(run, threading.Event())
        with self._wake:
            self._commands.append(command)
            self._wake.notify_all()
        if not command.done.wait(timeout=60):
            raise TimeoutError("sandbox engine did not answer within 60 s")
        if command.error is not None:
            raise command.error
        assert command.result is not None
        return command.result

    def _loop(self) -> None:
        while True:
            with self._wake:
                if self._stopping:
                    return
                commands, self._commands = self._commands, []
            for command in commands:
                try:
                    command.result = command.run()
                except BaseException as exc:  # handed back to the waiting caller
                    command.error = exc
                command.done.set()
            busy = False
            next_due = math.inf
            for batch in self.store.active_batches():
                try:
                    worked, due = self._step(batch)
                except Exception:
                    log.exception("sandbox: batch %s failed to advance", batch.id)
                    self._fail(batch, "server_error", "The batch could not be processed by the sandbox.")
                    continue
                busy |= worked
                next_due = min(next_due, due)
            if busy:
                continue
            with self._wake:
                if not self._stopping and not self._commands:
                    self._wake.wait(timeout=max(0.0, min(next_due - time.time(), 0.25)))

    def gone_at(self, now: float, lifetime: int | None, *, asked: bool) -> float | None:
        """When a file created at `now` that expires after `lifetime` seconds is deleted: an expiry the client
        asked for passes on the simulated clock (a test sees it happen), the default 30 days on the wall clock
        (a fast sandbox keeps its files as long as OpenAI would)."""
        if lifetime is None:
            return None
        return now + (lifetime / self.speed if asked else lifetime)

    def _elapsed(self, batch: BatchRecord, now: float) -> float:
        return (now - batch.phase_started) * self.speed

    def _due(self, batch: BatchRecord, sim_seconds: float) -> float:
        return batch.phase_started + sim_seconds / self.speed

    def _step(self, batch: BatchRecord) -> tuple[bool, float]:
        """Advance one batch as far as its clock allows; returns (did work, next wall time due)."""
        now = time.time()
        plan = batch.plan
        if batch.status == "validating":
            if self._elapsed(batch, now) < plan.validate_s:
                return False, self._due(batch, plan.validate_s)
            self._validate(batch)
            return True, now
        if batch.status == "in_progress":
            target = min(
                batch.total, int(self._elapsed(batch, now) / plan.per_line_s) if plan.per_line_s else batch.total
            )
            writer = self._writer(batch)
            done = writer.progress.done
            if done < target:
                writer.run(min(target - done, CHUNK_LINES))
                self._checkpoint(batch, writer)
            if writer.progress.done >= batch.total:
                self._transition(batch, "in_progress", "finalizing", finalizing_at=int(time.time()))
                return True, now
            return done < target, self._due(batch, (writer.progress.done + 1) * plan.per_line_s)
        if batch.status == "finalizing":
            if self._elapsed(batch, now) < plan.finalize_s:
                return False, self._due(batch, plan.finalize_s)
            self._finish(batch, "finalizing", "completed")
            return True, now
        if batch.status == "cancelling":
            if batch.total and batch.progress.done < batch.total:
                self._stop_remaining(batch, "batch_cancelled")
                return True, now
            if self._elapsed(batch, now) < plan.cancel_s:
                return False, self._due(batch, plan.cancel_s)
            self._finish(batch, "cancelling", "cancelled")
            return True, now
        return False, math.inf

    def _validate(self, batch: BatchRecord) -> None:
        with self.store.lock:
            source = self.store.files.get(batch.input_file_id)
        if source is None:
            self._fail(batch, "invalid_request", f"The input file {batch.input_file_id} was deleted.", "input_file_id")
            return
        limit = self.enqueued_token_limit
        path = self.store.blob_path(source.id)
        result = validate_input(path, batch.endpoint, self.catalogue, count_tokens=limit is not None)
        if result.errors:
            self._fail_with(batch, result.errors)
            return
        model = SNAPSHOTS.get(result.model, result.model) if result.model is not None else None
        with self.store.lock:
            if batch.status != "validating":
                return
            if limit is not None and result.model is not None:
                enqueued = sum(
                    b.enqueued_tokens for b in self.store.batches.values() if b.model == model and b.status in ENQUEUED
                )
                if enqueued + result.input_tokens > limit:
                    self._fail(
                        batch,
                        "token_limit_exceeded",
                        f"Enqueued token limit reached for {result.model} in organization {ORGANIZATION}. "
                        f"Limit: {limit:,} enqueued tokens. Please try submitting your batch again later.",
                    )
                    self.stats.add(TOKEN_LIMIT_STAT)
                    return
            batch.total = result.total
            batch.model = model
            batch.enqueued_tokens = result.input_tokens
            batch.status = "in_progress"
            batch.in_progress_at = int(time.time())
            batch.phase_started = time.time()
            self.store.save_batch(batch)

    def _fail(
        self, batch: BatchRecord, code: str, message: str, param: str | None = None, line: int | None = None
    ) -> None:
        self._fail_with(batch, [{"code": code, "message": message, "param": param, "line": line}])

    def _fail_with(self, batch: BatchRecord, errors: list[dict[str, Any]]) -> None:
        """End a batch as failed with these BatchError bodies, dropping any work done."""
        self._drop_writer(batch.id)
        with self.store.lock:
            batch.status = "failed"
            batch.failed_at = int(time.time())
            batch.errors = errors
            batch.total = 0
            batch.progress = Progress()
            self.store.save_batch(batch)

    def _writer(self, batch: BatchRecord) -> OutputWriter:
        writer = self._writers.get(batch.id)
        if writer is None:
            writer = OutputWriter(
                batch,
                self.store.blob_path(batch.input_file_id),
                self.store.work_path(batch.id, "output"),
                self.store.work_path(batch.id, "error"),
                self.fail_rate,
            )
            self._writers[batch.id] = writer
        return writer

    def _drop_writer(self, batch_id: str) -> None:
        writer = self._writers.pop(batch_id, None)
        if writer is not None:
            writer.close()
        self._last_save.pop(batch_id, None)

    def _checkpoint(self, batch: BatchRecord, writer: OutputWriter, force: bool = False) -> None:
        """Publish the writer's counts to the batch; persist them at most once a second."""
        now = time.monotonic()
        with self.store.lock:
            batch.progress = Progress(**vars(writer.progress))
            if force or now - self._last_save.get(batch.id, 0.0) >= SAVE_EVERY_S:
                self._last_save[batch.id] = now
                self.store.save_batch(batch)

    def _transition(self, batch: BatchRecord, expected: str, status: str, **stamps: int) -> bool:
        with self.store.lock:
            if batch.status != expected:
                return False
            batch.status = status
            for key, value in stamps.items():
                setattr(batch, key, value)
            batch.phase_started = time.time()
            self.store.save_batch(batch)
            return True

    def _stop_remaining(self, batch: BatchRecord, code: str) -> None:
        writer = self._writer(batch)
        writer.stop_remaining(code)
        self._checkpoint(batch, writer, force=True)

    def _finish(self, batch: BatchRecord, expected: str, status: str) -> None:
        """Turn the work files into output/error File objects (none when empty) and end the batch."""
        writer = self._writers.get(batch.id)
        if writer is not None:
            self._checkpoint(batch, writer, force=True)
        self._drop_writer(batch.id)
        now = int(time.time())
        output_id = self._publish(batch, "output", now)
        error_id = self._publish(batch, "error", now)
        with self.store.lock:
            if batch.status != expected:
                return
            batch.output_file_id = output_id
            batch.error_file_id = error_id
            batch.status = status
            setattr(batch, f"{status}_at", now)
            self.store.save_batch(batch)

    def _publish(self, batch: BatchRecord, kind: str, now: int) -> str | None:
        name = f"{batch.id}_{kind}.jsonl"
        with self.store.lock:
            # Killed after publishing but before the batch was saved: the work file is already this file.
            published = next((f.id for f in self.store.files.values()
                              if f.filename == name and f.purpose == "batch_output"), None)
        if published is not None:
            return published
        path = self.store.work_path(batch.id, kind)
        size = path.stat().st_size if path.exists() else 0
        if size == 0:
            path.unlink(missing_ok=True)
            return None
        asked = batch.output_expires_after
        lifetime = int(asked["seconds"]) if asked else THIRTY_DAYS
        rec = FileRecord(
            id=ids.file_id(self.id_rng),
            bytes=size,
            created_at=now,
            filename=name,
            purpose="batch_output",
            expires_at=now + lifetime,
            gone_at=self.gone_at(now, lifetime, asked=asked is not None),
        )
        self.store.add_file(rec, source=path)
        return rec.id

    def _expire(self, batch_id: str) -> BatchRecord:
        with self.store.lock:
            batch = self.store.batches.get(batch_id)
            if batch is None:
                raise KeyError(batch_id)
            if batch.status not in EXPIRABLE:
                raise ApiError(400, f"Cannot expire a batch with status '{batch.status}'.")
            status = batch.status
        if status == "in_progress":
            self._stop_remaining(batch, "batch_expired")
        self._finish(batch, status, "expired")
        return batch

    def validate_now(self, batch: BatchRecord) -> None:
        """Validate without waiting (demo data); the batch becomes in_progress or failed."""
        self._validate(batch)

    def generate_now(self, batch: BatchRecord, lines: int) -> None:
        """Answer up to `lines` more requests at once (demo data)."""
        writer = self._writer(batch)
        writer.run(lines)
        self._checkpoint(batch, writer, force=True)

    def end_now(self, batch: BatchRecord, status: str) -> None:
        """Finish a batch at once as completed, cancelled or expired (demo data)."""
        code = {"cancelled": "batch_cancelled", "expired": "batch_expired"}.get(status)
        if code and batch.total:
            self._stop_remaining(batch, code)
        elif batch.total:
            self.generate_now(batch, batch.total)
        self._finish(batch, batch.status, status)

"""A job's state in the cache file: the job, its parts and each part's attempts (one batch each).

Every change is one short write transaction on a connection of its own (as llm_logs' imports are), run in a
thread, so that the app's cache connection and any number of `job run` processes can share the file. Intents are
written before the API call they announce (`upload_started`, `create_started`), so a process killed between the
call and its record finds the file or batch again instead of sending it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar

from batchtui.core.cache.store import BUSY_TIMEOUT_MS, cache_errors
from batchtui.core.errors import BatchtuiError

JobStatus = Literal["running", "paused", "completed", "failed", "cancelled"]
ENDED_JOB_STATUSES = ("completed", "failed", "cancelled")
AttemptState = Literal["waiting", "running", "ended", "limited"]
"""waiting: not sent yet (its upload or creation may have been started); running: its batch exists and has not
ended; ended: its batch ended and its results were read; limited: its batch was refused for the enqueued-token
limit (then the next attempt sends the same requests again, and this one does not count as tried)."""

LEASE_SECONDS = 120.0
"""How long a runner's hold on a job lasts unless renewed; a runner renews it before each step that changes the
job. A holder killed on this host is noticed at once; one on another host is waited out."""

_T = TypeVar("_T")


class JobNotFound(BatchtuiError):
    """No job of that id (or id prefix, or name) in this cache."""


@dataclass(frozen=True)
class Job:
    id: str
    name: str
    created_at: float
    status: JobStatus
    reason: str | None
    """Why the job is paused or failed, why its parts wait, or what it ended with; None while all is well."""
    source: str
    """The file (or template and data) the job was made from, as the user named it."""
    folder: str
    """Where the job's part and attempt files are."""
    manifest: str | None
    """make-batch-file's manifest for a job made from a template and data: its export joins the data back."""
    endpoint: str
    model: str | None
    requests: int
    input_tokens: int
    estimate_usd: Decimal | None
    max_cost_usd: Decimal | None
    max_attempts: int
    enqueued_tokens: int | None
    lease_owner: str | None
    lease_until: float | None
    updated_at: float

    @property
    def ended(self) -> bool:
        return self.status in ENDED_JOB_STATUSES

    @property
    def input(self) -> Path:
        """The job's whole input, as planned (its parts are slices of it, byte for byte)."""
        return Path(self.folder) / f"{self.id}.jsonl"


@dataclass(frozen=True)
class Part:
    job_id: str
    part: int
    first_line: int
    """The job input's line number of the part's first line, so a problem in a part names the job's line."""
    requests: int
    bytes: int
    input_tokens: int
    estimate_usd: Decimal | None
    succeeded: int
    failed: int
    """Requests whose last attempt failed for good (a 4xx, or a passing failure with no attempts left)."""
    done: bool
    """No attempt of it will be made any more."""

    @property
    def pending(self) -> int:
        return self.requests - self.succeeded - self.failed


@dataclass(frozen=True)
class Attempt:
    job_id: str
    part: int
    attempt: int
    file: str
    requests: int
    input_tokens: int
    counted: bool
    """Whether it counts against the job's max_attempts: a resend after the enqueued-token limit does not."""
    state: AttemptState
    upload_started: float | None
    file_id: str | None
    create_started: float | None
    batch_id: str | None
    retry_of: str | None
    """The batch of the part's previous attempt, which this one retries (its metadata says so too)."""


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _job(row: sqlite3.Row) -> Job:
    data = dict(row)
    for key in ("estimate_usd", "max_cost_usd"):
        data[key] = _decimal(data[key])
    return Job(**data)


def _part(row: sqlite3.Row) -> Part:
    data = dict(row)
    data["estimate_usd"] = _decimal(data["estimate_usd"])
    data["done"] = bool(data["done"])
    return Part(**data)


def _attempt(row: sqlite3.Row) -> Attempt:
    data = dict(row)
    data["counted"] = bool(data["counted"])
    return Attempt(**data)


def _columns(cls: type) -> str:
    return ", ".join(f.name for f in fields(cls))


def runner_id() -> str:
    """Who holds a lease: host, process and a nonce (a pid is reused after a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"


def _holder_is_gone(owner: str) -> bool:
    """Whether the lease holder was a process on this host that no longer runs (killed): its lease need not be
    waited out."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


class JobStore:
    """The jobs of one cache file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with cache_errors(self.path):
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
            try:
                conn.row_factory = sqlite3.Row
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA synchronous = NORMAL")
                yield conn
            finally:
                conn.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    async def _run(self, work: Callable[[], _T]) -> _T:
        return await asyncio.to_thread(work)

    # -- reading ---------------------------------------------------------------------------------------------

    def _jobs(self) -> list[Job]:
        with self._connect() as conn:
            return [_job(r) for r in conn.execute(f"SELECT {_columns(Job)} FROM jobs ORDER BY created_at DESC, id")]

    async def jobs(self) -> list[Job]:
        """Every job, newest first."""
        return await self._run(self._jobs)

    async def job(self, ref: str) -> Job:
        """The job of this id, else the one whose id starts with it or is named so; JobNotFound names the ref."""
        jobs = await self.jobs()
        for match in ([j for j in jobs if j.id == ref], [j for j in jobs if j.id.startswith(ref)],
                      [j for j in jobs if j.name == ref]):
            if len(match) == 1:
                return match[0]
            if len(match) > 1:
                raise JobNotFound(f"{ref!r} names {len(match)} jobs ({', '.join(j.id for j in match[:3])}…): "
                                  "give more of the id.")
        raise JobNotFound(f"No job {ref!r} in this cache: `batchtui job list` shows the jobs.")

    def _parts(self, job_id: str) -> list[Part]:
        with self._connect() as conn:
            return [_part(r) for r in conn.execute(
                f"SELECT {_columns(Part)} FROM job_parts WHERE job_id = ? ORDER BY part", (job_id,))]

    async def parts(self, job_id: str) -> list[Part]:
        return await self._run(lambda: self._parts(job_id))

    def _attempts(self, job_id: str) -> list[Attempt]:
        with self._connect() as conn:
            return [_attempt(r) for r in conn.execute(
                f"SELECT {_columns(Attempt)} FROM job_attempts WHERE job_id = ? ORDER BY part, attempt", (job_id,))]

    async def attempts(self, job_id: str) -> list[Attempt]:
        return await self._run(lambda: self._attempts(job_id))

    async def tokens_in_flight(self, model: str | None) -> int:
        """Input tokens of the attempts of any job of this model whose batch may be queued or running: created, or
        whose creation was started and not settled."""
        def work() -> int:
            with self._connect() as conn:
                row = conn.execute(
                    "SELECT coalesce(sum(a.input_tokens), 0) FROM job_attempts a JOIN jobs j ON j.id = a.job_id "
                    "WHERE j.model IS ? AND (a.state = 'running' OR (a.state = 'waiting' AND a.create_started "
                    "IS NOT NULL))", (model,)).fetchone()
                return int(row[0])
        return await self._run(work)

    # -- writing ---------------------------------------------------------------------------------------------

    async def create(self, job: Job, parts: list[Part], attempts: list[Attempt]) -> None:
        """Record a planned job whole, or nothing of it."""
        def work() -> None:
            with self._write() as conn:
                values = [getattr(job, f.name) for f in fields(Job)]
                values = [_text(v) if isinstance(v, Decimal) else v for v in values]
                conn.execute(f"INSERT INTO jobs ({_columns(Job)}) VALUES ({', '.join('?' * len(values))})", values)
                for part in parts:
                    row = [getattr(part, f.name) for f in fields(Part)]
                    row = [_text(v) if isinstance(v, Decimal) else v for v in row]
                    conn.execute(f"INSERT INTO job_parts ({_columns(Part)}) VALUES ({', '.join('?' * len(row))})",
                                 row)
                for attempt in attempts:
                    self._insert_attempt(conn, attempt)
        await self._run(work)

    @staticmethod
    def _insert_attempt(conn: sqlite3.Connection, attempt: Attempt) -> None:
        row = [getattr(attempt, f.name) for f in fields(Attempt)]
        conn.execute(f"INSERT INTO job_attempts ({_columns(Attempt)}) VALUES ({', '.join('?' * len(row))})", row)

    async def update_job(self, job_id: str, **changes: Any) -> None:
        await self._update("jobs", "id = ?", (job_id,), {**changes, "updated_at": time.time()})

    async def update_part(self, job_id: str, part: int, **changes: Any) -> None:
        await self._update("job_parts", "job_id = ? AND part = ?", (job_id, part), changes)

    async def update_attempt(self, attempt: Attempt, **changes: Any) -> None:
        await self._update("job_attempts", "job_id = ? AND part = ? AND attempt = ?",
                           (attempt.job_id, attempt.part, attempt.attempt), changes)

    async def _update(self, table: str, where: str, keys: tuple[Any, ...], changes: dict[str, Any]) -> None:
        names = list(changes)
        values = [_text(v) if isinstance(v, Decimal) else v for v in changes.values()]

        def work() -> None:
            with self._write() as conn:
                conn.execute(f"UPDATE {table} SET {', '.join(f'{n} = ?' for n in names)} WHERE {where}",
                             (*values, *keys))
        await self._run(work)

    async def settle(self, attempt: Attempt, state: AttemptState, part_changes: dict[str, Any],
                     following: Attempt | None) -> None:
        """End an attempt, update its part and add the part's next attempt, in one transaction: a kill between
        them would otherwise lose the next attempt or count the results twice."""
        def work() -> None:
            with self._write() as conn:
                conn.execute("UPDATE job_attempts SET state = ? WHERE job_id = ? AND part = ? AND attempt = ?",
                             (state, attempt.job_id, attempt.part, attempt.attempt))
                if part_changes:
                    assignments = ", ".join(f"{n} = ?" for n in part_changes)
                    conn.execute(f"UPDATE job_parts SET {assignments} WHERE job_id = ? AND part = ?",
                                 (*part_changes.values(), attempt.job_id, attempt.part))
                if following is not None:
                    self._insert_attempt(conn, following)
        await self._run(work)

    async def take_lease(self, job_id: str, owner: str, *, seconds: float = LEASE_SECONDS) -> str | None:
        """Hold (or renew) the right to advance the job; None when taken, else who holds it. A lease runs out
        unless renewed, and one whose holder was killed on this host is taken over at once."""
        def work() -> str | None:
            now = time.time()
            with self._write() as conn:
                row = conn.execute("SELECT lease_owner, lease_until FROM jobs WHERE id = ?", (job_id,)).fetchone()
                if row is None:
                    raise JobNotFound(f"No job {job_id!r} in this cache.")
                holder, until = row
                if holder and holder != owner and (until or 0) > now and not _holder_is_gone(holder):
                    return str(holder)
                conn.execute("UPDATE jobs SET lease_owner = ?, lease_until = ? WHERE id = ?",
                             (owner, now + seconds, job_id))
                return None
        return await self._run(work)

    async def delete(self, job_id: str) -> None:
        """Forget the job: its rows here (its batches stay on the API and in the cache)."""
        def work() -> None:
            with self._write() as conn:
                for table in ("job_attempts", "job_parts"):
                    conn.execute(f"DELETE FROM {table} WHERE job_id = ?", (job_id,))
                conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        await self._run(work)

    async def release_lease(self, job_id: str, owner: str) -> None:
        def work() -> None:
            with self._write() as conn:
                conn.execute("UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
                             (job_id, owner))
        await self._run(work)

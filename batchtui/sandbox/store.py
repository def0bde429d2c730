"""Sandbox state: file and batch records, their bytes on disk, and persistence across restarts.

Each record is one small JSON file (``meta/files/<id>.json``, ``meta/batches/<id>.json``) written
by atomic rename, and each file's bytes live in ``blobs/<id>``. One file per object keeps writes
independent and crash-safe, needs no schema or migrations, and can be read with `cat`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

THIRTY_DAYS = 30 * 86400


@dataclass
class FileRecord:
    """An uploaded or generated file; `to_api` gives the FileObject body."""

    id: str
    bytes: int
    created_at: int
    filename: str
    purpose: str
    expires_at: int | None = None
    status: str = "processed"
    status_details: str | None = None
    seq: int = 0
    # When an expiry the client asked for passes on the sandbox's clock (expires_at is on the API's clock):
    # then the file is gone, as OpenAI deletes it. The default 30 days pass on the wall clock (gone_at None).
    gone_at: float | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": self.status,
            "expires_at": self.expires_at,
            "status_details": self.status_details,
        }


@dataclass
class Plan:
    """Simulated seconds each phase takes; scaled by the server's speed."""

    validate_s: float = 5.0
    per_line_s: float = 0.5
    finalize_s: float = 5.0
    cancel_s: float = 5.0


@dataclass
class Progress:
    """How far output generation has gone, saved so a restart resumes instead of starting over."""

    input_offset: int = 0
    block_done: int = 0
    output_bytes: int = 0
    error_bytes: int = 0
    done: int = 0
    completed: int = 0
    failed: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass
class BatchRecord:
    """A batch as the API shows it, plus the simulation state that drives it."""

    id: str
    endpoint: str
    input_file_id: str
    completion_window: str
    status: str
    created_at: int
    expires_at: int | None = None
    model: str | None = None
    errors: list[dict[str, Any]] | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    in_progress_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None
    total: int = 0
    metadata: dict[str, str] | None = None
    output_expires_after: dict[str, Any] | None = None
    plan: Plan = field(default_factory=Plan)
    phase_started: float = 0.0
    progress: Progress = field(default_factory=Progress)
    enqueued_tokens: int = 0
    """Input tokens the batch holds against its model's enqueued-token limit (counted when a limit is set)."""
    stop_reason: str | None = None
    seq: int = 0

    def to_api(self) -> dict[str, Any]:
        p = self.progress
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "model": self.model,
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "in_progress_at": self.in_progress_at,
            "expires_at": self.expires_at,
            "finalizing_at": self.finalizing_at,
            "completed_at": self.completed_at,
            "failed_at": self.failed_at,
            "expired_at": self.expired_at,
            "cancelling_at": self.cancelling_at,
            "cancelled_at": self.cancelled_at,
            "request_counts": {"total": self.total, "completed": p.completed, "failed": p.failed},
            "usage": {
                "input_tokens": p.input_tokens,
                "input_tokens_details": {"cached_tokens": p.cached_tokens},
                "output_tokens": p.output_tokens,
                "output_tokens_details": {"reasoning_tokens": p.reasoning_tokens},
                "total_tokens": p.input_tokens + p.output_tokens,
            },
            "metadata": self.metadata,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchRecord:
        data = dict(data)
        data["plan"] = Plan(**data.get("plan", {}))
        data["progress"] = Progress(**data.get("progress", {}))
        return cls(**data)


ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")


class Store:
    """Thread-safe registry of files and batches, mirrored to disk under one root directory."""

    def __init__(self, data_dir: Path | None) -> None:
        self.ephemeral = data_dir is None
        self.root = Path(tempfile.mkdtemp(prefix="batchtui-sandbox-")) if data_dir is None else Path(data_dir)
        self.lock = threading.RLock()
        self.files: dict[str, FileRecord] = {}
        self.batches: dict[str, BatchRecord] = {}
        self._seq = 0
        for sub in ("blobs", "meta/files", "meta/batches", "work", "incoming"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._load()

    def _load(self) -> None:
        for path in (self.root / "meta/files").glob("*.json"):
            rec = FileRecord(**orjson.loads(path.read_bytes()))
            self.files[rec.id] = rec
        for path in (self.root / "meta/batches").glob("*.json"):
            rec = BatchRecord.from_json(orjson.loads(path.read_bytes()))
            self.batches[rec.id] = rec
        self.files = dict(sorted(self.files.items(), key=lambda kv: kv[1].seq))
        self.batches = dict(sorted(self.batches.items(), key=lambda kv: kv[1].seq))
        seqs = [r.seq for r in self.files.values()] + [r.seq for r in self.batches.values()]
        self._seq = max(seqs, default=0)
        for stale in (self.root / "incoming").iterdir():
            stale.unlink(missing_ok=True)

    def close(self) -> None:
        if self.ephemeral:
            shutil.rmtree(self.root, ignore_errors=True)

    def next_seq(self) -> int:
        with self.lock:
            self._seq += 1
            return self._seq

    def blob_path(self, file_id: str) -> Path:
        return self.root / "blobs" / file_id

    def work_path(self, batch_id: str, kind: str) -> Path:
        return self.root / "work" / f"{batch_id}.{kind}.jsonl"

    def incoming_path(self) -> Path:
        fd, name = tempfile.mkstemp(dir=self.root / "incoming", suffix=".part")
        os.close(fd)
        return Path(name)

    def add_file(self, rec: FileRecord, source: Path | None = None) -> FileRecord:
        """Register a file whose bytes are in `source` (moved into place) or already at blob_path."""
        if source is not None:
            os.replace(source, self.blob_path(rec.id))
        with self.lock:
            rec.seq = rec.seq or self.next_seq()
            self.files[rec.id] = rec
            self._write(self.root / "meta/files" / f"{rec.id}.json", asdict(rec))
        return rec

    def delete_file(self, file_id: str) -> bool:
        with self.lock:
            rec = self.files.pop(file_id, None)
            if rec is None:
                return False
            (self.root / "meta/files" / f"{file_id}.json").unlink(missing_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.blob_path(file_id).unlink()
        return True

    def drop_expired(self, now: float) -> None:
        """Delete the files whose asked-for expiry has passed, except the input of a batch still running on it."""
        with self.lock:
            running = {b.input_file_id for b in self.batches.values() if b.status in ACTIVE}
            gone = [f.id for f in self.files.values()
                    if f.gone_at is not None and f.gone_at <= now and f.id not in running]
        for file_id in gone:
            self.delete_file(file_id)

    def add_batch(self, rec: BatchRecord) -> BatchRecord:
        with self.lock:
            rec.seq = rec.seq or self.next_seq()
            self.batches[rec.id] = rec
            self.save_batch(rec)
        return rec

    def save_batch(self, rec: BatchRecord) -> None:
        with self.lock:
            self._write(self.root / "meta/batches" / f"{rec.id}.json", asdict(rec))

    def active_batches(self) -> list[BatchRecord]:
        with self.lock:
            return [b for b in self.batches.values() if b.status in ACTIVE]

    def list_batches(self, after: str | None, limit: int) -> tuple[list[BatchRecord], bool]:
        """Newest first; `after` is the id of the last batch of the previous page."""
        with self.lock:
            ordered = list(reversed(self.batches.values()))
        start = 0
        if after is not None:
            ids = [b.id for b in ordered]
            start = ids.index(after) + 1
        page = ordered[start : start + limit]
        return page, start + limit < len(ordered)

    def list_files(
        self, purpose: str | None, after: str | None, limit: int, order: str
    ) -> tuple[list[FileRecord], bool]:
        with self.lock:
            ordered = [f for f in self.files.values() if purpose is None or f.purpose == purpose]
        ordered.sort(key=lambda f: (f.created_at, f.seq), reverse=order == "desc")
        start = 0
        if after is not None:
            ids = [f.id for f in ordered]
            start = ids.index(after) + 1 if after in ids else len(ordered)
        page = ordered[start : start + limit]
        return page, start + limit < len(ordered)

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(data))
        os.replace(tmp, path)

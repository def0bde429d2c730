"""One running sandbox: its store, lifecycle engine, fault injector and request stats, and the
operations the HTTP routes perform on them."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from . import ids
from .catalogue import ModelCatalogue
from .config import FaultConfig, SandboxConfig, check_token_limit
from .errors import ApiError, not_found
from .faults import FaultInjector
from .gateway import RequestStats
from .lifecycle import Engine
from .store import THIRTY_DAYS, BatchRecord, FileRecord, Store

BATCH_JSONL_ERROR = "Invalid file format for Batch API. Must be .jsonl"


class SandboxRuntime:
    """Everything the server holds, independent of HTTP; start/close bracket the engine thread."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.store = Store(Path(config.data_dir) if config.data_dir else None)
        self.stats = RequestStats()
        self.engine = Engine(
            self.store,
            config.speed,
            config.fail_rate,
            ModelCatalogue(config.models),
            self.stats,
            config.enqueued_token_limit,
        )
        self.faults = FaultInjector(config.faults)

    def start(self) -> None:
        if self.config.seed_demo:
            from .seed import seed_demo

            seed_demo(self)
        self.engine.start()

    def close(self) -> None:
        self.engine.stop()
        self.store.close()

    def set_faults(self, faults: FaultConfig | None) -> None:
        self.faults.configure(faults)

    def limits(self) -> dict[str, Any]:
        """The limits batches are held to now (the /_sandbox/limits body)."""
        return {"enqueued_token_limit": self.engine.enqueued_token_limit}

    def set_limits(self, body: dict[str, Any]) -> dict[str, Any]:
        """Change the limits named in `body` for batches validated from now on; ValueError names a bad field."""
        unknown = set(body) - {"enqueued_token_limit"}
        if unknown:
            raise ValueError(f"bad limit field {sorted(unknown)[0]!r}: expected enqueued_token_limit")
        if "enqueued_token_limit" in body:
            self.engine.enqueued_token_limit = check_token_limit(body["enqueued_token_limit"])
        return self.limits()

    def add_upload(self, source: Path, filename: str, purpose: str, expires_after: dict[str, Any] | None) -> FileRecord:
        """Register an uploaded file already streamed to `source`."""
        if purpose == "batch" and not filename.lower().endswith(".jsonl"):
            with contextlib.suppress(FileNotFoundError):
                source.unlink()
            raise ApiError(400, BATCH_JSONL_ERROR)
        now = time.time()
        if expires_after is not None:
            lifetime: int | None = expires_after["seconds"]
        else:
            lifetime = THIRTY_DAYS if purpose == "batch" else None
        rec = FileRecord(
            id=ids.file_id(),
            bytes=source.stat().st_size,
            created_at=int(now),
            filename=filename,
            purpose=purpose,
            expires_at=None if lifetime is None else int(now) + lifetime,
            gone_at=self.engine.gone_at(now, lifetime, asked=expires_after is not None),
        )
        return self.store.add_file(rec, source=source)

    def drop_expired(self) -> None:
        self.store.drop_expired(time.time())

    def get_file(self, file_id: str, param: str = "id") -> FileRecord:
        self.drop_expired()
        with self.store.lock:
            rec = self.store.files.get(file_id)
        if rec is None:
            raise not_found("File", file_id, param)
        return rec

    def get_batch(self, batch_id: str) -> BatchRecord:
        with self.store.lock:
            rec = self.store.batches.get(batch_id)
        if rec is None:
            raise not_found("Batch", batch_id)
        return rec

    def create_batch(self, fields: dict[str, Any]) -> BatchRecord:
        source = self.get_file(fields["input_file_id"], param="input_file_id")
        if source.purpose != "batch":
            raise ApiError(
                400,
                f"The input file {source.id} must be uploaded with purpose 'batch', "
                f"but it has purpose '{source.purpose}'.",
                param="input_file_id",
            )
        now = time.time()
        rec = BatchRecord(
            id=ids.batch_id(),
            endpoint=fields["endpoint"],
            input_file_id=source.id,
            completion_window=fields["completion_window"],
            status="validating",
            created_at=int(now),
            expires_at=int(now) + 86400,
            metadata=fields["metadata"],
            output_expires_after=fields["output_expires_after"],
            phase_started=now,
        )
        self.store.add_batch(rec)
        self.engine.wake()
        return rec

    def cancel_batch(self, batch_id: str) -> BatchRecord:
        self.get_batch(batch_id)
        return self.engine.cancel(batch_id)

    def expire_batch(self, batch_id: str) -> BatchRecord:
        self.get_batch(batch_id)
        return self.engine.expire(batch_id)

    def batch_body(self, rec: BatchRecord) -> dict[str, Any]:
        with self.store.lock:
            return rec.to_api()

"""Fetching a batch's files into the cache (or a folder the user names), recorded in the cache."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

from batchtui.core.api.models import Batch
from batchtui.core.cache.store import Cache, DownloadedFile
from batchtui.core.domain import ProgressCallback
from batchtui.core.errors import ApiError, BatchtuiError, NotFoundError, file_errors
from batchtui.core.paths import inside, safe_name
from batchtui.core.timetext import clock

if TYPE_CHECKING:
    from batchtui.core.api.client import BatchService

DOWNLOAD_ATTEMPTS = 3
RETRY_PAUSE_SECONDS = 0.5
"""The pause before the second attempt; it doubles for each one after."""


class SaveError(BatchtuiError):
    """A downloaded file could not be written where it was meant to go."""


def result_file_ids(batch: Batch, *, with_input: bool = False) -> list[tuple[str, str]]:
    """(kind, file id) for each result file the batch has (and its input file, if asked); expired and
    cancelled batches may have some."""
    pairs: list[tuple[str, str | None]] = [("input", batch.input_file_id)] if with_input else []
    pairs += [("output", batch.output_file_id), ("error", batch.error_file_id)]
    return [(kind, file_id) for kind, file_id in pairs if file_id]


def cached_name(file_id: str, kind: str, batch_id: str | None) -> str:
    """The name a file gets in a download folder: <batch id>_<kind>.jsonl, or <file id>.jsonl on its own; an id
    that is not a safe file name (the server chose it) is replaced by its safe form."""
    return safe_name(batch_id, suffix=f"_{kind}.jsonl") if batch_id else safe_name(file_id, suffix=".jsonl")


async def download_once(
    service: BatchService,
    cache: Cache,
    file_id: str,
    dest: Path,
    *,
    kind: str,
    batch_id: str | None = None,
    progress: ProgressCallback | None = None,
) -> DownloadedFile:
    """Download `file_id` to `dest` and record it; a copy already there with the recorded size is kept, so a
    second call needs no network. A download cut off or short is started again, up to DOWNLOAD_ATTEMPTS in all;
    only a complete file ever reaches `dest` and the cache's record. One download of a file at a time."""
    async with cache.file_lock(file_id):
        return await _download_once(service, cache, file_id, dest, kind=kind, batch_id=batch_id, progress=progress)


async def _download_once(
    service: BatchService, cache: Cache, file_id: str, dest: Path, *, kind: str, batch_id: str | None,
    progress: ProgressCallback | None,
) -> DownloadedFile:
    known = await cache.get_download(file_id)
    if known and known.path == dest and dest.exists() and dest.stat().st_size == known.bytes:
        return known
    try:
        info = await service.retrieve_file(file_id)
    except NotFoundError:
        raise NotFoundError(await _gone(cache, file_id, kind)) from None
    for attempt in range(DOWNLOAD_ATTEMPTS):
        try:
            with file_errors(SaveError, "write", dest):
                await service.download(file_id, dest, size=info.bytes, progress=progress)
            break
        except ApiError as exc:
            if not exc.retryable:
                raise
            if attempt == DOWNLOAD_ATTEMPTS - 1:
                raise type(exc)(f"{str(exc).rstrip('.')} (tried {DOWNLOAD_ATTEMPTS} times).") from exc
            await asyncio.sleep(RETRY_PAUSE_SECONDS * 2**attempt)
    record = DownloadedFile(
        file_id=file_id, batch_id=batch_id, kind=kind, path=dest, bytes=info.bytes, downloaded_at=time.time()
    )
    await cache.record_download(record)
    return record


async def download_results(
    service: BatchService,
    cache: Cache,
    batch: Batch,
    dest_dir: Path,
    *,
    progress: ProgressCallback | None = None,
    with_input: bool = False,
) -> list[DownloadedFile]:
    """Download the output and error files of `batch` (and its input file, if asked) into `dest_dir` as
    <batch id>_<kind>.jsonl, each only once."""
    return [
        await download_once(service, cache, file_id, inside(dest_dir, cached_name(file_id, kind, batch.id)),
                            kind=kind, batch_id=batch.id, progress=progress)
        for kind, file_id in result_file_ids(batch, with_input=with_input)
    ]


async def _gone(cache: Cache, file_id: str, kind: str) -> str:
    """Why a file the API no longer has cannot be opened, in one line: it expired (when the cache knows its
    expiry, which OpenAI sets to 30 days unless asked otherwise) or was deleted, and no copy is cached here."""
    known = await cache.get_file(file_id)
    expired = known is not None and known.expires_at is not None and known.expires_at <= time.time()
    why = f"expired on the API at {clock(known.expires_at)}" if expired and known else "is no longer on the API"
    return f"The {kind} file {file_id} {why}, and no copy of it is cached here."

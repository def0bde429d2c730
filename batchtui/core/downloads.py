"""Fetching a batch's result files into the cache (or a folder the user names), recorded in the cache."""

from __future__ import annotations

import time
from pathlib import Path

from openai.types import Batch

from batchtui.core.cache import Cache, DownloadedFile
from batchtui.core.client import BatchService, Progress


def result_file_ids(batch: Batch) -> list[tuple[str, str]]:
    """(kind, file id) for each result file the batch has; expired and cancelled batches may have some."""
    pairs = [("output", batch.output_file_id), ("error", batch.error_file_id)]
    return [(kind, file_id) for kind, file_id in pairs if file_id]


async def download_results(
    service: BatchService,
    cache: Cache,
    batch: Batch,
    dest_dir: Path,
    *,
    progress: Progress | None = None,
) -> list[DownloadedFile]:
    """Download the output and error files of `batch` into `dest_dir` as <batch id>_<kind>.jsonl.

    A file already downloaded there with the right size is not fetched again.
    """
    records = []
    for kind, file_id in result_file_ids(batch):
        dest = dest_dir / f"{batch.id}_{kind}.jsonl"
        known = await cache.get_download(file_id)
        if known and known.path == dest and dest.exists() and dest.stat().st_size == known.bytes:
            records.append(known)
            continue
        info = await service.retrieve_file(file_id)
        await service.download(file_id, dest, size=info.bytes, progress=progress)
        record = DownloadedFile(
            file_id=file_id, batch_id=batch.id, kind=kind, path=dest, bytes=info.bytes, downloaded_at=time.time()
        )
        await cache.record_download(record)
        records.append(record)
    return records

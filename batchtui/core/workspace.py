"""A profile's API service and its cache together: what the CLI and the TUI work with."""

from __future__ import annotations

import time
from pathlib import Path

from openai.types import Batch

from batchtui.core.cache import Cache, DownloadedFile
from batchtui.core.client import BatchService, Progress
from batchtui.core.config import Profile
from batchtui.core.downloads import download_results
from batchtui.core.sync import SyncResult, sync_batches


class Workspace:
    """Open with `await Workspace.open(profile)`; close with `await ws.close()` or `async with`."""

    def __init__(self, profile: Profile, service: BatchService, cache: Cache, cache_dir: Path) -> None:
        self.profile = profile
        self.service = service
        self.cache = cache
        self.cache_dir = cache_dir

    @classmethod
    async def open(cls, profile: Profile, *, cache_dir: Path | None = None, max_retries: int = 2) -> Workspace:
        """Open the profile's cache (creating it) and an API client; nothing goes over the network yet."""
        folder = cache_dir or profile.cache_dir()
        cache = await Cache.open(folder / "cache.db")
        return cls(profile, BatchService(profile, max_retries=max_retries), cache, folder)

    async def close(self) -> None:
        await self.service.aclose()
        await self.cache.close()

    async def __aenter__(self) -> Workspace:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def refresh(self) -> SyncResult:
        """Bring the cache up to date with the API, incrementally."""
        return await sync_batches(self.service, self.cache)

    async def batches(self, *, status: str | None = None, limit: int | None = None) -> list[Batch]:
        """Cached batches, newest first."""
        return await self.cache.list_batches(status=status, limit=limit)

    async def fetch_batch(self, batch_id: str) -> Batch:
        """The batch as the API has it now, stored in the cache on the way."""
        batch = await self.service.retrieve(batch_id)
        await self.cache.upsert_batches([batch], observed_at=time.time())
        return batch

    async def fetch_results(
        self, batch: Batch, dest_dir: Path | None = None, *, progress: Progress | None = None
    ) -> list[DownloadedFile]:
        """Download a batch's output and error files (into the cache unless `dest_dir` is given)."""
        folder = dest_dir or self.cache_dir / "files"
        return await download_results(self.service, self.cache, batch, folder, progress=progress)

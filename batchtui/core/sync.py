"""Incremental refresh of the batch cache: cost in API calls follows new and active batches, not all."""

from __future__ import annotations

import time
from dataclasses import dataclass

from openai.types import Batch

from batchtui.core.cache import ACTIVE_STATUSES, Cache
from batchtui.core.client import BatchService


@dataclass(frozen=True)
class SyncResult:
    """What one refresh saw and changed; `changed` holds ids that are new or differ from the cache."""

    changed: list[str]
    listed: int
    refreshed: int
    active: int


_HORIZON = "listed_through"
"""Meta key: every batch created at or before this time (created_at) is in the cache, as a full pass saw it."""


async def sync_batches(service: BatchService, cache: Cache) -> SyncResult:
    """List newest-first until a batch the cache already holds as finished, then re-read the active ones.

    A finished batch never changes again, so the pages behind it hold nothing new; batches that were
    still running when last seen may lie behind it, and are retrieved one by one. Only a batch within the
    horizon of an earlier complete pass may end the listing: one cached some other way (fetched by id) may
    have older batches behind it that were never listed, and a pass that failed midway has written nothing.
    """
    horizon_text = await cache.get_meta(_HORIZON)
    horizon = int(horizon_text) if horizon_text else None
    seen: dict[str, Batch] = {}
    async for page in service.batch_pages():
        known_done = await cache.terminal_ids(b.id for b in page)
        reached_known = False
        for batch in page:
            if batch.id in known_done and horizon is not None and batch.created_at <= horizon:
                reached_known = True
                break
            seen[batch.id] = batch
        if reached_known:
            break
    listed = len(seen)
    newest = max((b.created_at for b in seen.values()), default=None)
    stale = [batch_id for batch_id in await cache.active_batch_ids() if batch_id not in seen]
    for batch_id in stale:
        seen[batch_id] = await service.retrieve(batch_id)
    changed = await cache.upsert_batches(seen.values(), observed_at=time.time())
    if newest is not None and (horizon is None or newest > horizon):
        # Only once the batches are stored: a pass cut off before here leaves the old horizon, still true.
        await cache.set_meta(_HORIZON, str(newest))
    await cache.set_meta("last_sync", str(time.time()))
    active = sum(1 for b in seen.values() if b.status in ACTIVE_STATUSES)
    return SyncResult(changed=changed, listed=listed, refreshed=len(stale), active=active)

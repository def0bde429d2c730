"""Incremental refresh of the batch cache (cost in API calls follows new and active batches, not all), and when to
refresh again."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from batchtui.core.api.backoff import Backoff
from batchtui.core.cache.store import Cache
from batchtui.core.domain import ACTIVE_STATUSES
from batchtui.core.errors import BatchtuiError

if TYPE_CHECKING:
    from batchtui.core.api.client import BatchService


@dataclass(frozen=True)
class SyncResult:
    """What one refresh saw and changed; `changed` holds ids that are new or differ from the cache."""

    changed: list[str]
    listed: int
    refreshed: int
    active: int


ACTIVE_POLL_SECONDS = 5.0
IDLE_POLL_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 300.0
"""The longest wait between calls after failures in a row; at once after an error that retrying will not soon fix
(a refused key, a wrong base_url)."""


class UnexpectedSyncError(BatchtuiError):
    """A pass failed with an error that is not batchtui's own (a bug): it names only the type, as the text may hold
    anything, and polling goes on."""

    retryable = True


@dataclass
class PollSchedule:
    """When the next sync pass is due: every `active` seconds while a batch runs, every `idle` seconds when none
    does, and after failures as core's Backoff says, from `active` up to `max_backoff`."""

    active: float = ACTIVE_POLL_SECONDS
    idle: float = IDLE_POLL_SECONDS
    max_backoff: float = MAX_BACKOFF_SECONDS
    _backoff: Backoff = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._backoff = Backoff(self.active, self.max_backoff)

    def after_pass(self, result: SyncResult) -> float:
        """Seconds until the next pass after one that succeeded."""
        self._backoff.succeeded()
        return self.active if result.active else self.idle

    def after_failure(self, caught: Exception) -> tuple[BatchtuiError, float]:
        """The error to show for a failed pass (one that is not batchtui's own becomes an UnexpectedSyncError) and
        the seconds until the next pass."""
        exc = caught if isinstance(caught, BatchtuiError) else UnexpectedSyncError(
            f"A sync pass failed unexpectedly ({type(caught).__name__}); retrying.")
        return exc, self._backoff.failed(exc)


LAST_SYNC = "last_sync"
"""Meta key: when the last sync pass ended (epoch seconds as text)."""
_HORIZON = "listed_through"
"""Meta key: every batch created at or before this time (created_at) is in the cache, as a full pass saw it."""
_UNANNOUNCED = "changed_unannounced"
"""Meta key: ids (a JSON list) that a pass stored before it failed: the next pass reports them as changed, as its
own comparison with the cache will find them unchanged."""


async def sync_batches(service: BatchService, cache: Cache) -> SyncResult:
    """List newest-first until a batch the cache already holds as finished, then re-read the active ones.

    A finished batch never changes again, so the pages behind it hold nothing new; batches that were
    still running when last seen may lie behind it, and are retrieved one by one. Only a batch within the
    horizon of an earlier complete pass may end the listing: one cached some other way (fetched by id) may
    have older batches behind it that were never listed. Each page is stored as it comes, so memory stays one
    page whatever the account holds; the horizon moves only once a pass is complete, so a pass cut off midway
    never lets a later one stop short of what it missed, and what it stored is reported by the next.
    """
    unannounced: list[str] = orjson.loads(await cache.get_meta(_UNANNOUNCED) or "[]")
    changed: list[str] = []
    try:
        listed, refreshed, active = await _store_pages(service, cache, changed)
    except Exception:
        if changed:
            await cache.set_meta(_UNANNOUNCED, orjson.dumps(list(dict.fromkeys(unannounced + changed))).decode())
        raise
    if unannounced:
        await cache.set_meta(_UNANNOUNCED, "[]")
    return SyncResult(changed=list(dict.fromkeys(unannounced + changed)), listed=listed, refreshed=refreshed,
                      active=active)


async def _store_pages(service: BatchService, cache: Cache, changed: list[str]) -> tuple[int, int, int]:
    """The pass itself; `changed` gets the ids of changed batches as they are stored. Returns how many batches
    were listed, how many retrieved one by one, and how many of them all are active."""
    horizon_text = await cache.get_meta(_HORIZON)
    horizon = int(horizon_text) if horizon_text else None
    stale = dict.fromkeys(await cache.active_batch_ids())
    listed = active = 0
    newest: int | None = None
    async for page in service.batch_pages():
        known_done = await cache.terminal_ids(b.id for b in page)
        stop = next((i for i, b in enumerate(page)
                     if b.id in known_done and horizon is not None and b.created_at <= horizon), None)
        fresh = page[:stop]
        for batch in fresh:
            stale.pop(batch.id, None)
            newest = batch.created_at if newest is None else max(newest, batch.created_at)
        listed += len(fresh)
        active += sum(1 for b in fresh if b.status in ACTIVE_STATUSES)
        changed += await cache.upsert_batches(fresh, observed_at=time.time())
        if stop is not None:
            break
    refreshed = [await service.retrieve(batch_id) for batch_id in stale]
    changed += await cache.upsert_batches(refreshed, observed_at=time.time())
    active += sum(1 for b in refreshed if b.status in ACTIVE_STATUSES)
    if newest is not None and (horizon is None or newest > horizon):
        # Only once every page is stored: a pass cut off before here leaves the old horizon, still true.
        await cache.set_meta(_HORIZON, str(newest))
    await cache.set_meta(LAST_SYNC, str(time.time()))
    return listed, len(refreshed), active

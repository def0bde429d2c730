"""What the app knows about freshness: shown on every screen so it never lies about its data."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace
from typing import Literal

from batchtui.core.errors import BatchtuiError, ConnectionLostError, UnreachableError
from batchtui.core.timetext import duration
from batchtui.tui.format import ago

SyncState = Literal["cache", "syncing", "synced", "degraded", "offline", "error", "no-cache"]
"""`degraded`: the API answers, but with rate limits, server errors, timeouts or broken connections;
`offline`: it cannot be reached at all; `error`: it refused in a way retrying soon will not change;
`no-cache`: the cache could not be opened (a folder that cannot be written), so nothing syncs until `r`."""


def open_failure(exc: Exception) -> str:
    """Why the cache could not be opened, in one line: our own errors say it; an OS error names its file."""
    if isinstance(exc, BatchtuiError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"cannot open the cache: {where}{exc.strerror}"
    return f"cannot open the cache ({type(exc).__name__}: {exc})"


def failure_state(exc: BatchtuiError) -> SyncState:
    """How a failed pass leaves the app: offline, degraded (both retried soon) or in error."""
    if isinstance(exc, UnreachableError) and not isinstance(exc, ConnectionLostError):
        return "offline"
    return "degraded" if exc.retryable else "error"


@dataclass(frozen=True)
class SyncStatus:
    state: SyncState = "cache"
    last_synced: float | None = None
    message: str = ""
    retry_at: float | None = None
    """When the next pass after a failure starts; None while it runs."""

    def pass_started(self) -> SyncStatus:
        """The status while a pass runs: 'syncing…', or still degraded or offline with the retry under way."""
        if self.state in ("degraded", "offline"):
            return replace(self, retry_at=None)
        return SyncStatus("syncing", self.last_synced)

    def describe(self, now: float) -> str:
        """'synced 12s ago', 'syncing…', 'degraded: retrying in 20s · showing cache from 10:42 (The API had …)'."""
        if self.state == "syncing":
            return "syncing…"
        if self.state == "synced":
            return f"synced {ago(self.last_synced, now)}"
        if self.state == "cache":
            return "showing cache; syncing soon"
        if self.state == "no-cache":
            return f"{self.message} · r tries again"
        since = dt.datetime.fromtimestamp(self.last_synced).strftime("%H:%M") if self.last_synced else "never"
        when = "now" if self.retry_at is None else f"in {duration(max(1, math.ceil(self.retry_at - now)))}"
        if self.state == "error":
            return f"{self.message} · showing cache from {since} · next try {when}"
        return f"{self.state}: retrying {when} · showing cache from {since} ({self.message})"

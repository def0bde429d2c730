"""What the app knows about freshness: shown on every screen so it never lies about its data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from batchtui.tui.format import ago

SyncState = Literal["cache", "syncing", "synced", "offline", "error"]


@dataclass(frozen=True)
class SyncStatus:
    state: SyncState = "cache"
    last_synced: float | None = None
    message: str = ""

    def describe(self, now: float) -> str:
        """'synced 12s ago', 'syncing…', 'offline: showing cache from 10:42 (Cannot reach …)'."""
        if self.state == "syncing":
            return "syncing…"
        if self.state == "synced":
            return f"synced {ago(self.last_synced, now)}"
        since = dt.datetime.fromtimestamp(self.last_synced).strftime("%H:%M") if self.last_synced else "never"
        if self.state == "offline":
            return f"offline: showing cache from {since} ({self.message})"
        if self.state == "error":
            return f"{self.message} (cache from {since})"
        return "showing cache; syncing soon"

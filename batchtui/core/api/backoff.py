"""The one back-off policy every loop that calls the API again and again follows: the app's poller, a CLI
wait, an upload's retries."""

from __future__ import annotations

from dataclasses import dataclass

from batchtui.core.errors import ApiError, BatchtuiError


@dataclass
class Backoff:
    """How long to wait before trying again after a failure: each failure in a row doubles `base` (the first
    waits 2 x base) up to `cap`; a Retry-After the API sent is honoured, within the cap; an error that retrying
    will not soon fix waits `cap` at once. A success starts over."""

    base: float
    cap: float
    failures: int = 0

    def failed(self, exc: BatchtuiError) -> float:
        """Count a failure; the seconds to wait before the next try."""
        self.failures += 1
        if not exc.retryable:
            return self.cap
        delay = min(self.cap, self.base * 2.0 ** min(self.failures, 30))  # capped: days of failures never overflow
        if isinstance(exc, ApiError) and exc.retry_after is not None:  # a 429 or 503 that says when
            delay = min(self.cap, max(delay, exc.retry_after))
        return delay

    def succeeded(self) -> None:
        self.failures = 0

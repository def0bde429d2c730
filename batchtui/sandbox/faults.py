"""Fault injection for /v1 calls: rate limits, server errors, slow answers and dropped connections,
drawn from a seeded generator so a run can be repeated."""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass

from .config import FaultConfig
from .errors import ApiError


@dataclass(frozen=True)
class Fault:
    """What to do to one request: wait `delay` seconds, then answer `kind` (None = normally)."""

    kind: str | None = None
    delay: float = 0.0


NO_FAULT = Fault()


class FaultInjector:
    """Draws one Fault per request; `configure` swaps the rates and restarts the sequence. `injected` tells
    how many of each kind it has drawn since the server started, for tests that report what they survived."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._injected: Counter[str] = Counter()
        self.configure(config)

    def configure(self, config: FaultConfig | None) -> None:
        with self._lock:
            self.config = config or FaultConfig()
            self._rng = random.Random(self.config.seed)

    def draw(self) -> Fault:
        with self._lock:
            cfg = self.config
            if not cfg.active:
                return NO_FAULT
            slow = self._rng.random() < cfg.rate_slow
            roll = self._rng.random()
            fault = Fault(_kind_for(roll, cfg), cfg.slow_seconds if slow else 0.0)
            if slow:
                self._injected["slow"] += 1
            if fault.kind is not None:
                self._injected[fault.kind] += 1
        return fault

    def injected(self) -> dict[str, int]:
        with self._lock:
            return dict(self._injected)


def _kind_for(roll: float, cfg: FaultConfig) -> str | None:
    for kind, rate in (("429", cfg.rate_429), ("500", cfg.rate_500), ("503", cfg.rate_503), ("drop", cfg.rate_drop)):
        if roll < rate:
            return kind
        roll -= rate
    return None


def no_access(method: str) -> ApiError:
    """OpenAI's 403 for a key that authenticates but may not use the Batch API (a restricted key)."""
    scope = "api.batch.read" if method == "GET" else "api.batch.write"
    return ApiError(
        403,
        f"You have insufficient permissions for this operation. Missing scopes: {scope}. Check that you have the "
        "correct role in your organization (Reader, Writer, Owner) and project (Member, Owner), and if you're "
        "using a restricted API key, that it has the necessary scopes.",
    )


def fault_error(kind: str) -> ApiError:
    """The error OpenAI answers for a 429, 500 or 503."""
    if kind == "429":
        return ApiError(
            429,
            "Rate limit reached for requests per min (RPM): Limit 60, Used 60, Requested 1. "
            "Please try again in 1s. Visit https://platform.openai.com/account/rate-limits to learn more.",
            type="requests",
            code="rate_limit_exceeded",
            headers={
                "retry-after": "1",
                "retry-after-ms": "100",
                "x-ratelimit-limit-requests": "60",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "1s",
            },
        )
    if kind == "503":
        return ApiError(
            503,
            "The server is overloaded or not ready yet.",
            type="server_error",
            headers={"retry-after": "1", "retry-after-ms": "100"},
        )
    return ApiError(
        500,
        "The server had an error while processing your request. Sorry about that!",
        type="server_error",
    )

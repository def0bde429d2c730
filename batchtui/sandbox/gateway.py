"""The ASGI layer in front of the routes: counts /v1 requests per route, injects faults, checks
the API key, and adds OpenAI's response headers. It sees the server's own `send`, which is what
lets it drop a connection outright."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import Counter
from typing import Any

import orjson
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from .errors import ApiError, missing_key, wrong_key
from .faults import FaultInjector, fault_error, no_access

API_PREFIX = "/v1/"


class RequestStats:
    """Request counts by route name (e.g. "batches.list"), safe to read from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


class _Dropped(Exception):
    """Raised inside the app to stop it once the connection has been cut on purpose."""


class Gateway:
    """Wraps the FastAPI app; everything under /v1 passes through stats, faults and auth."""

    def __init__(self, app: Any, stats: RequestStats, faults: FaultInjector, api_key: str | None) -> None:
        self.app = app
        self.stats = stats
        self.faults = faults
        self.api_key = api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        self.stats.add(self._route_name(scope))
        fault = self.faults.draw()
        if fault.delay:
            await asyncio.sleep(fault.delay)
        headers_send = _with_openai_headers(send, started)
        if fault.kind == "drop":
            if scope["path"].endswith("/content") and scope["method"] == "GET":
                await self._run_until_half(scope, receive, send, headers_send)
            else:
                await _abort(send)
            return
        if fault.kind is not None:
            await send_error(headers_send, fault_error(fault.kind))
            return
        auth_error = self._check_key(scope)
        if auth_error is not None:
            await send_error(headers_send, auth_error)
            return
        await self.app(scope, receive, headers_send)

    def _route_name(self, scope: Scope) -> str:
        for route in self.app.router.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return route.name
        return "unknown"

    def _check_key(self, scope: Scope) -> ApiError | None:
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1").strip()
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return missing_key()
        if key == self.faults.config.no_access_key:
            return no_access(scope["method"])
        if self.api_key is not None and key != self.api_key:
            return wrong_key(key)
        return None

    async def _run_until_half(self, scope: Scope, receive: Receive, raw_send: Send, send: Send) -> None:
        """Serve a download but cut the connection after about half of its bytes."""
        state = {"half": None, "sent": 0}

        async def cutting_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                length = dict(message.get("headers", [])).get(b"content-length")
                state["half"] = int(length) // 2 if length else 0
                await send(message)
                return
            if message["type"] == "http.response.body":
                body = message.get("body", b"")
                room = state["half"] - state["sent"]
                if len(body) < room:
                    state["sent"] += len(body)
                    await send(message)
                    return
                await send({"type": "http.response.body", "body": body[:room], "more_body": True})
                await _abort(raw_send)
                raise _Dropped
            await send(message)

        try:
            await self.app(scope, receive, cutting_send)
        except _Dropped:
            pass
        except BaseExceptionGroup as group:
            _, rest = group.split(_Dropped)
            if rest is not None:
                raise rest from None


async def _abort(send: Send) -> None:
    """Reset the client's connection without an answer (uvicorn's transport behind `send`)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionAbortedError("sandbox fault: connection dropped")
    transport.abort()
    for _ in range(3):
        await asyncio.sleep(0)


def _with_openai_headers(send: Send, started: float) -> Send:
    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            elapsed = int((time.perf_counter() - started) * 1000)
            headers += [
                (b"x-request-id", ("req_" + secrets.token_hex(16)).encode()),
                (b"openai-processing-ms", str(elapsed).encode()),
                (b"openai-version", b"2020-10-01"),
            ]
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


async def send_error(send: Send, error: ApiError) -> None:
    body = orjson.dumps(error.body())
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

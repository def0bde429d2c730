"""Fixtures for the sandbox suite: servers on loopback, and SDK clients whose every JSON response
is checked against OpenAI's schemas (tests/sandbox/openai-batch-schemas.json)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2
import jsonschema
import pytest
from openai import AsyncOpenAI
from sandbox_helpers import schema_for, validate

from batchtui.sandbox import SandboxConfig, SandboxServer

FAST = 1000.0


class SchemaRecorder:
    """An httpx2 response hook that validates every JSON answer and remembers what it checked."""

    def __init__(self) -> None:
        self.checked: list[str] = []
        self.failures: list[str] = []

    async def __call__(self, response: httpx2.Response) -> None:
        if "application/json" not in response.headers.get("content-type", ""):
            return
        await response.aread()
        name = schema_for(response.request.method, response.request.url.path, response.status_code)
        if name is None:
            return
        try:
            validate(name, response.json())
            self.checked.append(name)
        except jsonschema.ValidationError as exc:
            self.failures.append(f"{response.request.method} {response.request.url.path}: {exc.message}")


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    """One sandbox at speed 1000 shared by the session."""
    with SandboxServer(SandboxConfig(speed=FAST)) as server:
        yield server


@pytest.fixture
def make_server() -> Iterator[Callable[..., SandboxServer]]:
    """Start a sandbox of the test's own with the given SandboxConfig fields; stopped at teardown."""
    servers: list[SandboxServer] = []

    def make(**fields: Any) -> SandboxServer:
        fields.setdefault("speed", FAST)
        server = SandboxServer(SandboxConfig(**fields)).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def schema_recorder() -> Iterator[SchemaRecorder]:
    recorder = SchemaRecorder()
    yield recorder
    assert not recorder.failures, "responses not matching OpenAI's schemas:\n" + "\n".join(recorder.failures)


@pytest.fixture
def client_for(schema_recorder) -> Iterator[Callable[..., AsyncOpenAI]]:
    """An AsyncOpenAI for a server, with schema checks on every answer and no retries by default."""

    def make(server: SandboxServer, api_key: str = "sk-test", max_retries: int = 0, **kw: Any) -> AsyncOpenAI:
        http = httpx2.AsyncClient(event_hooks={"response": [schema_recorder]}, timeout=30)
        return AsyncOpenAI(api_key=api_key, base_url=server.base_url, max_retries=max_retries, http_client=http, **kw)

    yield make


@pytest.fixture
async def client(sandbox, client_for) -> AsyncIterator[AsyncOpenAI]:
    c = client_for(sandbox)
    yield c
    await c.close()

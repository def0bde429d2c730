"""Shared fixtures: a real sandbox server on loopback, and profiles pointing at it with a temp cache."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchtui.core.config import Profile
from batchtui.sandbox import SandboxConfig, SandboxServer

FAST = 1000.0


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch) -> Path:
    """No test reads the developer's config or cache, or their OpenAI variables. Nor COLUMNS and LINES, which
    pytest-xdist's workers have set to 80 and 24: a process would take them over the size of its pseudo-terminal."""
    home = tmp_path / "batchtui-home"
    monkeypatch.setenv("BATCHTUI_HOME", str(home))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "BATCHTUI_SANDBOX_FAULTS",
                 "COLUMNS", "LINES"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def copied(monkeypatch) -> list[str]:
    """What the app put on the clipboard (pyperclip stubbed out, so it works with no clipboard here)."""
    from batchtui.tui import clipboard

    texts: list[str] = []
    monkeypatch.setattr(clipboard.pyperclip, "copy", texts.append)
    return texts


@pytest.fixture
def fresh_sandbox() -> Iterator[SandboxServer]:
    """A sandbox of this test's own at high speed, for tests that count calls or inject faults."""
    with SandboxServer(SandboxConfig(speed=FAST)) as server:
        yield server


@pytest.fixture
def sandbox_profile(fresh_sandbox) -> Profile:
    return Profile(name="test", base_url=fresh_sandbox.base_url, api_key="sk-test")


def chat_lines(count: int, *, model: str = "gpt-4o-mini", prefix: str = "row") -> str:
    """A valid chat-completions batch input of `count` lines."""
    return "".join(
        json.dumps({
            "custom_id": f"{prefix}-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": model, "messages": [{"role": "user", "content": f"Summarise item {i}."}]},
        }) + "\n"
        for i in range(count)
    )


@pytest.fixture
def write_batch_file(tmp_path):
    def write(count: int, name: str = "requests.jsonl", **kwargs) -> Path:
        path = tmp_path / name
        path.write_text(chat_lines(count, **kwargs))
        return path

    return write


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    """`batchtui sandbox` in its own process, on a free port, for the CLI tests of a module."""
    from cli_helpers import sandbox_process

    with sandbox_process() as url:
        yield url


@pytest.fixture
def cli_env(sandbox_url, isolated_home) -> dict[str, str]:
    """Environment for `batchtui` processes against that sandbox, with this test's home."""
    return {**os.environ, "OPENAI_BASE_URL": sandbox_url, "OPENAI_API_KEY": "sk-test",
            "BATCHTUI_HOME": str(isolated_home)}


@pytest.fixture(scope="module")
def failing_sandbox_url() -> Iterator[str]:
    """`batchtui sandbox` in its own process that fails 30% of requests, for the CLI tests of a module."""
    from cli_helpers import sandbox_process

    with sandbox_process("--fail-rate", "0.3") as url:
        yield url


@pytest.fixture
def failing_cli_env(failing_sandbox_url, isolated_home) -> dict[str, str]:
    """Environment for `batchtui` processes against the failing sandbox, with this test's home."""
    return {**os.environ, "OPENAI_BASE_URL": failing_sandbox_url, "OPENAI_API_KEY": "sk-test",
            "BATCHTUI_HOME": str(isolated_home)}


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """A real PostgreSQL server for this test process (pgserver runs one from its wheel, no system install), on a
    unix socket in a temporary folder."""
    pgserver = pytest.importorskip("pgserver")
    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server
    server.cleanup()


@pytest.fixture
def store_url(postgres) -> str:
    """The URL of a database of this test's own on that server."""
    import secrets

    name = f"t_{secrets.token_hex(6)}"
    postgres.psql(f"CREATE DATABASE {name};")
    return postgres.get_uri(name)

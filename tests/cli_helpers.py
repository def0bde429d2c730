"""Running the CLI as a script would, and `batchtui sandbox` in its own process, for the CLI tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def batchtui(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "batchtui", *args], env=env, capture_output=True, text=True, timeout=120
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


@contextmanager
def sandbox_process(*options: str) -> Iterator[str]:
    """`batchtui sandbox` on a free port at high speed (plus `options`); yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "batchtui", "sandbox", "--port", "0", "--speed", "1000", *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1"), process.stderr.read()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)

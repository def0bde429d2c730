"""Running the CLI as a script would, and `batchtui sandbox` in its own process, for the CLI tests."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def batchtui(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "batchtui", *args], env=env, capture_output=True, text=True, timeout=120
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def on_a_terminal(*args: str, env: dict[str, str], stdout_too: bool = False,
                  ) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run batchtui with stderr (and with `stdout_too` its stdout) on a pseudo-terminal, as in a shell, reading the
    terminal as the process writes (a full terminal buffer would stall it): the finished process, with its stdout
    when that went to a pipe, and all the terminal got."""
    master, slave = os.openpty()
    process = subprocess.Popen([sys.executable, "-m", "batchtui", *args], env=env, text=True, stderr=slave,
                               stdout=slave if stdout_too else subprocess.PIPE)
    os.close(slave)
    shown = bytearray()
    while True:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # EIO: the process has gone, and its end of the terminal with it
                break
            if not chunk:
                break
            shown += chunk
        elif process.poll() is not None:
            break
    os.close(master)
    stdout = process.stdout.read() if process.stdout is not None else ""
    done = subprocess.CompletedProcess(process.args, process.wait(timeout=60), stdout, "")
    return done, shown.decode("utf-8", errors="replace")


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


def a_batch_then_offline(home: Path, sandbox_url: str, path: Path, env: dict[str, str]) -> str:
    """Profile `lab` starts a batch of `path` on the sandbox, then points at an address nobody answers: the batch's
    id, cached but out of reach."""
    config = home / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[profiles.lab]\nbase_url = "{sandbox_url}"\napi_key = "sk-lab"\n')
    file_id = batchtui("upload-batch-file", str(path), "--profile", "lab", env=env).stdout.strip()
    batch_id = batchtui("start-batch", file_id, "--profile", "lab", env=env).stdout.strip()
    config.write_text('[profiles.lab]\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "sk-lab"\n')
    return batch_id

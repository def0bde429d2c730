"""`batchtui sandbox --data-dir` killed with SIGKILL at random moments comes back with its batches and files."""

from __future__ import annotations

import io
import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from long_runs import suite_or_long
from openai import OpenAI

KILLS = int(suite_or_long(3, 5))
SEED = 20261125


@contextmanager
def sandbox_at(data_dir) -> Iterator[tuple[subprocess.Popen[str], OpenAI]]:
    """`batchtui sandbox --data-dir` in its own process (speed 200: a 600-line batch runs ~1.5 s); killed on exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "batchtui", "sandbox", "--port", "0", "--speed", "200", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = process.stdout.readline().strip()
        assert url.endswith("/v1"), process.stderr.read()
        yield process, OpenAI(base_url=url, api_key="sk-test", max_retries=0)
    finally:
        process.kill()
        process.wait(timeout=30)


def start(client: OpenAI, lines: int, tag: str) -> str:
    body = "".join(
        json.dumps({"custom_id": f"{tag}-{i}", "method": "POST", "url": "/v1/chat/completions",
                    "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"item {i}"}]}}) + "\n"
        for i in range(lines)
    )
    uploaded = client.files.create(file=(f"{tag}.jsonl", io.BytesIO(body.encode())), purpose="batch")
    return client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                 completion_window="24h").id


def finished(client: OpenAI, batch_id: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while (batch := client.batches.retrieve(batch_id)).status not in ("completed", "failed", "cancelled", "expired"):
        assert time.monotonic() < deadline, f"{batch_id} still {batch.status}"
        time.sleep(0.05)
    return batch


def test_sandbox_survives_sigkill_with_batches_and_files_intact(tmp_path):
    rng = random.Random(SEED)
    data_dir = tmp_path / "sandbox"
    done: dict[str, tuple[dict, bytes]] = {}
    started: dict[str, tuple[str, int]] = {}
    for kill in range(KILLS):
        with sandbox_at(data_dir) as (process, client):
            for batch_id, (shape, output) in done.items():
                batch = client.batches.retrieve(batch_id)
                assert batch.model_dump() == shape
                assert client.files.content(batch.output_file_id).read() == output
            for batch_id, (tag, lines) in started.items():  # interrupted by the kill: finishes with every line once
                batch = finished(client, batch_id)
                custom_ids = sorted(json.loads(line)["custom_id"]
                                    for line in client.files.content(batch.output_file_id).read().splitlines())
                assert (batch.status, batch.request_counts.completed) == ("completed", lines)
                assert custom_ids == sorted(f"{tag}-{i}" for i in range(lines))
                done[batch_id] = (batch.model_dump(), client.files.content(batch.output_file_id).read())
            started.clear()
            small = finished(client, start(client, 20, f"small{kill}"))
            done[small.id] = (small.model_dump(), client.files.content(small.output_file_id).read())
            lines = rng.randint(300, 900)
            started[start(client, lines, f"big{kill}")] = (f"big{kill}", lines)
            time.sleep(rng.uniform(0.0, 1.5))
            process.send_signal(signal.SIGKILL)
    with sandbox_at(data_dir) as (_, client):
        for batch_id, (_, lines) in started.items():
            assert finished(client, batch_id).request_counts.completed == lines
        assert {b.id for b in client.batches.list(limit=100)} == set(done) | set(started)
    print(f"\nsandbox: {KILLS} SIGKILLs, {len(done) + len(started)} batches intact after restarts")

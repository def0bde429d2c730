"""Helpers for the sandbox tests: building request lines, uploading, waiting, reading results."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import orjson
from openai import AsyncOpenAI
from openai.types import Batch

TERMINAL = ("completed", "failed", "expired", "cancelled")
SCHEMAS = json.loads((Path(__file__).parent / "openai-batch-schemas.json").read_text())
# The spec's file object lists the purposes of its time; its upload parameters (and the SDK's FilePurpose) take
# `evals` too, and the file then has that purpose.
SCHEMAS["$defs"]["OpenAIFile"]["properties"]["purpose"]["enum"].append("evals")

_ROUTE_SCHEMAS = (
    ("POST", r"/v1/files", "OpenAIFile"),
    ("GET", r"/v1/files", "ListFilesResponse"),
    ("GET", r"/v1/files/[^/]+", "OpenAIFile"),
    ("DELETE", r"/v1/files/[^/]+", "DeleteFileResponse"),
    ("POST", r"/v1/batches", "Batch"),
    ("GET", r"/v1/batches", "ListBatchesResponse"),
    ("GET", r"/v1/batches/[^/]+", "Batch"),
    ("POST", r"/v1/batches/[^/]+/cancel", "Batch"),
)


def schema_for(method: str, path: str, status: int) -> str | None:
    """The schema an API answer must match, by route; errors all share ErrorResponse."""
    if status >= 400:
        return "ErrorResponse"
    for m, pattern, name in _ROUTE_SCHEMAS:
        if m == method and re.fullmatch(pattern, path):
            return name
    return None


_VALIDATORS = {
    name: jsonschema.Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": SCHEMAS["$defs"]})
    for name in SCHEMAS["$defs"]
}


def validate(name: str, body: Any) -> None:
    _VALIDATORS[name].validate(body)


def request_line(i: int, *, url: str = "/v1/chat/completions", body: dict[str, Any] | None = None, **over: Any) -> dict:
    line = {
        "custom_id": f"req-{i}",
        "method": "POST",
        "url": url,
        "body": body
        if body is not None
        else {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Describe the history of item {i}."}]},
    }
    line.update(over)
    return line


def jsonl(lines: list[Any]) -> bytes:
    return b"".join((line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines)


async def upload(client: AsyncOpenAI, content: bytes, name: str = "input.jsonl", purpose: str = "batch"):
    return await client.files.create(file=(name, content), purpose=purpose)


async def start_batch(
    client: AsyncOpenAI, lines: list[Any], endpoint: str = "/v1/chat/completions", **kw: Any
) -> Batch:
    f = await upload(client, jsonl(lines))
    return await client.batches.create(input_file_id=f.id, endpoint=endpoint, completion_window="24h", **kw)


async def wait_for(
    client: AsyncOpenAI,
    batch_id: str,
    until: Callable[[Batch], bool] = lambda b: b.status in TERMINAL,
    within: float = 20.0,
    seen: list[Batch] | None = None,
) -> Batch:
    """Poll every 20 ms until `until(batch)`; `seen` collects every observation."""
    deadline = time.monotonic() + within
    while True:
        batch = await client.batches.retrieve(batch_id)
        if seen is not None:
            seen.append(batch)
        if until(batch):
            return batch
        if time.monotonic() > deadline:
            raise AssertionError(f"batch {batch_id} stuck in {batch.status}: {batch.request_counts}")
        await asyncio.sleep(0.02)


async def read_lines(client: AsyncOpenAI, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    content = await client.files.content(file_id)
    return [orjson.loads(line) for line in content.content.splitlines() if line.strip()]

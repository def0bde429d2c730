"""A hostile Batch and Files API on 127.0.0.1, for the trust tests: every id, file name and text it sends carries
escape sequences, markup and `../`, some fields have the wrong type or a huge value, and whatever id is asked for,
it answers with its own (so a client that builds a path from the answer's id is caught).

It speaks just enough of the API for the SDK: list, retrieve, create and cancel batches; list, retrieve, upload
and download files. Objects are plain JSON, sent as they are: nothing here is validated, as on a server that
means harm.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fake_api import Answer, Request, fake_api

ESC = "\x1b]0;EVILTITLE\x07\x1b[2J\x1b[31m\x9b31m\u202e"
"""Escapes that retitle, clear and colour a terminal (7- and 8-bit) and flip text (bidi)."""
MARKUP = "[b]bold[/b][link=https://evil.example]x[/link]"


def escaping_id(prefix: str, target: Path) -> str:
    """An id that, used as a path under any folder, leads to `target`/ESCAPED: `prefix`/../../.../target."""
    return f"{prefix}/{'../' * 40}{str(target).lstrip('/')}/ESCAPED{ESC}"


def input_lines(count: int = 3) -> bytes:
    """Request lines whose custom_ids and prompts carry escapes and markup."""
    lines = []
    for n in range(count):
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"prompt {n} {ESC}{MARKUP}"}]}
        lines.append({"custom_id": f"row-{n}{ESC}../x", "method": "POST", "url": "/v1/chat/completions", "body": body})
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def output_lines(count: int = 3) -> bytes:
    """Answers to input_lines, with escapes in the answers and the ids."""
    lines = []
    for n in range(count):
        body = {"id": f"chatcmpl-{n}{ESC}", "object": "chat.completion", "model": f"gpt-4o-mini{ESC}",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": f"answer {n} {ESC}{MARKUP}"},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
        lines.append({"id": f"batch_req_{n}{ESC}", "custom_id": f"row-{n}{ESC}../x", "error": None,
                      "response": {"status_code": 200, "request_id": f"req{ESC}", "body": body}})
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


@dataclass
class HostileApi:
    """The objects the server hands out. `escape_to` is where a path built from its ids would lead."""

    escape_to: Path
    extra_batches: int = 0
    """Plain batches listed after the hostile ones (to see a long list through)."""
    files: dict[str, bytes] = field(default_factory=dict)
    uploads: int = 0

    def __post_init__(self) -> None:
        self.input_id = escaping_id("file-input", self.escape_to)
        self.output_id = escaping_id("file-output", self.escape_to)
        self.error_id = escaping_id("file-errors", self.escape_to)
        self.files = {self.input_id: input_lines(), self.output_id: output_lines(), self.error_id: b""}
        self.batch_id = escaping_id("batch_x", self.escape_to)

    def batch(self, **changes: Any) -> dict[str, Any]:
        """The main hostile batch: completed, with escapes and `../` in every text and id."""
        batch = {
            "id": self.batch_id, "object": "batch", "endpoint": f"/v1/chat/completions{ESC}",
            "input_file_id": self.input_id, "output_file_id": self.output_id, "error_file_id": None,
            "completion_window": "24h", "status": "completed", "created_at": 1_765_000_000,
            "in_progress_at": 1_765_000_010, "finalizing_at": 1_765_000_500, "completed_at": 1_765_000_600,
            "expires_at": 1_765_086_400, "model": f"gpt-4o-mini{ESC}{MARKUP}",
            "request_counts": {"total": 3, "completed": 3, "failed": 0},
            "metadata": {"description": f"evil {ESC}{MARKUP}", f"key{ESC}": f"value{ESC}"},
        }
        return batch | changes

    def wrong_types(self) -> list[dict[str, Any]]:
        """Batches whose fields have the wrong type, an unknown status or a huge value."""
        return [
            self.batch(id="batch_nullcounts", request_counts=None, created_at="x", status=f"paused{ESC}",
                       completed_at="soon", in_progress_at=[1], usage="lots", errors={"data": "x"}),
            self.batch(id="batch_hugedesc", metadata={"description": "long " * 2_000_000}, created_at=1_765_000_001,
                       request_counts={"total": "3", "completed": None, "failed": -1}),
            self.batch(id=f"batch_typo{ESC}", status=None, endpoint=None, model=5, metadata="x",
                       created_at=-1, output_file_id=12),
        ]

    def batches(self) -> list[dict[str, Any]]:
        extra = [self.batch(id=f"batch_plain{n:06d}", created_at=1_700_000_000 - n, metadata={})
                 for n in range(self.extra_batches)]
        return [self.batch(), *self.wrong_types(), *extra]

    def file(self, file_id: str) -> dict[str, Any]:
        size = len(self.files.get(file_id, b""))
        return {"id": file_id, "object": "file", "bytes": size, "created_at": 1_765_000_000,
                "filename": f"../../{ESC}{MARKUP}.jsonl", "purpose": "batch", "status": "processed"}

    def all_files(self) -> list[dict[str, Any]]:
        odd = {"id": "file-odd", "object": "file", "bytes": "x", "created_at": None, "filename": None,
               "purpose": 7}
        return [self.file(file_id) for file_id in self.files] + [odd]


def _page(items: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
    """A page as the API lists them: `limit` items after the id `after`."""
    limit = int(query.get("limit", "20"))
    ids = [item.get("id") for item in items]
    start = ids.index(query["after"]) + 1 if query.get("after") in ids else 0
    page = items[start : start + limit]
    return {"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None, "has_more": start + limit < len(items)}


def _answer(api: HostileApi, request: Request) -> Answer:
    """What the hostile server says to each call: whatever id was asked for, its own objects come back."""
    parts = request.path.removeprefix("/v1/").split("/", 2)
    asked = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
    if request.method == "GET" and parts == ["batches"]:
        return 200, _page(api.batches(), request.query)
    if request.method == "GET" and parts == ["files"]:
        return 200, _page(api.all_files(), request.query)
    if parts[0] == "batches":
        status = {"GET": "completed", "POST": "cancelling" if parts[-1] == "cancel" else "validating"}
        return 200, api.batch(status=status.get(request.method, "completed"))
    if parts[0] == "files" and request.method == "POST":
        api.uploads += 1
        return 200, api.file(api.input_id)
    if parts[0] == "files":
        known = asked if asked in api.files else api.output_id
        return 200, (api.files[known] if parts[-1] == "content" else api.file(known))
    return 404, {"error": {"message": "no such route", "type": "invalid_request_error"}}


@contextmanager
def hostile_server(api: HostileApi) -> Iterator[str]:
    """Serve `api` on a free loopback port; yields its base URL (with /v1)."""
    with fake_api(lambda request: _answer(api, request)) as served:
        yield served.base_url

"""Write a batch's output and error files line by line, resumable from a saved Progress.

Input is read in fixed blocks of lines; each block is answered in an order set by a hash of its
lines, so the output is not in input order (as on OpenAI, clients must join on custom_id) yet
the same input always gives the same files, and a restart can resume mid-block.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from .fake_model import answer, attempt_seed, digest_of
from .store import BatchRecord, Progress

BLOCK_LINES = 128
STOPPED_ERRORS = {
    "batch_expired": "This request could not be executed before the completion window expired.",
    "batch_cancelled": "This request was not executed because the batch was cancelled.",
}


class OutputWriter:
    """Generates one batch's results into its work files; the engine decides how many and when."""

    def __init__(self, batch: BatchRecord, input_path: Path, output_path: Path, error_path: Path, fail_rate: float):
        self.batch = batch
        self.fail_rate = fail_rate
        self.progress = Progress(**vars(batch.progress))
        self._input = open(input_path, "rb")  # noqa: SIM115
        self._out = _open_at(output_path, self.progress.output_bytes)
        self._err = _open_at(error_path, self.progress.error_bytes)
        self._block: list[tuple[bytes, bytes]] = []
        self._block_end = self.progress.input_offset
        self._load_block()

    def _load_block(self) -> None:
        """Read the block starting at progress.input_offset and order it by line hash."""
        self._input.seek(self.progress.input_offset)
        lines: list[tuple[bytes, bytes]] = []
        offset = self.progress.input_offset
        while len(lines) < BLOCK_LINES:
            raw = self._input.readline()
            if not raw:
                break
            offset += len(raw)
            if raw.strip():
                lines.append((digest_of(raw), raw))
        lines.sort(key=lambda item: item[0])
        self._block = lines
        self._block_end = offset

    def _pending(self) -> Iterator[tuple[bytes, bytes]]:
        """Yield lines not yet answered, advancing the block and the checkpoint as they are used."""
        while True:
            p = self.progress
            if p.block_done >= len(self._block):
                if not self._block:
                    return
                p.input_offset, p.block_done = self._block_end, 0
                self._load_block()
                continue
            item = self._block[p.block_done]
            p.block_done += 1
            p.done += 1
            yield item

    def run(self, max_lines: int) -> int:
        """Answer up to `max_lines` more requests with the fake model; returns how many were done."""
        if max_lines <= 0:
            return 0
        p = self.progress
        endpoint, batch_id = self.batch.endpoint, self.batch.id
        created = int(time.time())
        out_lines: list[bytes] = []
        err_lines: list[bytes] = []
        count = 0
        for digest, raw in self._pending():
            req = orjson.loads(raw)
            attempt = attempt_seed(batch_id, str(req["custom_id"]))
            ans = answer(endpoint, req["body"], digest, created, self.fail_rate, attempt)
            line = {
                "id": "batch_req_" + _line_id(batch_id, digest),
                "custom_id": req["custom_id"],
                "response": {
                    "status_code": ans.status_code,
                    "request_id": "req_" + attempt.hex(),
                    "body": ans.body,
                },
                "error": None,
            }
            if ans.status_code == 200:
                p.completed += 1
                p.input_tokens += ans.input_tokens
                p.cached_tokens += ans.cached_tokens
                p.output_tokens += ans.output_tokens
                p.reasoning_tokens += ans.reasoning_tokens
                out_lines.append(orjson.dumps(line))
            else:
                p.failed += 1
                err_lines.append(orjson.dumps(line))
            count += 1
            if count >= max_lines:
                break
        self._flush(out_lines, err_lines)
        return count

    def stop_remaining(self, code: str) -> int:
        """Write every unanswered request to the error file as `code` (batch_expired, batch_cancelled)."""
        error = {"code": code, "message": STOPPED_ERRORS[code]}
        batch_id = self.batch.id
        err_lines: list[bytes] = []
        count = 0
        for digest, raw in self._pending():
            custom_id = _custom_id(raw)
            line = {
                "id": "batch_req_" + _line_id(batch_id, digest),
                "custom_id": custom_id,
                "response": None,
                "error": error,
            }
            err_lines.append(orjson.dumps(line))
            count += 1
            if len(err_lines) >= 5000:
                self._flush([], err_lines)
                err_lines = []
        self._flush([], err_lines)
        return count

    def _flush(self, out_lines: list[bytes], err_lines: list[bytes]) -> None:
        for fh, lines in ((self._out, out_lines), (self._err, err_lines)):
            if lines:
                fh.write(b"\n".join(lines) + b"\n")
                fh.flush()
        self.progress.output_bytes = self._out.tell()
        self.progress.error_bytes = self._err.tell()

    def close(self) -> None:
        for fh in (self._input, self._out, self._err):
            fh.close()


def _open_at(path: Path, size: int) -> IO[bytes]:
    """Open a work file for appending after truncating it to the last saved checkpoint."""
    fh = open(path, "ab")  # noqa: SIM115
    fh.truncate(size)
    fh.seek(size)
    return fh


def _line_id(batch_id: str, digest: bytes) -> str:
    return hashlib.blake2b(digest, key=batch_id.encode()[:64], digest_size=16).hexdigest()


def _custom_id(raw: bytes) -> Any:
    try:
        return orjson.loads(raw).get("custom_id")
    except (orjson.JSONDecodeError, AttributeError):
        return None

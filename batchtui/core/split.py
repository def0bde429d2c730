"""Cutting a batch input file that is over the API's limits into parts within them.

Lines are never cut or changed: the parts, concatenated, are the input byte for byte. Each part holds at most
`max_lines` requests (blank lines are not requests, as for OpenAI), `max_bytes` bytes and, for embeddings,
`max_embedding_inputs` inputs. Whether each line is a valid request is validate's business, not split's.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import orjson

from batchtui.core.errors import BatchtuiError
from batchtui.core.records import EMBEDDINGS
from batchtui.core.validate import MAX_BYTES, MAX_EMBEDDING_INPUTS, MAX_LINES, embedding_inputs

_CHUNK = 1 << 20
_PROGRESS_EVERY = 1_000


class SplitError(BatchtuiError):
    """The file cannot be split within the limits, or read, or its parts cannot be written."""


def split_file(
    path: Path,
    *,
    max_lines: int = MAX_LINES,
    max_bytes: int = MAX_BYTES,
    max_embedding_inputs: int = MAX_EMBEDDING_INPUTS,
    out_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Split `path` into `<stem>.part-001.jsonl`, `<stem>.part-002.jsonl`, ... in `out_dir` (default: beside it)
    and return their paths. A file already within the limits is left alone and the answer is `[path]`.

    Parts are written to temp files and renamed only once all are on disk, so on error none is left; parts of the
    same names from an earlier split are replaced. `progress` gets (bytes read, total bytes) while planning the
    cuts, the slow half. Raises SplitError naming the line when one line alone is over a limit."""
    if min(max_lines, max_bytes, max_embedding_inputs) < 1:
        raise ValueError("split limits must be at least 1")
    ranges = _plan(path, max_lines, max_bytes, max_embedding_inputs, progress)
    if len(ranges) == 1:
        return [path]
    return _write_parts(path, ranges, out_dir or path.parent)


def _plan(
    path: Path, max_lines: int, max_bytes: int, max_inputs: int, progress: Callable[[int, int], None] | None
) -> list[tuple[int, int]]:
    """The byte ranges of the parts: each as full as the limits allow."""
    ranges: list[tuple[int, int]] = []
    start = pos = 0
    lines = size = inputs = 0
    try:
        with open(path, "rb", buffering=_CHUNK) as fh:
            total = os.fstat(fh.fileno()).st_size
            for n, raw in enumerate(fh, start=1):
                request = 0 if raw.isspace() else 1
                line_inputs = _embedding_inputs(raw) if request else 0
                if len(raw) > max_bytes:
                    raise SplitError(
                        f"{path.name} line {n}: {len(raw):,} bytes, more than a part may hold ({max_bytes:,})."
                    )
                if line_inputs > max_inputs:
                    raise SplitError(
                        f"{path.name} line {n}: {line_inputs:,} embeddings inputs, more than a part may hold "
                        f"({max_inputs:,})."
                    )
                if size + len(raw) > max_bytes or lines + request > max_lines or inputs + line_inputs > max_inputs:
                    ranges.append((start, pos))
                    start, lines, size, inputs = pos, 0, 0, 0
                lines, size, inputs, pos = lines + request, size + len(raw), inputs + line_inputs, pos + len(raw)
                if progress and n % _PROGRESS_EVERY == 0:
                    progress(pos, total)
    except OSError as exc:
        raise SplitError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    ranges.append((start, pos))
    if progress:
        progress(pos, total)
    return ranges


def _embedding_inputs(raw: bytes) -> int:
    """The embeddings inputs of a request line; 0 for other endpoints and for lines that are not requests."""
    try:
        request = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return 0
    if not isinstance(request, dict) or request.get("url") != EMBEDDINGS or not isinstance(request.get("body"), dict):
        return 0
    return embedding_inputs(request["body"])


def _write_parts(path: Path, ranges: list[tuple[int, int]], out_dir: Path) -> list[Path]:
    parts = [out_dir / f"{path.stem}.part-{i:03d}.jsonl" for i in range(1, len(ranges) + 1)]
    written: list[Path] = []
    try:
        with open(path, "rb") as src:
            for start, end in ranges:
                fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{path.stem}.", suffix=".part")
                written.append(Path(tmp))
                with open(fd, "wb") as out:
                    _copy(src, out, end - start, path)
                    out.flush()
                    os.fsync(out.fileno())
        for i, part in enumerate(parts):
            os.replace(written[i], part)
            written[i] = part
    except BaseException as exc:
        for leftover in written:
            leftover.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise SplitError(f"Cannot write the parts of {path.name} in {out_dir}: {exc.strerror or exc}.") from None
        raise
    return parts


def _copy(src: BinaryIO, out: BinaryIO, length: int, path: Path) -> None:
    while length:
        chunk = src.read(min(_CHUNK, length))
        if not chunk:
            raise SplitError(f"{path.name} changed while it was being split; nothing was written.")
        out.write(chunk)
        length -= len(chunk)

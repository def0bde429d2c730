"""Cutting a batch input file that is over the API's limits into parts within them.

Lines are never cut or changed: the parts, concatenated, are the input byte for byte, and no part of an earlier
split is left beside them. Each part holds at most `max_lines` requests (blank lines are not requests, as for
OpenAI), `max_bytes` bytes and, for embeddings, `max_embedding_inputs` inputs. Whether each line is a valid request
is validate's business, not split's.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

import orjson

from batchtui.core.atomic import temp_beside
from batchtui.core.authoring.datasets import MAX_BYTES, bounded_lines
from batchtui.core.authoring.validate import MAX_EMBEDDING_INPUTS, MAX_LINES, embedding_inputs
from batchtui.core.domain import EMBEDDINGS, ProgressCallback, canonical_endpoint
from batchtui.core.errors import BatchtuiError

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
    kind: str = "openai",
    out_dir: Path | None = None,
    keep: Iterable[Path] = (),
    progress: ProgressCallback | None = None,
) -> list[Path]:
    """Split `path` into `<stem>.part-001.jsonl`, `<stem>.part-002.jsonl`, ... in `out_dir` (default: beside it)
    and return their paths. A file already within the limits is left alone and the answer is `[path]`.

    Parts are written to temp files and renamed only once all are on disk, so on error none is left. Then the parts
    of an earlier split that this one did not make are removed, so that the parts beside the file are this split's
    alone. Neither `path` nor any file of `keep` is ever replaced or removed: if one is named as a part, nothing is
    written. `progress` gets (bytes read, total bytes) while planning the cuts, the slow half. Raises SplitError
    naming the line when one line alone is over a limit, or naming the option when a limit is under 1. Embeddings
    inputs are counted on the lines whose url is the embeddings endpoint on a profile of `kind` (Azure's
    /embeddings too)."""
    for option, value in (("max_lines", max_lines), ("max_bytes", max_bytes),
                          ("max_embedding_inputs", max_embedding_inputs)):
        if value < 1:
            raise SplitError(f"{option} must be at least 1, not {value}.")
    out_dir = out_dir or path.parent
    check_part_names(path, [path, *keep], out_dir)
    ranges = plan_ranges(path, max_lines, max_bytes, max_embedding_inputs, kind, progress)
    names = [out_dir / f"{path.stem}.part-{i:03d}.jsonl" for i in range(1, len(ranges) + 1)]
    parts = [path] if len(ranges) == 1 else write_parts(path, ranges, names)
    _remove_earlier_parts(path, out_dir, parts)
    return parts


def check_part_names(path: Path, keep: Iterable[Path], out_dir: Path | None = None) -> None:
    """Raise SplitError if splitting `path` could replace or remove a file of `keep` (an input), because the name
    that file is reached by is a part name of `path` in `out_dir` (default: beside it)."""
    pattern = _part_name(path)
    folder = (out_dir or path.parent).resolve()
    for kept in keep:
        actual = kept.resolve()
        if actual.parent == folder and pattern.fullmatch(actual.name):
            shown = kept.name if kept.name == actual.name else f"{kept.name} (that is, {actual.name})"
            raise SplitError(f"{shown} has the name of a part of {path.name}; splitting would replace or remove it. "
                             "Rename it first.")


def _part_name(path: Path) -> re.Pattern[str]:
    return re.compile(re.escape(path.stem) + r"\.part-\d{3,}\.jsonl")


def _remove_earlier_parts(path: Path, out_dir: Path, parts: list[Path]) -> None:
    """Remove the parts of `path` in `out_dir` other than `parts`: those of an earlier split into more parts."""
    pattern, new = _part_name(path), {part.name for part in parts}
    try:
        earlier = [out_dir / e.name for e in os.scandir(out_dir) if pattern.fullmatch(e.name) and e.name not in new]
        for part in earlier:
            part.unlink(missing_ok=True)
    except OSError as exc:
        raise SplitError(f"Cannot remove the parts of an earlier split of {path.name} from {out_dir}: "
                         f"{exc.strerror or exc}.") from None


def plan_ranges(
    path: Path, max_lines: int, max_bytes: int, max_inputs: int, kind: str, progress: ProgressCallback | None
) -> list[tuple[int, int]]:
    """The byte ranges of the parts: each as full as the limits allow. Reads the file once, holding one line."""
    ranges: list[tuple[int, int]] = []
    start = pos = 0
    lines = size = inputs = 0
    try:
        with open(path, "rb", buffering=_CHUNK) as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise SplitError(f"{path.name} is not a regular file; split reads it twice, so save it to a file.")
            total = info.st_size
            for n, raw in enumerate(bounded_lines(fh, max_bytes), start=1):
                if isinstance(raw, int):
                    raise SplitError(f"{path.name} line {n}: {raw:,} bytes, more than a part may hold ({max_bytes:,}).")
                request = 0 if raw.isspace() else 1
                line_inputs = _embedding_inputs(raw, kind) if request else 0
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


def _embedding_inputs(raw: bytes, kind: str) -> int:
    """The embeddings inputs of a request line on a profile of `kind`; 0 for other endpoints and for lines that are
    not requests. A line without the bytes `embeddings` nor a \\u escape (the only way to write them otherwise) has
    no embeddings url, and is not parsed: most lines of a large chat file."""
    if b"embeddings" not in raw and b"\\u" not in raw:
        return 0
    try:
        request = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return 0
    if not isinstance(request, dict) or not isinstance(request.get("body"), dict):
        return 0
    url = request.get("url")
    if not isinstance(url, str) or canonical_endpoint(url, kind) != EMBEDDINGS:
        return 0
    return embedding_inputs(request["body"])


def write_parts(path: Path, ranges: list[tuple[int, int]], parts: list[Path]) -> list[Path]:
    """Copy each byte range of `path` to its part, all or none (temp files renamed once all are on disk)."""
    out_dir = parts[0].parent
    try:
        with ExitStack() as staged, open(path, "rb") as src:
            temps = []
            for part, (start, end) in zip(parts, ranges, strict=True):
                out, tmp = staged.enter_context(temp_beside(part))
                _copy(src, out, end - start, path)
                out.flush()
                os.fsync(out.fileno())
                temps.append(tmp)
            for done, (tmp, part) in enumerate(zip(temps, parts, strict=True)):
                try:
                    os.replace(tmp, part)
                except BaseException:
                    for renamed in parts[:done]:
                        renamed.unlink(missing_ok=True)
                    raise
    except OSError as exc:
        raise SplitError(f"Cannot write the parts of {path.name} in {out_dir}: {exc.strerror or exc}.") from None
    return parts


def _copy(src: BinaryIO, out: BinaryIO, length: int, path: Path) -> None:
    while length:
        chunk = src.read(min(_CHUNK, length))
        if not chunk:
            raise SplitError(f"{path.name} changed while it was being split; nothing was written.")
        out.write(chunk)
        length -= len(chunk)

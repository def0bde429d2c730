"""Retrying the requests of a batch that failed, expired or were cancelled: a new input file of their original
lines, for a batch whose metadata links back with `retry_of`."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from pathlib import Path

from batchtui.core.api.models import Batch
from batchtui.core.atomic import atomic_file
from batchtui.core.domain import RetryKind
from batchtui.core.errors import BatchtuiError
from batchtui.core.results.index import Outcome, ResultIndex

RETRY_KINDS: dict[RetryKind, frozenset[Outcome]] = {
    "failed": frozenset({Outcome.FAILED, Outcome.UNREADABLE}),
    "expired": frozenset({Outcome.EXPIRED}),
    "cancelled": frozenset({Outcome.CANCELLED}),
}
RETRY_OF = "retry_of"
"""The metadata key of a retry batch naming the batch it retries."""


class NothingToRetry(BatchtuiError):
    """No request of the chosen kinds is left to retry."""


class RetryFileError(BatchtuiError):
    """The retry input file could not be written."""


def finished_retries(batches: Iterable[Batch], batch_id: str) -> tuple[tuple[str, str | None, str | None], ...]:
    """The retries of `batch_id` (and theirs in turn) that have result files, as (id, output file, error file):
    what a result viewer of the batch shows, so a change means it has answers to show again."""
    children: dict[str, list[Batch]] = {}
    for batch in batches:
        parent = (batch.metadata or {}).get(RETRY_OF)
        if parent is not None:
            children.setdefault(parent, []).append(batch)
    found: list[tuple[str, str | None, str | None]] = []
    waiting, seen = [batch_id], {batch_id}
    while waiting:
        for retry in children.get(waiting.pop(), ()):
            if retry.id not in seen:
                seen.add(retry.id)
                waiting.append(retry.id)
                if retry.output_file_id or retry.error_file_id:
                    found.append((retry.id, retry.output_file_id, retry.error_file_id))
    return tuple(sorted(found))


def rows_to_retry(index: ResultIndex, only: Collection[RetryKind]) -> list[int]:
    """Rows whose latest attempt ended in one of `only` and that have an input line to send again."""
    wanted = frozenset().union(*(RETRY_KINDS[kind] for kind in only))
    return [row for row in range(len(index))
            if index.outcome(row) in wanted and index.line_number(row, "input") is not None]


def write_retry_file(
    index: ResultIndex, rows: Collection[int], dest: Path, *, cancelled: Callable[[], bool] = lambda: False
) -> int:
    """Write the rows' original input lines, byte for byte, to `dest` (whole or not at all); returns how many."""
    if not rows:
        raise NothingToRetry("No failed, expired or cancelled requests to retry.")
    try:
        with atomic_file(dest) as out:
            for row in rows:
                line = index.input_line(row)
                if line is None or cancelled():
                    raise RetryFileError(f"Cannot read the input line of {index.custom_id(row)!r}; nothing written.")
                out.write(line.rstrip(b"\r") + b"\n")
    except OSError as exc:
        raise RetryFileError(f"Cannot write {dest}: {exc.strerror or exc}.") from None
    return len(rows)

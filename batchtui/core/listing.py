"""Which batches the home list shows and in what order: status groups, incremental search, sorts.

Pure functions over openai `Batch` objects. `SearchIndex` keeps a lowercase haystack per batch so a
search keystroke over 10,000 batches costs a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from batchtui.core.api.models import Batch
from batchtui.core.domain import ACTIVE_STATUSES

SortKey = Literal["created", "status", "progress", "cost"]
SORT_KEYS: tuple[SortKey, ...] = ("created", "status", "progress", "cost")

STATUS_ORDER = ("in_progress", "validating", "finalizing", "cancelling", "failed", "expired", "cancelled", "completed")
"""Sorting by status puts what is still moving first, then what went wrong, then what is done."""

_SEPARATOR = "\x00"


@dataclass(frozen=True)
class StatusGroup:
    """A tab of the home list: a name and the statuses it holds (None holds every status)."""

    name: str
    statuses: frozenset[str] | None = None

    def contains(self, status: str) -> bool:
        return self.statuses is None or status in self.statuses


STATUS_GROUPS: tuple[StatusGroup, ...] = (
    StatusGroup("All"),
    StatusGroup("Active", ACTIVE_STATUSES),
    StatusGroup("Completed", frozenset({"completed"})),
    StatusGroup("Failed", frozenset({"failed"})),
    StatusGroup("Expired", frozenset({"expired"})),
    StatusGroup("Cancelled", frozenset({"cancelled"})),
)


def group_counts(batches: Iterable[Batch]) -> dict[str, int]:
    """How many batches each status group holds, by group name."""
    by_status: dict[str, int] = {}
    total = 0
    for batch in batches:
        by_status[batch.status] = by_status.get(batch.status, 0) + 1
        total += 1
    return {
        group.name: total if group.statuses is None else sum(by_status.get(s, 0) for s in group.statuses)
        for group in STATUS_GROUPS
    }


def description(batch: Batch) -> str:
    """What a person called the batch: metadata.description, else the first metadata pair as 'k=v'."""
    metadata = batch.metadata or {}
    if metadata.get("description"):
        return metadata["description"]
    for key, value in metadata.items():
        return f"{key}={value}"
    return ""


def haystack(batch: Batch, file_name: str | None = None) -> str:
    """The lowercase text a search looks in: id, metadata keys and values, endpoint, model, input file."""
    parts = [batch.id, batch.endpoint, batch.model or "", batch.input_file_id, file_name or ""]
    for key, value in (batch.metadata or {}).items():
        parts.append(f"{key}={value}")
    return _SEPARATOR.join(parts).lower()


def terms(query: str) -> list[str]:
    """A query's words, lowercased; a batch matches when every word is found."""
    return query.lower().split()


def matches(batch: Batch, query: str, file_names: Mapping[str, str] | None = None) -> bool:
    """Whether every word of `query` is a case-insensitive substring of the batch's searchable text."""
    words = terms(query)
    if not words:
        return True
    hay = haystack(batch, (file_names or {}).get(batch.input_file_id))
    return all(word in hay for word in words)


def _fingerprint(batch: Batch, file_name: str | None) -> tuple[Any, ...]:
    metadata = tuple(batch.metadata.items()) if batch.metadata else ()
    return (batch.endpoint, batch.model, batch.input_file_id, file_name, metadata)


class SearchIndex:
    """Lowercase haystacks cached per batch id; rebuilt only when the searchable fields change."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[Batch, tuple[Any, ...], str]] = {}
        self.file_names: Mapping[str, str] = {}

    def set_file_names(self, file_names: Mapping[str, str]) -> None:
        """Input file names by file id; a batch's file name is searchable once it is known."""
        self.file_names = dict(file_names)

    def haystack(self, batch: Batch) -> str:
        cached = self._cache.get(batch.id)
        file_name = self.file_names.get(batch.input_file_id)
        if cached is not None:
            seen, fingerprint, hay = cached
            if seen is batch and fingerprint[3] == file_name:
                return hay
            current = _fingerprint(batch, file_name)
            if current == fingerprint:
                self._cache[batch.id] = (batch, fingerprint, hay)
                return hay
        else:
            current = _fingerprint(batch, file_name)
        hay = haystack(batch, file_name)
        self._cache[batch.id] = (batch, current, hay)
        return hay

    def warm(self, batches: Iterable[Batch]) -> None:
        """Build any missing haystacks now (after a paint) so the first keystroke does not pay for them."""
        hay = self.haystack
        for batch in batches:
            hay(batch)

    def filter(self, batches: Iterable[Batch], group: StatusGroup = STATUS_GROUPS[0], query: str = "") -> list[Batch]:
        """The batches in `group` that match `query`, in their given order."""
        words = terms(query)
        statuses = group.statuses
        if statuses is not None:
            batches = [b for b in batches if b.status in statuses]
        if not words:
            return list(batches)
        hay = self.haystack
        if len(words) == 1:
            word = words[0]
            return [b for b in batches if word in hay(b)]
        return [b for b in batches if all(word in hay(b) for word in words)]

    def forget_missing(self, batch_ids: Iterable[str]) -> None:
        """Drop cached haystacks of batches no longer listed."""
        keep = set(batch_ids)
        for batch_id in [k for k in self._cache if k not in keep]:
            del self._cache[batch_id]


def fraction_done(batch: Batch) -> float:
    """Completed plus failed lines over the total; 1.0 for a finished batch that had no lines counted."""
    counts = batch.request_counts
    if counts and counts.total:
        return (counts.completed + counts.failed) / counts.total
    return 1.0 if batch.status == "completed" else 0.0


_STATUS_RANK = {status: rank for rank, status in enumerate(STATUS_ORDER)}


def sort_batches(batches: Sequence[Batch], key: SortKey = "created", *, reverse: bool = False,
                 costs: Mapping[str, Decimal] | None = None) -> list[Batch]:
    """Newest first; by status (active, then failed/expired/cancelled, then completed); most done first; or
    dearest first, by `costs` (batch id -> USD), batches without a cost last. `reverse` turns the order round
    (oldest first, completed first, least done first, cheapest first).

    Ties keep newest first, and batches without a cost stay last, either way round.
    """
    newest = sorted(batches, key=lambda b: (b.created_at, b.id), reverse=not (reverse and key == "created"))
    if key == "status":
        newest.sort(key=lambda b: _STATUS_RANK.get(b.status, len(STATUS_ORDER)), reverse=reverse)
    elif key == "progress":
        newest.sort(key=fraction_done, reverse=not reverse)
    elif key == "cost":
        known = costs or {}
        priced = [b for b in newest if b.id in known]
        priced.sort(key=lambda b: known[b.id], reverse=not reverse)
        newest = priced + [b for b in newest if b.id not in known]
    return newest


def next_sort(key: SortKey) -> SortKey:
    """The sort after `key`, cycling."""
    return SORT_KEYS[(SORT_KEYS.index(key) + 1) % len(SORT_KEYS)]

"""Full-text search over a result index: custom_id, the prompt's text and the answer's text.

Lines are parsed only when their raw bytes could hold the query, so a search over 50,000 answers reads
the bytes once and parses just the candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from batchtui.core.results.index import ResultIndex
from batchtui.core.results.records import answer_text, prompt_text

REPORT_EVERY = 1_000

SearchProgress = Callable[[list[int], int], None]
"""Called with (the hits found so far, rows searched so far) every REPORT_EVERY rows and at the end."""

# JSON may write these escaped, so a query holding one cannot be looked for in the raw bytes.
_ESCAPED_IN_JSON = frozenset('"\\/')


def _raw_needle(needle: str) -> bytes | None:
    """The bytes a line must contain to match `needle` (lower case ASCII), or None when that cannot be told."""
    if needle.isascii() and needle.isprintable() and not _ESCAPED_IN_JSON & set(needle):
        return needle.encode()
    return None


def _matches(line: bytes | None, needle: str, raw: bytes | None, text_of: Callable[[bytes | None], str]) -> bool:
    if line is None or (raw is not None and raw not in line.lower()):
        return False
    return needle in text_of(line).lower()


def search_rows(
    index: ResultIndex,
    rows: Sequence[int],
    query: str,
    *,
    progress: SearchProgress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[int]:
    """The rows (in the order given) whose custom_id, prompt text or answer text holds `query`, ignoring case.

    Blocking: run it in a thread. Returns early with the hits so far when `cancelled()` turns true.
    """
    needle = query.lower()
    raw = _raw_needle(needle)
    hits: list[int] = []
    for done, row in enumerate(rows, 1):
        if (
            needle in index.custom_id(row).lower()
            or _matches(index.input_line(row), needle, raw, prompt_text)
            or _matches(index.output_line(row), needle, raw, answer_text)
        ):
            hits.append(row)
        if done % REPORT_EVERY == 0:
            if cancelled():
                return hits
            if progress is not None:
                progress(hits, done)
    if progress is not None:
        progress(hits, len(rows))
    return hits

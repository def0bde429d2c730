"""The command palette's providers: one for every screen (a screen lists its actions in `PALETTE`), and one that
opens a batch from an id pasted into the palette."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from batchtui.core.text import printable

_BATCH_ID = re.compile(r"batch_[A-Za-z0-9_-]{1,200}")
"""What a batch id looks like (OpenAI's are batch_ and hex; compatible servers vary the rest)."""
MATCHING_BATCHES = 10
"""How many cached batches whose id holds the query the palette offers."""


def batch_id_in(text: str) -> str | None:
    """The batch id in `text` (pasted with spaces, quotes or a URL around it), or None."""
    found = _BATCH_ID.search(text)
    return found.group() if found else None


def _runner(screen, action: str) -> Callable[[], object]:
    async def run() -> None:
        await screen.run_action(action)

    return run


class ScreenCommands(Provider):
    """Offers the active screen's `PALETTE` entries whose action is enabled right now."""

    def _entries(self) -> Iterator[tuple[str, str, Callable[[], object]]]:
        screen = self.screen
        for title, help_text, action in getattr(screen, "PALETTE", ()):
            if screen.check_action(action.partition("(")[0], ()):
                yield title, help_text, _runner(screen, action)

    async def discover(self) -> Hits:
        for title, help_text, run in self._entries():
            yield DiscoveryHit(title, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, run in self._entries():
            if (score := matcher.match(title)) > 0:
                yield Hit(score, matcher.highlight(title), run, help=help_text)


class BatchIdCommands(Provider):
    """A batch id pasted into the palette opens its detail (from the cache, else the API); a part of one offers
    the cached batches whose id holds it."""

    async def search(self, query: str) -> Hits:
        app = self.app
        wanted = batch_id_in(query)
        if wanted is not None:
            yield Hit(100, Content(f"Open batch {printable(wanted)}"), lambda: app.open_batch(wanted),
                      help="Its detail, from the cache or the API")
        part = query.strip()
        if len(part) < 4:
            return
        offered = 0
        for batch in getattr(app, "batches", ()):
            if part in batch.id and batch.id != wanted:
                about = (batch.metadata or {}).get("description") or batch.status
                yield Hit(90, Content(f"Open {printable(batch.id)}"), lambda b=batch.id: app.open_batch(b),
                          help=printable(about))
                offered += 1
                if offered == MATCHING_BATCHES:
                    return

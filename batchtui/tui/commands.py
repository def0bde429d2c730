"""One command-palette provider for every screen: a screen lists its actions in `PALETTE`."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from textual.command import DiscoveryHit, Hit, Hits, Provider


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

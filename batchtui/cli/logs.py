"""`batchtui logs ...`: the team's PostgreSQL log store ([log_store] in config.toml, or BATCHTUI_LOG_STORE)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from cyclopts import App, Parameter

from batchtui.cli.common import JsonOption, ProfileOption, run
from batchtui.cli.render import ProgressLine, fail, print_json, say
from batchtui.core.text import plural, printable

if TYPE_CHECKING:
    from batchtui.core.logstore import LogStore
    from batchtui.core.workspace import Workspace

logs_app = App(name="logs", help="The team's request log in PostgreSQL: push this cache's llm_logs there, see what "
                                 "waits.")


def _store(workspace: Workspace) -> LogStore:
    store = workspace.log_store()
    if store is None:
        fail('no log store is set: add [log_store] url = "postgresql://..." to config.toml, or set BATCHTUI_LOG_STORE')
    return store


@logs_app.command
def push(
    batch_ids: Annotated[list[str] | None, Parameter(help="The batches to push (default: --all).")] = None,
    /,
    *,
    push_all: Annotated[bool, Parameter(name="--all", negative=(), help="Every batch the store lacks, or has "
                                                                        "as it was before its last import.")] = False,
    profile: ProfileOption = None,
) -> None:
    """Push llm_logs rows to the team's store (upserts keyed by batch and custom_id: pushing again is harmless)."""
    if batch_ids and push_all:
        fail("give batch ids or --all, not both", status=2)

    async def work(workspace: Workspace) -> tuple[int, int]:
        from batchtui.core.logstore import push_async

        store = _store(workspace)
        with ProgressLine("pushing") as bar:
            result = await push_async(store, list(batch_ids) if batch_ids else None, progress=bar)
        return result.batches, result.rows

    batches, rows = run(work, profile)
    say(f"pushed {plural(batches, 'batch', 'batches')}, {plural(rows, 'row')}")


@logs_app.command
def status(*, as_json: JsonOption = False, profile: ProfileOption = None) -> None:
    """What the store has of this cache's llm_logs, and what waits to be pushed."""
    import asyncio

    async def work(workspace: Workspace):
        store = _store(workspace)
        return store.settings.shown, await asyncio.to_thread(store.status)

    shown, found = run(work, profile)
    if as_json:
        print_json({"store": shown, "pushed": [{"batch_id": b, "rows": n} for b, n in found.pushed],
                    "waiting": [{"batch_id": b, "rows": n} for b, n in found.waiting]})
        return
    print(f"log store {printable(shown)}")
    print(f"pushed: {plural(len(found.pushed), 'batch', 'batches')}, "
          f"{plural(sum(n for _, n in found.pushed), 'row')}")
    print(f"waiting: {plural(len(found.waiting), 'batch', 'batches')}, "
          f"{plural(sum(n for _, n in found.waiting), 'row')}")
    for batch_id, rows in found.waiting:
        print(f"  {printable(batch_id)}  {plural(rows, 'row')}")

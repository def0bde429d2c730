"""What the commands share: their common options, and running a command's work against a profile's workspace."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

from cyclopts import Parameter

from batchtui.cli.render import fail, say, say_notice
from batchtui.core.errors import BatchtuiError
from batchtui.core.text import printable

if TYPE_CHECKING:
    from batchtui.core.api.models import Batch
    from batchtui.core.results.index import ResultFiles
    from batchtui.core.workspace import Workspace

T = TypeVar("T")


def non_empty(type_: object, value: str | None) -> None:
    """Cyclopts validator: an id argument must name something."""
    if value is not None and not value.strip():
        raise ValueError("an id cannot be empty")


BatchIdArgument = Annotated[str, Parameter(validator=non_empty)]
ProfileOption = Annotated[str | None, Parameter(help="Profile from config.toml (default: the OPENAI_* variables).")]
JsonOption = Annotated[bool, Parameter(name="--json", negative=(), help="Print JSON for scripts.")]


class UsageError(BatchtuiError):
    """The command line itself is wrong."""


def run(work: Callable[[Workspace], Awaitable[T]], profile_name: str | None) -> T:
    """Run one command's async work against the profile's workspace; errors become one line."""
    import asyncio

    from batchtui.core.config import resolve_profile
    from batchtui.core.workspace import Workspace

    async def main() -> T:
        async with await Workspace.open(resolve_profile(profile_name)) as workspace:
            say_notice(workspace.notice)
            try:
                return await work(workspace)
            finally:
                if workspace.push_problem:
                    say(f"{workspace.push_problem} (the rows wait: `batchtui logs push` sends them)")

    try:
        return asyncio.run(main())
    except BatchtuiError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted")


async def log_results(workspace: Workspace, batch: Batch, files: ResultFiles | None = None) -> None:
    """Put a finished batch's results into llm_logs once a command has them (`files` downloaded elsewhere, else the
    cache's copies), so `sql` has its responses. The command's own work is done, so a failure here is one note on
    stderr, not a failed command."""
    try:
        await workspace.import_batch(batch, files=files)
    except BatchtuiError as exc:
        say(f"{printable(batch.id)}: not put into llm_logs ({exc})")

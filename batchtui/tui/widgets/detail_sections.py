"""The read-only parts of the batch detail: header and token usage.

Every value from the API goes through `literal`, so metadata like `[bold]x[/]` shows as typed.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from batchtui.core.api.models import Batch
from batchtui.core.insights.pricing import Cost, batch_cost, cost_note, usd
from batchtui.core.timetext import clock
from batchtui.tui.format import ago, literal, status_badge


def header_table(batch: Batch, now: float, request_model: str | None = None) -> RenderableType:
    """Id and status, then endpoint, model (the one its requests name while the API names none), window, created
    and every metadata pair."""
    title = Text.assemble(literal(batch.id, "bold"), "  ", status_badge(batch.status))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("endpoint", literal(batch.endpoint))
    if batch.model or not request_model:
        grid.add_row("model", literal(batch.model or "-"))
    else:
        grid.add_row("model", Text.assemble(literal(request_model), ("  (as its requests say)", "dim")))
    grid.add_row("window", literal(batch.completion_window))
    grid.add_row("created", Text.assemble(clock(batch.created_at), (f"  ({ago(batch.created_at, now)})", "dim"))
                 if batch.created_at else Text("- (not reported)", style="dim"))
    metadata = batch.metadata or {}
    if not metadata:
        grid.add_row("metadata", Text("none", style="dim"))
    for index, (key, value) in enumerate(metadata.items()):
        grid.add_row("metadata" if index == 0 else "", Text.assemble(literal(key, "bold"), " = ", literal(value)))
    return Group(title, grid)


def usage_table(batch: Batch, estimate: Cost | None = None) -> RenderableType | None:
    """Token counts and what they cost at batch prices, beside validation's estimate when the batch was started
    from here; None while there is neither."""
    usage = batch.usage
    if usage is None and estimate is None:
        return None
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    for _ in range(5):
        grid.add_column(justify="right", no_wrap=True)
    grid.add_row("", *(Text(label, style="dim") for label in ("input", "cached", "output", "reasoning", "total")))
    if usage is not None:
        cached = getattr(usage.input_tokens_details, "cached_tokens", None)
        reasoning = getattr(usage.output_tokens_details, "reasoning_tokens", None)
        grid.add_row("tokens", *(_tokens(value) for value in (usage.input_tokens, cached, usage.output_tokens,
                                                              reasoning, usage.total_tokens)))
        cost = batch_cost(batch)
        if cost is not None:
            grid.add_row("cost", *_costs(cost, "bold"))
        elif usage.total_tokens:
            grid.add_row("cost", literal(cost_note(batch) or "no price", "dim"))
    if estimate is not None:
        grid.add_row("estimated", *_costs(estimate, ""))
    return grid


def _costs(cost: Cost, total_style: str) -> tuple[Text, ...]:
    return (Text(usd(cost.input_usd)), Text(usd(cost.cached_usd)), Text(usd(cost.output_usd)), Text(""),
            Text(usd(cost.total_usd), style=total_style))


def _tokens(value: int | None) -> Text:
    return Text("-" if value is None else f"{value:,}")


class BatchSection(Static):
    """A Static that draws one part of a batch; it hides itself when that part is empty."""

    def __init__(self, draw: Callable[[Batch], RenderableType | None], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._draw = draw

    def show_batch(self, batch: Batch) -> None:
        drawn = self._draw(batch)
        self.display = drawn is not None
        self.update(drawn if drawn is not None else "")

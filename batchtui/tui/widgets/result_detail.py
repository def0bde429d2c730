"""One request in full: the prompt as the model saw it, the answer, usage and error, or both lines as raw JSON.

Every string comes from a file, so it is shown literally (control characters visible); very long texts are
cut for the screen only (copy keys still give all of it).
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from batchtui.core.insights.pricing import usage_cost, usd
from batchtui.core.results.index import ResultIndex
from batchtui.core.results.records import (
    Message,
    RequestView,
    ResponseView,
    Unreadable,
    pretty_json,
    read_request,
    read_response,
)
from batchtui.core.text import printable
from batchtui.tui.widgets.result_list import row_label

SHOWN_CHARS = 20_000
"""A part longer than this is cut on screen: Rich lays out every character, and 1 MB would freeze a frame."""


def shown(text: str, style: str = "") -> Text:
    """Untrusted text, newlines kept, control characters visible, cut at SHOWN_CHARS."""
    more = len(text) - SHOWN_CHARS
    body = Text(printable(text[:SHOWN_CHARS], keep_newlines=True), style=style)
    if more > 0:
        body.append(f" … {more:,} more characters (copy to get them all)", style="dim italic")
    return body


def heading(title: str, detail: str = "") -> Text:
    """A section title on a line of its own, after a blank line, with its detail dimmed beside it."""
    text = Text.assemble("\n", (f"▌{title}", "bold"))
    if detail:
        text.append("  ")
        text.append(printable(detail), style="dim")
    return text


def message_lines(message: Message) -> list[RenderableType]:
    """A message as '<role>:' then its parts (text as text, images as their URL or size) and tool calls."""
    lines: list[RenderableType] = []
    role = message.role + (f" ({message.name})" if message.name else "")
    lines.append(Text(printable(role) + ":", style="bold cyan"))
    for part in message.parts:
        lines.append(shown(part.text) if part.kind == "text" else Text.assemble((f"[{part.kind}] ", "magenta"),
                                                                                  shown(part.text)))
    lines.extend(Text.assemble(("tool call ", "yellow"), shown(call)) for call in message.tool_calls)
    return lines


def request_section(view: RequestView | Unreadable) -> list[RenderableType]:
    if isinstance(view, Unreadable):
        return [heading("Prompt"), Text(printable(view.reason), style="red")]
    params = " · ".join(f"{name} {value}" for name, value in view.params)
    detail = " · ".join(part for part in (view.model or "", params) if part)
    lines: list[RenderableType] = [heading("Prompt", detail)]
    for message in view.messages:
        lines.extend(message_lines(message))
    if not view.messages:
        lines.append(Text("(no messages for this endpoint: t shows the raw JSON)", style="dim"))
    return lines


def response_section(view: ResponseView | Unreadable) -> list[RenderableType]:
    if isinstance(view, Unreadable):
        return [heading("Answer"), Text(printable(view.reason), style="red")]
    detail = " · ".join(
        part for part in (
            f"status {view.status_code}" if view.status_code is not None else "",
            f"finish_reason {view.finish_reason}" if view.finish_reason else "",
            view.request_id or "",
        ) if part
    )
    lines: list[RenderableType] = [heading("Answer", detail)]
    for message in view.answer:
        lines.extend(message_lines(message))
    if view.refusal:
        lines.append(Text.assemble(("refusal: ", "bold red"), shown(view.refusal)))
    lines.extend(shown(note, "italic") for note in view.notes)
    if view.usage:
        lines.append(heading("Usage"))
        usage = Text(" · ".join(f"{printable(name)} {value:,}" for name, value in view.usage))
        cost = usage_cost(view.model, dict(view.usage))
        if cost is not None:
            usage.append(f" · cost {usd(cost.total_usd)} at batch prices", style="dim")
        elif view.model:
            usage.append(f" · no price for {printable(view.model)}", style="dim")
        lines.append(usage)
    if view.error_code or view.error_message:
        lines.append(heading("Error"))
        lines.append(Text.assemble((printable(view.error_code or "error"), "bold red"), ": ",
                                   shown(view.error_message or "")))
    return lines


def raw_section(title: str, line: bytes | None) -> list[RenderableType]:
    if line is None:
        return [heading(title), Text("(no line)", style="dim")]
    text = printable(pretty_json(line), keep_newlines=True)
    cut = len(text) > SHOWN_CHARS
    body = Syntax(text[:SHOWN_CHARS], "json", word_wrap=True, background_color="default", theme="ansi_dark")
    return [heading(title), body, *([Text("… cut here on screen (copy to get it all)", style="dim")] if cut else [])]


def detail_renderable(index: ResultIndex, row: int, raw: bool) -> RenderableType:
    """What the pane shows for `row`: readable by default, raw JSON when `raw`."""
    request, response = index.input_line(row), index.output_line(row)
    where = _lines_of(index, row)
    if index.attempt(row) > 1:
        where.append(f"attempt {index.attempt(row)}: the latest retry's result")
    top = Text.assemble((printable(row_label(index, row)), "bold"), "  ", (index.status_label(row), "bold"), "   ",
                        (" · ".join(where), "dim"))
    head: list[RenderableType] = [top]
    earlier = index.duplicate_of(row)
    if earlier is not None:
        first = " and ".join(_lines_of(index, earlier)) or "an earlier row"
        head.append(Text(f"Duplicate: {first} has this custom_id too; the files repeat it (a hand-merged file?), "
                         "so this row is another result for the same request.", style="bold yellow"))
    if raw:
        return Group(*head, *raw_section("Request", request), *raw_section("Response", response))
    parts = head
    if request is not None:
        parts.extend(request_section(read_request(request)))
    if response is not None:
        parts.extend(response_section(read_response(response)))
    else:
        parts.append(Text("No response for this request in the files opened.", style="dim"))
    return Group(*parts)


def _lines_of(index: ResultIndex, row: int) -> list[str]:
    """Where a row's lines are: "input line 4", "output line 9"."""
    return [f"{kind} line {number}" for kind in ("input", "output", "error")
            if (number := index.line_number(row, kind)) is not None]


class ResultDetail(VerticalScroll, can_focus=True):
    """Shows one row of an index; `raw` switches between the readable view and the raw JSON lines."""

    raw: reactive[bool] = reactive(False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._index: ResultIndex | None = None
        self._row: int | None = None

    def compose(self):
        yield Static(id="result-detail-body")

    def show(self, index: ResultIndex, row: int | None) -> None:
        self._index, self._row = index, row
        self._paint()
        self.scroll_home(animate=False)

    def watch_raw(self) -> None:
        self._paint()

    def _paint(self) -> None:
        body = self.query_one("#result-detail-body", Static)
        if self._index is None or self._row is None:
            body.update("")
            return
        body.update(detail_renderable(self._index, self._row, self.raw))

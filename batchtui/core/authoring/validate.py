"""Pre-flight validation of a batch input file, offline: every problem, not just the first, with OpenAI's codes.

It checks what OpenAI's batch validation checks (the first of those problems is the one a batch would fail with,
on the same line), and the shapes of chat messages, which OpenAI checks only later, failing single requests with
its per-request codes (invalid_type, invalid_value, empty_array, missing_required_parameter). Along the way it
estimates the input tokens, the output ceiling and the cost at batch prices.

The file is streamed a line at a time and parsed with orjson: a 200 MB file takes about half a second.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from batchtui.core.authoring.datasets import MAX_BYTES, bounded_lines
from batchtui.core.domain import (
    CHAT,
    EMBEDDINGS,
    MODERATIONS,
    RESPONSES,
    Cancelled,
    ProgressCallback,
    batch_endpoints,
    canonical_endpoint,
)
from batchtui.core.errors import BatchtuiError
from batchtui.core.insights.pricing import Cost, TokenCounter, price_of, token_counter, usd
from batchtui.core.text import plural

if TYPE_CHECKING:
    from batchtui.core.cache.llm_logs import OutputHistory

MAX_LINES = 50_000
MAX_EMBEDDING_INPUTS = 50_000
MAX_PROBLEMS = 1_000
TOO_MANY_TASKS, FILE_TOO_LARGE = "too_many_tasks", "file_too_large"
"""OpenAI's codes for a file over a batch's limits: too many requests (or embeddings inputs), too many bytes."""
REQUIRED = ("custom_id", "method", "url", "body")
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
PART_TYPES = ("text", "image_url", "input_audio", "file", "refusal")
_MODEL_OPTIONAL = frozenset({"/v1/moderations", "/v1/images/generations", "/v1/images/edits", "/v1/videos"})
_NO_OUTPUT = frozenset({EMBEDDINGS, MODERATIONS})
_CEILINGS = ("max_completion_tokens", "max_output_tokens", "max_tokens")
_TEXT_FIELDS = ("messages", "instructions", "input", "prompt")
_PROGRESS_EVERY = 1_000
_SHOWN = 60
_MEMO_TEXTS = 256
_MEMO_CHARS = 16_384



class ValidateReadError(BatchtuiError):
    """The file could not be read at all, so nothing was validated."""


class ValidateCancelled(Cancelled):
    """Validation was cancelled before the end of the file."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: the 1-based line (None for the whole file), OpenAI's code, a sentence, and the parameter."""

    line: int | None
    code: str
    message: str
    param: str | None = None

    def describe(self, path: Path | str) -> str:
        """The problem as one line for the user: "batch.jsonl line 412: duplicate_custom_id: ..."."""
        where = Path(path).name if self.line is None else f"{Path(path).name} line {self.line}"
        return f"{where}: {self.code}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "code": self.code, "message": self.message, "param": self.param}


@dataclass(frozen=True)
class ValidationReport:
    """What validation found. `problems` holds the first `max_problems`; `problems_total` counts them all."""

    path: Path
    lines: int
    """Physical lines read, blank ones included."""
    requests: int
    """Lines that are not blank: what OpenAI counts against the limit of requests."""
    endpoint: str | None
    """The endpoint given, or else the url of the first request."""
    model: str | None
    """The model of the first request that names one."""
    problems: list[Problem]
    problems_total: int
    input_tokens: int
    token_method: str
    """"tiktoken <encoding>" when counted exactly, else pricing.APPROXIMATION."""
    output_ceiling: int | None
    """The sum of max_tokens / max_completion_tokens / max_output_tokens (times n) over the lines setting one;
    None when no line sets one. Embeddings and moderations have no output and count as 0."""
    lines_without_ceiling: int
    """Requests that may generate output but set no ceiling: their output is not in the ceiling."""
    unbounded_input_tokens: int
    """The input tokens of those requests, which their output is estimated from (`with_history`)."""
    cost: Cost | None
    """At batch prices: input at the estimate, output at the ceiling plus the output estimate. None when there is
    no price."""
    no_price_reason: str | None
    """Why there is no cost: "no price for <model>" or "no model named in the file"."""
    history: OutputHistory | None = None
    """The past requests of the model the output of requests without a ceiling is estimated from, if any."""
    output_estimate: int | None = None
    """That estimate, in output tokens: the unbounded requests' input tokens at the history's ratio."""

    @property
    def ok(self) -> bool:
        return self.problems_total == 0

    @property
    def over_batch_limits(self) -> bool:
        """Whether the file is more than one batch may hold (requests, bytes or embeddings inputs): a job cuts it
        into parts that each fit."""
        return any(p.code == TOO_MANY_TASKS or (p.code == FILE_TOO_LARGE and p.line is None) for p in self.problems)

    def with_history(self, history: OutputHistory | None) -> ValidationReport:
        """The report with the output of the requests that set no max_tokens estimated from `history` (output per
        input token of the model's past requests), and the cost priced with it; itself when there is nothing to
        estimate or nothing to estimate it from."""
        if history is None or not self.lines_without_ceiling or self.model is None or not history.input_tokens:
            return self
        estimate = round(self.unbounded_input_tokens * history.ratio)
        cost = price_requests(self.model, self.requests, self.input_tokens, (self.output_ceiling or 0) + estimate)
        return replace(self, history=history, output_estimate=estimate, cost=cost or self.cost)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (amounts in USD as decimal strings), for `--json`."""
        cost = self.cost
        return {
            "path": str(self.path),
            "ok": self.ok,
            "lines": self.lines,
            "requests": self.requests,
            "endpoint": self.endpoint,
            "model": self.model,
            "problems": [p.to_dict() for p in self.problems],
            "problems_total": self.problems_total,
            "problems_not_shown": self.problems_total - len(self.problems),
            "input_tokens": self.input_tokens,
            "token_method": self.token_method,
            "output_ceiling": self.output_ceiling,
            "lines_without_ceiling": self.lines_without_ceiling,
            "unbounded_input_tokens": self.unbounded_input_tokens,
            "output_estimate": None
            if self.history is None
            else {
                "output_tokens": self.output_estimate,
                "from_requests": self.history.requests,
                "output_per_input_token": round(self.history.ratio, 4),
            },
            "cost": None
            if cost is None
            else {
                "input_usd": f"{cost.input_usd:f}",
                "cached_usd": f"{cost.cached_usd:f}",
                "output_usd": f"{cost.output_usd:f}",
                "total_usd": f"{cost.total_usd:f}",
                "basis": cost.basis,
            },
            "no_price_reason": self.no_price_reason,
        }


def report_figures(report: ValidationReport) -> list[tuple[str, str]]:
    """The report's estimates as (label, text), worded once for the CLI and the TUI: input tokens, the output
    ceiling, and the cost at batch prices (or why there is none). Output with no max_tokens is said to be
    unbounded, never priced at $0: the cost is then a floor, unless the model's past requests in llm_logs give an
    estimate of it (`ValidationReport.with_history`)."""
    figures = [("input tokens", f"about {report.input_tokens:,} ({report.token_method})")]
    unbounded = report.lines_without_ceiling
    requests = plural(unbounded, "request")
    estimate, history = report.output_estimate, report.history
    if estimate is not None and history is not None:
        if report.output_ceiling is None:
            figures.append(("output tokens", f"about {estimate:,}, estimated ({requests} set no max_tokens)"))
        else:
            figures.append(("output tokens", f"at most {report.output_ceiling:,}, plus about {estimate:,} estimated "
                                             f"for the {requests} that set no max_tokens"))
        figures.append(("estimated from", f"{plural(history.requests, 'past request')} of {history.model} in "
                                          f"llm_logs: {history.ratio:.2g} output tokens per input token"))
    elif report.output_ceiling is not None:
        figures.append(("output tokens", f"at most {report.output_ceiling:,}"
                        + (f" ({requests} set no max_tokens)" if unbounded else "")))
    elif unbounded:
        figures.append(("output tokens", f"unbounded ({requests} set no max_tokens)"))
    if report.cost is not None:
        cost = report.cost
        floor = unbounded and estimate is None
        if not floor:
            output = usd(cost.output_usd) + (", partly estimated" if estimate is not None else "")
        elif report.output_ceiling is None:
            output = "unbounded"
        else:
            output = f"{usd(cost.output_usd)} plus the unbounded output of {requests} without max_tokens"
        figures.append(("cost", f"{'at least' if floor else 'about'} {usd(cost.total_usd)} at batch prices "
                                f"(input {usd(cost.input_usd)}, output {output}; {cost.basis})"))
    elif report.no_price_reason:
        figures.append(("cost", report.no_price_reason))
    return figures


def validate_file(
    path: Path,
    *,
    endpoint: str | None = None,
    kind: str = "openai",
    max_problems: int = MAX_PROBLEMS,
    max_lines: int = MAX_LINES,
    max_bytes: int = MAX_BYTES,
    max_embedding_inputs: int = MAX_EMBEDDING_INPUTS,
    first_line: int = 1,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> ValidationReport:
    """Validate a batch input file against the API's limits (the defaults) for `endpoint` (default: the first
    line's url), by the rules of a profile of `kind` (Azure's take its urls without /v1 and deployment names as
    models). `first_line` is the number of the file's first line, for a part of a larger file: the problems are then
    at the larger file's lines, and so are the lines their messages point back to. `progress` gets (bytes done,
    total bytes). Raises ValidateReadError when the file cannot be read, ValidateCancelled when `cancelled()` turns
    true, ValueError when `endpoint` is not a batch endpoint there.

    Memory stays bounded: a line longer than a whole file may be (MAX_BYTES, or `max_bytes` if more) is reported
    at its line and never held whole, and a file with no size to check first (a pipe, /dev/zero) is read no further
    than `max_bytes`."""
    checker = _Checker(endpoint, kind, max_problems, max_lines, max_embedding_inputs, first_line - 1)
    done = total = 0
    try:
        with open(path, "rb", buffering=1 << 20) as fh:
            info = os.fstat(fh.fileno())
            stream = not stat.S_ISREG(info.st_mode)
            total = 0 if stream else info.st_size
            if total > max_bytes:
                checker.add(None, FILE_TOO_LARGE, f"the file is {total:,} bytes, over the limit of {max_bytes:,}")
            for raw in bounded_lines(fh, max(max_bytes, MAX_BYTES), stop_after=max_bytes if stream else None):
                done += raw if isinstance(raw, int) else len(raw)
                if stream and done > max_bytes:
                    checker.add(None, FILE_TOO_LARGE, f"more than {max_bytes:,} bytes, over the limit; reading "
                                f"stopped in line {checker.before + checker.lines + 1:,}")
                    break
                checker.line(raw)
                if checker.lines % _PROGRESS_EVERY == 0:
                    if cancelled():
                        raise ValidateCancelled(f"Validation of {path} cancelled.")
                    if progress:
                        progress(done, total)
    except OSError as exc:
        raise ValidateReadError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if progress:
        progress(done, total)
    return checker.report(path)


def embedding_inputs(body: dict[str, Any]) -> int:
    """How many inputs an embeddings request counts against the file's limit: one per string or token list."""
    value = body.get("input")
    return len(value) if isinstance(value, list) and value and not isinstance(value[0], int) else 1


class _Checker:
    """Checks lines one by one, keeping only what later lines are checked against."""

    def __init__(
        self, endpoint: str | None, kind: str, max_problems: int, max_lines: int, max_embedding_inputs: int,
        before: int,
    ) -> None:
        if endpoint is not None and canonical_endpoint(endpoint, kind) is None:
            raise ValueError(f"endpoint '{endpoint}' is not a batch endpoint ({', '.join(batch_endpoints(kind))})")
        self.endpoint, self.kind = endpoint, kind
        self.endpoint_line: int | None = None
        self.max_problems, self.max_lines, self.max_embedding_inputs = max_problems, max_lines, max_embedding_inputs
        self.problems: list[Problem] = []
        self.problems_total = 0
        self.before = before
        """The lines of the larger file before this one, when it is a part: the problems are at that file's lines."""
        self.lines = self.requests = 0
        self.first_line_of: dict[str, int] = {}
        self.model: str | None = None
        self.model_line = 0
        self.counter: TokenCounter = _memoized(token_counter(None))
        self.embedding_inputs = 0
        self.input_tokens = 0
        self.output_ceiling: int | None = None
        self.lines_without_ceiling = 0
        self.unbounded_input_tokens = 0

    def add(self, line: int | None, code: str, message: str, param: str | None = None) -> None:
        self.problems_total += 1
        if len(self.problems) < self.max_problems:
            self.problems.append(Problem(line, code, message, param))

    def line(self, raw: bytes | int) -> None:
        """Check one line; an int stands for a line of that many bytes, too long to be read."""
        self.lines += 1
        n = self.before + self.lines
        if not isinstance(raw, int) and raw.isspace():
            return
        self.requests += 1
        if self.requests == self.max_lines + 1:
            self.add(n, TOO_MANY_TASKS, f"request {self.requests:,} is over the limit of {self.max_lines:,} per file")
        if isinstance(raw, int):
            self.add(n, FILE_TOO_LARGE, f"the line alone is {raw:,} bytes, more than a whole file may hold")
            return
        try:
            request = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            self.add(n, "invalid_json_line", _json_error(raw, exc))
            return
        if isinstance(request, dict):
            self._request(n, request)
        else:
            self.add(n, "invalid_json_line", f"the line is {_kind(request)}, not a request object")

    def _request(self, n: int, request: dict[str, Any]) -> None:
        for key in REQUIRED:
            if request.get(key) is None:
                self.add(n, "missing_required_parameter", f"missing required parameter '{key}'", key)
        custom_id, method, url, body = (request.get(key) for key in REQUIRED)
        if custom_id is not None and not (isinstance(custom_id, str) and custom_id):
            self.add(n, "invalid_request", f"custom_id must be a non-empty string, not {_show(custom_id)}", "custom_id")
        if method is not None and method != "POST":
            self.add(n, "invalid_request", f"method {_show(method)} is not allowed; batch requests use POST", "method")
        if url is not None:
            self._url(n, url)
        if body is not None and not isinstance(body, dict):
            self.add(n, "invalid_request", f"body must be a JSON object, not {_kind(body)}", "body")
        if isinstance(custom_id, str) and custom_id:
            first = self.first_line_of.setdefault(custom_id, n)
            if first != n:
                self.add(
                    n,
                    "duplicate_custom_id",
                    f"duplicate custom_id '{custom_id}' (first used on line {first})",
                    "custom_id",
                )
        if isinstance(body, dict):
            given = url if isinstance(url, str) else self.endpoint
            self._body(n, body, canonical_endpoint(given, self.kind) if given is not None else None)

    def _url(self, n: int, url: Any) -> None:
        if not isinstance(url, str):
            self.add(n, "invalid_url", f"url must be a string such as '{CHAT}', not {_kind(url)}", "url")
        elif self.endpoint is None:
            self.endpoint, self.endpoint_line = url, n
            if canonical_endpoint(url, self.kind) is None:
                azure = self.kind != "azure" and canonical_endpoint(url, "azure") is not None
                known = ", ".join(batch_endpoints(self.kind))
                self.add(n, "invalid_url", f"url '{url}' is not a batch endpoint ({known})"
                         + ("; it is Azure's form, valid with a profile of kind azure" if azure else ""), "url")
        elif url != self.endpoint and not self._same_endpoint(url, self.endpoint):
            if self.endpoint_line is None:
                self.add(n, "invalid_url", f"url '{url}' does not match the batch endpoint '{self.endpoint}'", "url")
            else:
                self.add(
                    n,
                    "invalid_url",
                    f"url '{url}' differs from '{self.endpoint}' on line {self.endpoint_line}; "
                    "a batch has one endpoint",
                    "url",
                )

    def _same_endpoint(self, url: str, endpoint: str) -> bool:
        """Whether two urls are one batch endpoint here: on Azure /chat/completions and /v1/chat/completions are."""
        canonical = canonical_endpoint(url, self.kind)
        return canonical is not None and canonical == canonical_endpoint(endpoint, self.kind)

    def _body(self, n: int, body: dict[str, Any], endpoint: str | None) -> None:
        if body.get("stream"):
            self.add(n, "streaming_unsupported", "stream is set, but the Batch API does not stream", "body.stream")
        model = body.get("model")
        if model is None:
            if endpoint not in _MODEL_OPTIONAL:
                self.add(n, "invalid_request", "missing model: every request names its model", "body.model")
        elif not isinstance(model, str):
            self.add(n, "invalid_request", f"model must be a string, not {_kind(model)}", "body.model")
        elif self.model is None:
            self.model, self.model_line, self.counter = model, n, _memoized(token_counter(model))
        elif model != self.model:
            self.add(
                n,
                "mismatched_model",
                f"model '{model}' differs from '{self.model}' on line {self.model_line}; "
                "a batch file may use only one model",
                "body.model",
            )
        if endpoint == EMBEDDINGS:
            before = self.embedding_inputs
            self.embedding_inputs += embedding_inputs(body)
            if before <= self.max_embedding_inputs < self.embedding_inputs:
                self.add(
                    n,
                    TOO_MANY_TASKS,
                    f"embeddings inputs reach {self.embedding_inputs:,} here, over the "
                    f"limit of {self.max_embedding_inputs:,} per file",
                    "body.input",
                )
        if endpoint == CHAT:
            self._messages(n, body.get("messages"))
        self._estimate(body, endpoint)

    def _messages(self, n: int, messages: Any) -> None:
        if messages is None:
            self.add(n, "missing_required_parameter", "missing messages: a chat request needs them", "body.messages")
        elif not isinstance(messages, list):
            self.add(n, "invalid_type", f"messages must be an array, not {_kind(messages)}", "body.messages")
        elif not messages:
            self.add(n, "empty_array", "messages is empty; a chat request needs at least one", "body.messages")
        else:
            for i, message in enumerate(messages):
                self._message(n, f"messages[{i}]", message)

    def _message(self, n: int, at: str, message: Any) -> None:
        if not isinstance(message, dict):
            self.add(n, "invalid_type", f"{at} must be an object, not {_kind(message)}", f"body.{at}")
            return
        role = message.get("role")
        if role is None:
            self.add(n, "missing_required_parameter", f"{at} has no role", f"body.{at}.role")
        elif role not in ROLES:
            self.add(
                n, "invalid_value", f"{at}.role is {_show(role)}, not one of {', '.join(ROLES)}", f"body.{at}.role"
            )
        content = message.get("content")
        if content is None:
            if role not in ("assistant", "function"):
                self.add(n, "missing_required_parameter", f"{at} has no content", f"body.{at}.content")
        elif isinstance(content, list):
            for j, part in enumerate(content):
                self._part(n, f"{at}.content[{j}]", part)
        elif not isinstance(content, str):
            self.add(
                n,
                "invalid_type",
                f"{at}.content must be a string or an array of parts, not {_kind(content)}",
                f"body.{at}.content",
            )
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            self.add(
                n, "missing_required_parameter", f"{at} has role 'tool' but no tool_call_id", f"body.{at}.tool_call_id"
            )

    def _part(self, n: int, at: str, part: Any) -> None:
        if not isinstance(part, dict):
            self.add(n, "invalid_type", f"{at} must be an object, not {_kind(part)}", f"body.{at}")
            return
        kind = part.get("type")
        if kind is None:
            self.add(n, "missing_required_parameter", f"{at} has no type", f"body.{at}.type")
        elif kind not in PART_TYPES:
            self.add(
                n, "invalid_value", f"{at}.type is {_show(kind)}, not one of {', '.join(PART_TYPES)}", f"body.{at}.type"
            )
        elif kind == "text" and not isinstance(part.get("text"), str):
            self.add(n, "invalid_type", f"{at} is a text part without a string 'text'", f"body.{at}.text")
        elif kind == "image_url":
            image = part.get("image_url")
            if not isinstance(image, dict):
                self.add(
                    n,
                    "invalid_type",
                    f'{at}.image_url must be an object {{"url": ...}}, not {_kind(image)}',
                    f"body.{at}.image_url",
                )
            elif not isinstance(image.get("url"), str):
                self.add(
                    n,
                    "invalid_type",
                    f"{at}.image_url.url must be a string, not {_kind(image.get('url'))}",
                    f"body.{at}.image_url.url",
                )

    def _estimate(self, body: dict[str, Any], endpoint: str | None) -> None:
        texts, token_ids = _texts([body.get(key) for key in _TEXT_FIELDS])
        items = body.get("messages") if endpoint == CHAT else body.get("input") if endpoint == RESPONSES else None
        messages = len(items) if isinstance(items, list) else 0
        tokens = self.counter.count(texts, messages=messages) + token_ids
        self.input_tokens += tokens
        if endpoint in _NO_OUTPUT:
            return
        ceiling = next((v for key in _CEILINGS if type(v := body.get(key)) is int), None)
        if ceiling is None:
            self.lines_without_ceiling += 1
            self.unbounded_input_tokens += tokens
            return
        choices = body.get("n")
        self.output_ceiling = (self.output_ceiling or 0) + ceiling * (
            choices if type(choices) is int and choices > 0 else 1
        )

    def report(self, path: Path) -> ValidationReport:
        if self.requests == 0:
            self.add(None, "empty_file", "the file has no requests")
        cost: Cost | None = None
        no_price: str | None = "no model named in the file"
        if self.model is not None:
            cost = price_requests(self.model, self.requests, self.input_tokens, self.output_ceiling or 0)
            azure = " (an Azure deployment name: priced only when it is a model's)" if self.kind == "azure" else ""
            no_price = None if cost else f"no price for {self.model}{azure}"
        return ValidationReport(
            path=path,
            lines=self.lines,
            requests=self.requests,
            endpoint=self.endpoint,
            model=self.model,
            problems=self.problems,
            problems_total=self.problems_total,
            input_tokens=self.input_tokens,
            token_method=self.counter.method,
            output_ceiling=self.output_ceiling,
            lines_without_ceiling=self.lines_without_ceiling,
            unbounded_input_tokens=self.unbounded_input_tokens,
            cost=cost,
            no_price_reason=no_price,
        )


def _memoized(counter: TokenCounter) -> TokenCounter:
    """The counter, remembering the counts of the last few hundred texts it encoded: a file's lines mostly repeat
    their system prompt and instructions, which the encoding would otherwise go through again on every line (most
    of the time a large file takes). It keeps counts, not tokens: as `encode` gives a range of the count's length,
    the length being all that `count` takes of it. Texts over _MEMO_CHARS are not kept, to bound the memory."""
    encode = counter.encode
    if encode is None:
        return counter

    @lru_cache(maxsize=_MEMO_TEXTS)
    def remembered(text: str) -> Sequence[int]:
        return range(len(encode(text)))

    def tokens(text: str) -> Sequence[int]:
        return remembered(text) if len(text) <= _MEMO_CHARS else encode(text)

    return replace(counter, encode=tokens)


def price_requests(model: str, requests: int, input_tokens: int, output_tokens: int) -> Cost | None:
    """The cost at batch prices of `requests` requests of `model` with these tokens in all, or None with no price.

    A rate that depends on a request's size (gpt-5.4 past 272k input tokens) applies to each request, so the file is
    priced as that many average requests, not as one request of all its tokens; the tokens the division leaves over
    count as one small request more (a flat price comes out exactly the same)."""
    count = max(requests, 1)
    input_each, input_rest = divmod(input_tokens, count)
    output_each, output_rest = divmod(output_tokens, count)
    one = price_of(model, input_each, output_each)
    rest = price_of(model, input_rest, output_rest)
    return one.times(count) + rest if one is not None and rest is not None else None


def _texts(value: Any) -> tuple[list[str], int]:
    """The strings of prompts, messages and inputs (a part's text, a message's content; not media), and the count
    of token ids given as integer arrays, which are tokens already."""
    texts: list[str] = []
    token_ids = 0
    stack = [value]
    while stack:  # the order of the texts does not matter: their counts are summed
        item = stack.pop()
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, list):
            if item and type(item[0]) is int and all(type(v) is int for v in item):
                token_ids += len(item)
            else:
                stack.extend(item)
        elif isinstance(item, dict):
            for part in (item.get("text"), item.get("content")):
                if isinstance(part, str):  # most messages' content: no round through the stack
                    texts.append(part)
                elif part is not None:
                    stack.append(part)
    return texts, token_ids


def _json_error(raw: bytes, exc: orjson.JSONDecodeError) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"not valid UTF-8: byte 0x{raw[bad.start]:02X} at byte {bad.start + 1:,} of the line"
    return f"not valid JSON: {exc.msg} (column {exc.colno:,})"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    names: dict[type, str] = {str: "a string", list: "an array", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    """A value as short JSON text, for messages."""
    text = orjson.dumps(value).decode()
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"

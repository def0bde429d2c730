"""Reading one batch request line and one result line into typed views, endpoint by endpoint.

The lines come from files anyone could have written, so every field may be missing or of the wrong
type: readers never raise, and only a line that is not a JSON object comes back as `Unreadable`.
Text is returned as written (control characters included); whoever shows it escapes it.
"""

from __future__ import annotations

import binascii
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from batchtui.core.domain import CHAT, COMPLETIONS, EMBEDDINGS, MODERATIONS, RESPONSES

ENDPOINTS = (CHAT, RESPONSES, COMPLETIONS, EMBEDDINGS, MODERATIONS)
"""The endpoints read here; lines for any other show as raw JSON."""

_FENCED = re.compile(r"```[^\n`]*\n(.*?)(?:\n```|\Z)", re.DOTALL)
"""An answer that opens with a Markdown code block: its content (the closing fence may be missing, as when the
output was cut off)."""
_SHOWN_VALUES = 8
_SHOWN_VECTORS = 3
_SHORT = 200

PartKind = Literal["text", "image", "audio", "file", "other"]


@dataclass(slots=True)
class Part:
    """One piece of a message; media are described (URL, or kind and size when inline), never inlined."""

    kind: PartKind
    text: str


@dataclass(slots=True)
class Message:
    """A message, input item or answer; `name` is the author's name, a tool call id or a choice number."""

    role: str
    parts: tuple[Part, ...]
    name: str | None = None
    tool_calls: tuple[str, ...] = ()
    """Each call as `name(arguments)`."""


@dataclass(slots=True)
class RequestView:
    """A request line: its messages (or inputs) and the other body parameters as compact JSON text."""

    custom_id: str | None
    endpoint: str
    known: bool
    """Whether the endpoint is one read here; if not, messages are empty and the raw JSON says it all."""
    model: str | None
    messages: tuple[Message, ...]
    params: tuple[tuple[str, str], ...]


@dataclass(slots=True)
class ResponseView:
    """A result line: the answer, its usage, or why there is none; `notes` carry what is not a message
    (embeddings, moderation results, reasoning summaries, other output items)."""

    custom_id: str | None
    endpoint: str | None
    """The endpoint the body's shape belongs to, or None when it is not one read here."""
    model: str | None
    status_code: int | None
    request_id: str | None
    answer: tuple[Message, ...]
    finish_reason: str | None
    refusal: str | None
    usage: tuple[tuple[str, int], ...]
    error_code: str | None
    error_message: str | None
    notes: tuple[str, ...]


@dataclass(slots=True)
class Unreadable:
    """A line that is missing or not a JSON object, with a short reason to show instead."""

    reason: str


def read_request(line: bytes | None) -> RequestView | Unreadable:
    """Read an input line `{"custom_id","method","url","body"}` for the endpoint its url names."""
    data = _load(line, "no request line")
    if isinstance(data, Unreadable):
        return data
    endpoint, kind, body, (messages, used) = _request_messages(data)
    params = tuple((key, _compact(value)) for key, value in body.items() if key not in used and key != "model")
    return RequestView(
        custom_id=_str(data.get("custom_id")),
        endpoint=endpoint,
        known=kind is not None,
        model=_str(body.get("model")),
        messages=messages,
        params=params,
    )


def read_response(line: bytes | None) -> ResponseView | Unreadable:
    """Read an output or error line; the endpoint is told by the body's shape, as result lines lack a url."""
    data = _load(line, "no response line")
    if isinstance(data, Unreadable):
        return data
    response = _dict(data.get("response"))
    body = _dict(response.get("body"))
    error = _error_of(data)
    kind = _response_kind(body)
    answer, finish, refusal, notes = _RESPONSE_READERS[kind](body) if kind else ((), None, None, ())
    if isinstance(error.get("param"), str):
        notes += (f"param: {error['param']}",)
    return ResponseView(
        custom_id=_str(data.get("custom_id")),
        endpoint=kind,
        model=_str(body.get("model")),
        status_code=_int(response.get("status_code")),
        request_id=_str(response.get("request_id")),
        answer=answer,
        finish_reason=finish,
        refusal=refusal,
        usage=_usage(body.get("usage")),
        error_code=_str(error.get("code")) or _str(error.get("type")),
        error_message=_str(error.get("message")),
        notes=notes,
    )


def prompt_text(line: bytes | None) -> str:
    """The prompt as plain text: one message's text, or `role: text` lines when there are several."""
    messages = _messages_of(line)
    if len(messages) == 1:
        return _message_text(messages[0])
    return "\n".join(f"{m.role}: {_message_text(m)}" for m in messages)


def last_message_text(line: bytes | None) -> str:
    """The text of the prompt's last message: what tells requests apart in a one-line list column, where a
    shared system prompt would say the same on every row."""
    messages = _messages_of(line)
    return _message_text(messages[-1]) if messages else ""


def _request_messages(data: dict[str, Any]) -> tuple[str, str | None, dict[str, Any], RequestReading]:
    """An input line's url, the endpoint read here (None: unknown), body, and its messages with the body
    keys they were read from."""
    endpoint = _str(data.get("url")) or ""
    kind = _endpoint_of(endpoint)
    body = _dict(data.get("body"))
    return endpoint, kind, body, _REQUEST_READERS[kind](body) if kind else ((), set())


def _messages_of(line: bytes | None) -> tuple[Message, ...]:
    """Just the messages of an input line (no view, no parameters): what the text of a prompt needs, cheaply,
    as a search reads it for every row."""
    data = _load(line, "no request line")
    return () if isinstance(data, Unreadable) else _request_messages(data)[3][0]


def answer_text(line: bytes | None) -> str:
    """The answer as plain text: messages and tool calls, then any refusal; for embeddings and
    moderations, the notes that summarise them."""
    data = _load(line, "no response line")
    if isinstance(data, Unreadable):
        return ""
    body = _dict(_dict(data.get("response")).get("body"))
    kind = _response_kind(body)
    if kind is None:
        return ""
    answer, _, refusal, notes = _RESPONSE_READERS[kind](body)
    texts = [text for m in answer if (text := _message_text(m))]
    if refusal:
        texts.append(refusal)
    if kind in (EMBEDDINGS, MODERATIONS):
        texts.extend(notes)
    return "\n".join(texts)


def error_text(line: bytes | None) -> str:
    """Why a result line failed, as one text for an export's error column: `code: message`, the message alone
    when the code is null, the code alone when there is no message; "" when the line holds no error."""
    data = _load(line, "no response line")
    if isinstance(data, Unreadable):
        return ""
    error = _error_of(data)
    return ": ".join(text for text in (_str(error.get("code")), _str(error.get("message"))) if text)


def answer_preview(text: str) -> str:
    """One line that says what an answer holds, for a list column: a JSON answer (bare or in a ``` fence) as
    compact JSON, else the first line with something on it, past an opening fence line."""
    body = text.strip()
    fenced = _FENCED.match(body)
    if fenced:
        body = fenced.group(1).strip()
    if body[:1] in ("{", "["):
        try:
            return orjson.dumps(orjson.loads(body)).decode()
        except (orjson.JSONDecodeError, orjson.JSONEncodeError):
            pass
    return first_line(body)


def first_line(text: str) -> str:
    """The first line with something on it, for one-line list columns."""
    return next((line.rstrip("\r") for line in text.split("\n") if line.strip()), "")


def pretty_json(line: bytes | None) -> str:
    """The line indented by 2 for the raw view; a line that is not JSON comes back as decoded text."""
    if line is None:
        return ""
    try:
        return orjson.dumps(orjson.loads(line), option=orjson.OPT_INDENT_2).decode()
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return line.decode("utf-8", errors="replace")


def endpoint_path(url: str) -> str:
    """A request url as a /v1 path without query: Azure's "/chat/completions" is "/v1/chat/completions"."""
    path = url.split("?", 1)[0].rstrip("/")
    if path.startswith("/v1/"):
        return path
    return "/v1" + (path if path.startswith("/") else "/" + path)


def _load(line: bytes | None, missing: str) -> dict[str, Any] | Unreadable:
    if line is None:
        return Unreadable(missing)
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return Unreadable(f"not valid JSON: {exc}")
    if not isinstance(data, dict):
        return Unreadable(f"a JSON {type(data).__name__}, not an object")
    return data


def _error_of(data: dict[str, Any]) -> dict[str, Any]:
    """A result line's error object: the batch's own ("error"), else the one in the response body."""
    return _dict(data.get("error")) or _dict(_dict(_dict(data.get("response")).get("body")).get("error"))


def _endpoint_of(url: str) -> str | None:
    path = endpoint_path(url)
    return path if path in ENDPOINTS else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _compact(value: Any) -> str:
    """Strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return "(too deeply nested to show)"


def _short(value: Any) -> str:
    text = _compact(value)
    return text if len(text) <= _SHORT else text[:_SHORT] + "…"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    return f"{n / 1024:.0f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MB"


def _b64_size(data: str) -> int:
    return max(0, len(data) * 3 // 4 - len(data[-2:]) + len(data[-2:].rstrip("=")))


def _url(url: Any) -> str:
    """A media URL as is, or for a data: URL its type and size (never the base64)."""
    if not isinstance(url, str):
        return _short(url)
    if url[:5].lower() != "data:":
        return url
    head, _, payload = url[5:].partition(",")
    size = _b64_size(payload) if head.lower().endswith(";base64") else len(payload)
    return f"inline {head.split(';')[0] or 'data'}, {_size(size)}"


def _call(name: Any, arguments: Any) -> str:
    return f"{_str(name) or '?'}({'' if arguments is None else _compact(arguments)})"


def _part(value: Any) -> Part:
    """One content part of a chat message, responses item or moderation input."""
    if isinstance(value, str):
        return Part("text", value)
    part = _dict(value)
    kind = part.get("type")
    if kind in ("text", "input_text", "output_text") or (kind is None and "text" in part):
        return Part("text", _compact(part.get("text", "")))
    if kind == "image_url":
        image = part.get("image_url")
        return Part("image", _url(image.get("url") if isinstance(image, dict) else image))
    if kind == "input_image":
        return Part("image", _url(part.get("image_url") or part.get("file_id") or "image"))
    if kind == "input_audio":
        audio = _dict(part.get("input_audio"))
        data = _str(audio.get("data")) or ""
        return Part("audio", f"inline {_str(audio.get('format')) or 'audio'}, {_size(_b64_size(data))}")
    if kind in ("file", "input_file"):
        file = _dict(part.get("file")) if kind == "file" else part
        names = [file[k] for k in ("filename", "file_id", "file_url") if isinstance(file.get(k), str)]
        if "file_data" in file:
            names.append(_url(file["file_data"]))
        return Part("file", ", ".join(names) or "file")
    if kind == "refusal":
        return Part("other", f"refusal: {_compact(part.get('refusal'))}")
    return Part("other", _str(kind) or _short(value))


def _parts(content: Any) -> tuple[Part, ...]:
    if content is None:
        return ()
    if isinstance(content, list):
        return tuple(_part(p) for p in content)
    return (Part("text", content) if isinstance(content, str) else Part("other", _short(content)),)


def _tool_calls(value: Any) -> tuple[str, ...]:
    calls = []
    for call in _list(value):
        spec = _dict(call.get("function") or call.get("custom")) if isinstance(call, dict) else {}
        calls.append(_call(spec.get("name"), spec.get("arguments", spec.get("input"))) if spec else _short(call))
    return tuple(calls)


_PLAIN_MESSAGE_KEYS = frozenset({"role", "content", "refusal", "annotations"})
"""Keys of a message whose text is its content (a refusal is read by the caller; annotations are not shown)."""


def _item(value: Any) -> Message:
    """A chat message or a responses input/output item."""
    if type(value) is dict and type(value.get("content")) is str and value.keys() <= _PLAIN_MESSAGE_KEYS:
        # The common message, read without the checks below: a search reads 200,000 of them.
        role = value.get("role")
        if type(role) is str:
            return Message(role or "?", (Part("text", value["content"]),))
    if isinstance(value, str):
        return Message("user", (Part("text", value),))
    item = _dict(value)
    kind = item.get("type")
    if kind in ("function_call", "custom_tool_call"):
        return Message("assistant", (), tool_calls=(_call(item.get("name"), item.get("arguments", item.get("input"))),))
    if kind in ("function_call_output", "custom_tool_call_output"):
        return Message("tool", _parts(item.get("output")), name=_str(item.get("call_id")))
    if kind in (None, "message") and item:
        calls = _tool_calls(item.get("tool_calls"))
        legacy = _dict(item.get("function_call"))
        if legacy:
            calls += (_call(legacy.get("name"), legacy.get("arguments")),)
        name = _str(item.get("name")) or _str(item.get("tool_call_id"))
        return Message(_str(item.get("role")) or "?", _parts(item.get("content")), name=name, tool_calls=calls)
    return Message(_str(kind) or "?", (Part("other", _short(value)),))


def _inputs(role: str, value: Any) -> tuple[Message, ...]:
    """A prompt or input of a completions, embeddings or moderations request, as one message."""
    if value is None:
        return ()
    items = value if isinstance(value, list) and value and not all(_int(v) is not None for v in value) else [value]
    parts = []
    for item in items:
        if isinstance(item, list) and all(_int(v) is not None for v in item):
            parts.append(Part("other", f"{len(item):,} token ids"))
        else:
            parts.append(_part(item) if isinstance(item, str | dict) else Part("other", _short(item)))
    return (Message(role, tuple(parts)),)


RequestReading = tuple[tuple[Message, ...], set[str]]


def _chat_request(body: dict[str, Any]) -> RequestReading:
    messages = body.get("messages")
    return (tuple(_item(m) for m in messages), {"messages"}) if isinstance(messages, list) else ((), set())


def _responses_request(body: dict[str, Any]) -> RequestReading:
    messages: list[Message] = []
    used = {"input"}
    if isinstance(body.get("instructions"), str):
        messages.append(Message("instructions", (Part("text", body["instructions"]),)))
        used.add("instructions")
    raw = body.get("input")
    if isinstance(raw, list):
        messages.extend(_item(i) for i in raw)
    else:
        messages.extend(_inputs("user", raw))
    return tuple(messages), used


def _input_request(key: str, role: str) -> Callable[[dict[str, Any]], RequestReading]:
    return lambda body: (_inputs(role, body.get(key)), {key})


_REQUEST_READERS = {
    CHAT: _chat_request,
    RESPONSES: _responses_request,
    COMPLETIONS: _input_request("prompt", "prompt"),
    EMBEDDINGS: _input_request("input", "input"),
    MODERATIONS: _input_request("input", "input"),
}

ResponseReading = tuple[tuple[Message, ...], str | None, str | None, tuple[str, ...]]


def _response_kind(body: dict[str, Any]) -> str | None:
    obj = body.get("object")
    choices = [c for c in _list(body.get("choices")) if isinstance(c, dict)]
    if obj == "chat.completion" or any("message" in c for c in choices):
        return CHAT
    if obj == "response" or isinstance(body.get("output"), list):
        return RESPONSES
    if obj == "text_completion" or choices:
        return COMPLETIONS
    if isinstance(body.get("results"), list):
        return MODERATIONS
    if any(isinstance(d, dict) and "embedding" in d for d in _list(body.get("data"))):
        return EMBEDDINGS
    return None


def _reasons(values: list[Any]) -> str | None:
    return ", ".join(dict.fromkeys(v for v in values if isinstance(v, str))) or None


def _chat_response(body: dict[str, Any]) -> ResponseReading:
    choices = [c for c in _list(body.get("choices")) if isinstance(c, dict)]
    answer, refusals = [], []
    for choice in choices:
        message = _dict(choice.get("message"))
        item = _item({"role": "assistant", **message})
        transcript = _str(_dict(message.get("audio")).get("transcript"))
        parts = item.parts + ((Part("audio", transcript),) if transcript else ())
        name = f"choice {_compact(choice.get('index'))}" if len(choices) > 1 else None
        answer.append(Message(item.role, parts, name=name, tool_calls=item.tool_calls))
        if isinstance(message.get("refusal"), str):
            refusals.append(message["refusal"])
    finish = _reasons([c.get("finish_reason") for c in choices])
    return tuple(answer), finish, "\n".join(refusals) or None, ()


def _responses_response(body: dict[str, Any]) -> ResponseReading:
    answer, refusals, notes = [], [], []
    for item in _list(body.get("output")):
        item = _dict(item)
        if item.get("type") == "reasoning":
            summary = [_compact(_dict(s).get("text", "")) for s in _list(item.get("summary"))]
            if summary:
                notes.append("reasoning summary: " + "\n".join(summary))
            continue
        content = _list(item.get("content"))
        refusals += [_compact(p.get("refusal")) for p in content if isinstance(p, dict) and p.get("type") == "refusal"]
        kept = [p for p in content if not (isinstance(p, dict) and p.get("type") == "refusal")]
        message = _item({**item, "content": kept} if item.get("type") == "message" else item)
        if message.parts or message.tool_calls:
            answer.append(message)
    finish = _str(_dict(body.get("incomplete_details")).get("reason")) or _str(body.get("status"))
    return tuple(answer), finish, "\n".join(refusals) or None, tuple(notes)


def _completions_response(body: dict[str, Any]) -> ResponseReading:
    choices = [c for c in _list(body.get("choices")) if isinstance(c, dict)]
    answer = tuple(Message("assistant", (Part("text", _compact(c.get("text", ""))),)) for c in choices)
    return answer, _reasons([c.get("finish_reason") for c in choices]), None, ()


def _vector(embedding: Any) -> tuple[int, list[float], str]:
    """Dimensions, first values and encoding of one embedding, a list of floats or base64 float32."""
    if isinstance(embedding, list):
        return len(embedding), [v for v in map(_num, embedding[:_SHOWN_VALUES]) if v is not None], ""
    if isinstance(embedding, str):
        try:
            head = binascii.a2b_base64(embedding[: (_SHOWN_VALUES * 4 + 2) // 3 * 4])
        except (binascii.Error, ValueError):
            head = b""
        count = min(len(head) // 4, _SHOWN_VALUES)
        return _b64_size(embedding) // 4, list(struct.unpack_from(f"<{count}f", head)), " (base64)"
    return 0, [], ""


def _embeddings_response(body: dict[str, Any]) -> ResponseReading:
    data = [d for d in _list(body.get("data")) if isinstance(d, dict)]
    notes = [f"{len(data):,} embeddings"] if len(data) > 1 else []
    for d in data[:_SHOWN_VECTORS]:
        dims, values, encoding = _vector(d.get("embedding"))
        index = _int(d.get("index"))
        shown = ", ".join(f"{v:.4f}" for v in values)
        more = f", … (first {len(values)})" if dims > len(values) else ""
        label = "embedding" if index is None else f"embedding {index}"
        notes.append(f"{label}{encoding}: {dims:,} dimensions: {shown}{more}")
    if len(data) > _SHOWN_VECTORS:
        notes.append(f"… and {len(data) - _SHOWN_VECTORS:,} more")
    return (), None, None, tuple(notes)


def _moderations_response(body: dict[str, Any]) -> ResponseReading:
    results = _list(body.get("results"))
    notes = []
    for i, result in enumerate(results):
        result = _dict(result)
        scores = _dict(result.get("category_scores"))
        flagged = [c for c, on in _dict(result.get("categories")).items() if on is True]
        flagged.sort(key=lambda c: -(_num(scores.get(c)) or 0.0))
        shown = [c if _num(scores.get(c)) is None else f"{c} ({_num(scores.get(c)):.2f})" for c in flagged]
        label = "moderation" if len(results) == 1 else f"moderation {i}"
        if shown:
            notes.append(f"{label}: flagged: {', '.join(shown)}")
        else:
            notes.append(f"{label}: {'flagged' if result.get('flagged') is True else 'not flagged'}")
    return (), None, None, tuple(notes)


_RESPONSE_READERS = {
    CHAT: _chat_response,
    RESPONSES: _responses_response,
    COMPLETIONS: _completions_response,
    EMBEDDINGS: _embeddings_response,
    MODERATIONS: _moderations_response,
}


def _usage(value: Any) -> tuple[tuple[str, int], ...]:
    """Token counts, with detail counts (cached, reasoning, ...) only when not zero."""
    counts: list[tuple[str, int]] = []
    for key, count in _dict(value).items():
        if _int(count) is not None:
            counts.append((key, count))
        elif isinstance(count, dict):
            counts += [(k, n) for k, n in count.items() if _int(n)]
    return tuple(counts)


def _message_text(message: Message) -> str:
    lines = [p.text if p.kind == "text" else f"[{p.kind}: {p.text}]" for p in message.parts]
    return "\n".join(lines + list(message.tool_calls))

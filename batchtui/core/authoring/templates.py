"""Request templates: JSON text with `{{Column}}` placeholders, compiled once into byte chunks and slots.

A placeholder inside a JSON string takes the value JSON-escaped; a bare one takes a JSON number, true,
false or null (or, from JSONL, any JSON value). A template with bare placeholders is not JSON until
filled, so it is tokenized first, checked with same-length stand-ins ("xxx", "null ") so that errors
point at the template's own line and column, then parsed with markers in the slots and written out
compactly. Rendering a row is then a join of chunks and values, not a JSON round trip.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from batchtui.core.authoring.datasets import MAX_BYTES, RowError, as_text
from batchtui.core.errors import BatchtuiError

_TOKEN = re.compile(r'\{\{(?P<name>[^{}\n]*)\}\}|(?P<open>\{\{)(?!\{)|\\.|"', re.S)
_MARKER = "\x00batchtui:"
_MARKS = re.compile(rb'"\\u0000batchtui:bare:(\d+)\\u0000"|\\u0000batchtui:text:(\d+)\\u0000')
_REQUEST_KEYS = ("custom_id", "method", "url", "body")
_SHOWN = 40


class TemplateError(BatchtuiError):
    """The template cannot be used; the message names the template and, when known, the line and column."""


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One `{{name}}` in the template: `bare` when it stands alone as a JSON value, not inside a string."""

    name: str
    bare: bool
    line: int
    column: int
    width: int
    """Its length as written, spaces inside the braces included."""

    def __str__(self) -> str:
        return f"{{{{{self.name}}}}}"

    def fill(self, value: Any) -> bytes:
        """The JSON bytes that take this placeholder's place; raises RowError for a value it cannot take."""
        if not (self.bare and isinstance(value, str)):
            try:
                return orjson.dumps(value) if self.bare else orjson.dumps(as_text(value))[1:-1]
            except TypeError as exc:
                raise RowError(f"the value for {self} cannot be written as JSON ({exc})") from None
        if not value.strip():
            raise RowError(f"empty value for {self}")
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            parsed = value
        if parsed is not None and not isinstance(parsed, bool | int | float):
            shown = value if len(value) <= _SHOWN else value[:_SHOWN] + "…"
            raise RowError(f"{shown!r} for {self} is not a JSON number, true, false or null")
        return value.strip().encode()


@dataclass(frozen=True, slots=True)
class Renderer:
    """A compiled JSON document: literal chunks with a placeholder between each two."""

    head: bytes
    steps: tuple[tuple[Placeholder, bytes], ...]

    def render(self, values: Mapping[str, Any]) -> bytes:
        """The document with `values` filled in; raises RowError for a missing or unusable value, or once the
        document is past MAX_BYTES (a long value used many times), before it is put together."""
        parts = [self.head]
        size = len(self.head)
        for slot, chunk in self.steps:
            try:
                value = values[slot.name]
            except KeyError:
                raise RowError(f"no value for {slot}") from None
            filled = slot.fill(value)
            size += len(filled) + len(chunk)
            if size > MAX_BYTES:
                raise RowError(f"the request is over {MAX_BYTES:,} bytes, more than a whole batch file may hold")
            parts += (filled, chunk)
        return b"".join(parts)


@dataclass(frozen=True)
class Template:
    """A parsed template: a request body, or a whole request line (custom_id, method, url, body)."""

    text: str
    source: str
    slots: tuple[Placeholder, ...]
    is_request_line: bool
    url: str | None
    """The request line's url, when the template is one and gives it."""
    method: str | None
    _shape: dict[str, Any] = field(repr=False)
    _whole: Renderer = field(repr=False)

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The placeholders' names in order of first use."""
        return tuple(dict.fromkeys(slot.name for slot in self.slots))

    @property
    def model(self) -> str | None:
        """The body's model when the template writes it out (not when a placeholder gives it)."""
        model = self._body_shape().get("model")
        return model if isinstance(model, str) and _MARKER not in model else None

    def render(self, values: Mapping[str, Any]) -> bytes:
        """The template filled with one row's values, as compact JSON; raises RowError for a bad value."""
        return self._whole.render(values)

    def body(self, model: str | None = None) -> Renderer:
        """The request body compiled on its own, with `model` set in it when given."""
        body = self._body_shape()
        if model is not None:
            body = {**body, "model": model} if "model" in body else {"model": model, **body}
        return _compile(body, self.slots)

    def check_columns(self, columns: Collection[str], data_name: str) -> None:
        """Raise a TemplateError for the first placeholder that names none of the data's columns."""
        for slot in self.slots:
            if slot.name not in columns:
                raise TemplateError(
                    f"{self.source} line {slot.line}, column {slot.column}: unknown placeholder {slot}; "
                    f"{data_name} has the columns {', '.join(columns) or '(none)'}."
                )

    def _body_shape(self) -> dict[str, Any]:
        return self._shape["body"] if self.is_request_line else self._shape


def load_template(path: Path) -> Template:
    """Read and parse a template file (UTF-8, a BOM allowed). One over MAX_BYTES is an error, found without
    reading it whole (or, for a stream such as /dev/zero, without reading past the limit)."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            raw = b"" if size > MAX_BYTES else fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise TemplateError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if max(size, len(raw)) > MAX_BYTES:
        raise TemplateError(f"{path.name}: more than {MAX_BYTES:,} bytes, more than a whole batch file may hold.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TemplateError(f"{path.name}: not UTF-8 text.") from None
    return parse_template(text, path.name)


def parse_template(text: str, source: str = "template") -> Template:
    """Parse template text; `source` names it in errors (the file name, or "template")."""
    pieces = _tokenize(text, source)
    slots = tuple(piece for piece in pieces if isinstance(piece, Placeholder))
    try:
        filled = orjson.loads("".join(piece if isinstance(piece, str) else _stand_in(piece) for piece in pieces))
    except orjson.JSONDecodeError as exc:
        raise TemplateError(
            f"{source} line {exc.lineno}, column {exc.colno}: not valid JSON once filled in ({exc.msg})."
        ) from None
    if orjson.dumps(_MARKER)[1:-1] in orjson.dumps(filled):  # it would be taken for a placeholder's marker
        raise TemplateError(f"{source}: the text \\u0000batchtui: is reserved for placeholders; remove it.")
    marked = iter(range(len(slots)))
    shape = orjson.loads("".join(piece if isinstance(piece, str) else _marker(piece, next(marked)) for piece in pieces))
    if not isinstance(shape, dict):
        raise TemplateError(f"{source}: a template must be a JSON object (a request body, or a request line).")
    is_request_line = isinstance(shape.get("body"), dict)
    url = method = None
    if is_request_line:
        url, method = _literal(shape, "url", source), _literal(shape, "method", source)
        extra = [key for key in shape if key not in _REQUEST_KEYS]
        if extra:
            raise TemplateError(f"{source}: a request line holds only {', '.join(_REQUEST_KEYS)}; not {extra[0]!r}.")
    return Template(text, source, slots, is_request_line, url, method, shape, _compile(shape, slots))


def _tokenize(text: str, source: str) -> list[str | Placeholder]:
    """The template as literal text and placeholders, each placeholder knowing if it stands in a string."""
    pieces: list[str | Placeholder] = []
    in_string, done = False, 0
    for match in _TOKEN.finditer(text):
        if match.group() == '"':
            in_string = not in_string
            continue
        if match["name"] is None and match["open"] is None:
            continue
        start = match.start()
        line, column = text.count("\n", 0, start) + 1, start - text.rfind("\n", 0, start)
        where = f"{source} line {line}, column {column}"
        if match["open"]:
            raise TemplateError(f"{where}: '{{{{' is not closed by '}}}}' on the same line.")
        name = match["name"].strip()
        if not name:
            raise TemplateError(f"{where}: empty placeholder {match.group()!r}.")
        pieces += [text[done:start], Placeholder(name, not in_string, line, column, len(match.group()))]
        done = match.end()
    pieces.append(text[done:])
    return pieces


def _stand_in(slot: Placeholder) -> str:
    """Text as long as the placeholder that makes the template JSON: "xxx" in a string, "null " alone (a word
    that joins no neighbour into valid JSON, as "0" would in `-{{x}}` or `1{{x}}`)."""
    return "null".ljust(slot.width) if slot.bare else "x" * slot.width


def _marker(slot: Placeholder, index: int) -> str:
    kind = "bare" if slot.bare else "text"
    text = f"\\u0000batchtui:{kind}:{index}\\u0000"
    return f'"{text}"' if slot.bare else text


def _literal(shape: dict[str, Any], key: str, source: str) -> str | None:
    value = shape.get(key)
    if value is not None and (not isinstance(value, str) or _MARKER in value):
        raise TemplateError(f"{source}: the request line's {key} must be plain text, without placeholders.")
    return value


def _compile(shape: dict[str, Any], slots: tuple[Placeholder, ...]) -> Renderer:
    data = orjson.dumps(shape)
    chunks, steps, done = [], [], 0
    for match in _MARKS.finditer(data):
        chunks.append(data[done : match.start()])
        steps.append(slots[int(match[1] or match[2])])
        done = match.end()
    chunks.append(data[done:])
    return Renderer(chunks[0], tuple(zip(steps, chunks[1:], strict=True)))

"""The API's objects as batchtui keeps them: a batch and a file, with the fields of OpenAI's API reference, and the
one way to build them from whatever a server sent or the cache holds (`sane`).

Plain dataclasses rather than the SDK's pydantic models: importing `openai` costs about 0.35 s and pydantic 0.05 s,
which the viewer, the app's first paint from the cache and every command that never calls the API would pay for
two class names. Only `core.api.client` imports the SDK. The fields keep the API's names and order, so `--json`
and the cache hold the API's own shape; statuses and purposes are plain text, as a server may send one batchtui
does not know yet.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import types
import typing
from typing import Any, Self, TypeVar

import orjson

from batchtui.core.domain import MAX_METADATA_KEY_CHARS, MAX_METADATA_PAIRS, MAX_METADATA_VALUE_CHARS


class _ApiObject:
    """What every model has: its JSON-ready dict (the API's shape, field order kept) and JSON text."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        fields: dict[str, Any] = dataclasses.asdict(self)  # type: ignore[call-overload]  # each subclass is one
        return fields

    def to_json(self, *, indent: bool = False) -> str:
        return orjson.dumps(self, option=orjson.OPT_INDENT_2 if indent else 0).decode()


@dataclasses.dataclass(slots=True)
class BatchRequestCounts(_ApiObject):
    completed: int
    failed: int
    total: int


@dataclasses.dataclass(slots=True)
class InputTokensDetails(_ApiObject):
    cached_tokens: int


@dataclasses.dataclass(slots=True)
class OutputTokensDetails(_ApiObject):
    reasoning_tokens: int


@dataclasses.dataclass(slots=True)
class BatchUsage(_ApiObject):
    """Token usage of the whole batch; only batches created after 2025-09-07 have it."""

    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


@dataclasses.dataclass(slots=True)
class BatchError(_ApiObject):
    """One reason the batch failed validation; `line` is the input line it names, if any."""

    code: str | None = None
    line: int | None = None
    message: str | None = None
    param: str | None = None


@dataclasses.dataclass(slots=True)
class BatchErrors(_ApiObject):
    data: list[BatchError] | None = None
    object: str | None = None


class _Identified(_ApiObject):
    """An object the API lists and names by id: a batch or a file."""

    __slots__ = ()
    id: str  # each subclass's first field (not one of this class: it is no dataclass)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """The object from JSON-like data, as `sane` makes it; ValueError when it has no id."""
        found = sane(cls, data)
        if found is None:
            raise ValueError(f"A {cls.__name__} needs an id: {str(data)[:80]}")
        return found


@dataclasses.dataclass(slots=True)
class Batch(_Identified):
    id: str
    completion_window: str
    created_at: int
    endpoint: str
    input_file_id: str
    object: str
    status: str
    cancelled_at: int | None = None
    cancelling_at: int | None = None
    completed_at: int | None = None
    error_file_id: str | None = None
    errors: BatchErrors | None = None
    expired_at: int | None = None
    expires_at: int | None = None
    failed_at: int | None = None
    finalizing_at: int | None = None
    in_progress_at: int | None = None
    metadata: dict[str, str] | None = None
    model: str | None = None
    output_file_id: str | None = None
    request_counts: BatchRequestCounts | None = None
    usage: BatchUsage | None = None


@dataclasses.dataclass(slots=True)
class FileObject(_Identified):
    id: str
    bytes: int
    created_at: int
    filename: str
    object: str
    purpose: str
    status: str
    expires_at: int | None = None
    status_details: str | None = None


ApiObject = TypeVar("ApiObject", bound=_Identified)

_MAX_NUMBER = 253_402_300_799
"""The largest count or time kept, the last second of the year 9999: larger is a wrong value that no date and no
SQLite integer could hold."""
_MAX_TEXT = 4096
"""Longer strings are cut (an id, a name, an error message): a server could send megabytes."""
_MAX_ITEMS = 1000
"""Longer lists are cut (a batch's errors)."""


def sane(model: type[ApiObject], answer: object) -> ApiObject | None:
    """A Batch or FileObject that the rest of batchtui can trust, from whatever the API sent (an SDK object, built
    without validation, or plain JSON): each field of a wrong type becomes None, or for a required one "" or 0 (a
    time of 0 shows as unknown); a nested part (request_counts, usage, errors) with any wrong part becomes None;
    metadata keeps its str -> str pairs within OpenAI's limits, cut to fit; a status or purpose batchtui does not
    know stays as its text; fields batchtui does not know are dropped. None when the answer has no id that is a
    non-empty string, as nothing could refer to it."""
    sent = _as_dict(answer)
    if sent is None or not isinstance(sent.get("id"), str) or not sent["id"]:
        return None
    fields: dict[str, Any] = {}
    for name, check, blank in _fields(model):
        value = sent.get(name)
        value = None if value is None else check(value)
        fields[name] = blank if value is None or value is _WRONG else value
    return model(**fields)


_WRONG = object()
"""What a check gives for a value of the wrong type."""


_SPECS: dict[Any, tuple[tuple[str, Any, Any], ...]] = {}


def _fields(model: Any) -> tuple[tuple[str, Any, Any], ...]:
    """Each field of a model: its name, the check of its type, and what a required field holds when the value sent
    is missing or wrong (None for an optional field). Worked out once per model."""
    spec = _SPECS.get(model)
    if spec is None:
        hints = typing.get_type_hints(model)
        spec = _SPECS[model] = tuple(
            (field.name, _check(hints[field.name]),
             (0 if hints[field.name] is int else "") if field.default is dataclasses.MISSING else None)
            for field in dataclasses.fields(model)
        )
    return spec


def _check(annotation: Any) -> Any:
    """A function giving a (non-None) value back if it has `annotation`'s type, strictly ("12" is not a number), or
    _WRONG; a model of its own, list or metadata is built from the JSON-like value, and is _WRONG if any part is."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):  # X | None
        return _check(next(arg for arg in args if arg is not type(None)))
    if annotation is int:
        return _number
    if annotation is str:
        return lambda value: value[:_MAX_TEXT] if type(value) is str else _WRONG
    if origin is list:
        item = _check(args[0])

        def each(value: object) -> object:
            if not isinstance(value, list):
                return _WRONG
            items = [_WRONG if one is None else item(one) for one in value[:_MAX_ITEMS]]
            return _WRONG if any(one is _WRONG for one in items) else items

        return each
    if origin is dict:
        return _metadata
    return functools.partial(_nested, annotation)


def _nested(model: type, value: object) -> object:
    """A nested part (request_counts, usage, errors, one error) from a JSON object, or _WRONG."""
    value = _as_dict(value)
    if value is None:
        return _WRONG
    fields: dict[str, Any] = {}
    for name, check, blank in _fields(model):
        one = value.get(name)
        if one is None:
            if blank is not None:
                return _WRONG
        else:
            one = check(one)
            if one is _WRONG:
                return _WRONG
        fields[name] = one
    return model(**fields)


def _as_dict(value: object) -> dict[Any, Any] | None:
    """A JSON object as it came, or the fields an SDK (pydantic) object was built with: the SDK builds its objects
    without validating them, so their fields may hold anything."""
    if isinstance(value, dict):
        return value
    sent = getattr(value, "model_fields_set", None)
    return {name: getattr(value, name, None) for name in sent} if isinstance(sent, set) else None


def _number(value: object) -> object:
    """A count or time: a whole number in range; a float one (a time sent as 1.7e9) is read as whole seconds."""
    if type(value) is int:
        return value if 0 <= value <= _MAX_NUMBER else _WRONG
    if type(value) is float and math.isfinite(value) and 0 <= value <= _MAX_NUMBER:
        return int(value)
    return _WRONG


def _metadata(value: object) -> object:
    """The str -> str pairs of `value` within OpenAI's limits (the first 16, keys and values cut to fit)."""
    if not isinstance(value, dict):
        return _WRONG
    kept = ((k[:MAX_METADATA_KEY_CHARS], v[:MAX_METADATA_VALUE_CHARS])
            for k, v in itertools.islice(value.items(), _MAX_ITEMS) if isinstance(k, str) and isinstance(v, str))
    return dict(itertools.islice(kept, MAX_METADATA_PAIRS))

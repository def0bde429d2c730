"""The API's objects as batchtui keeps them: a batch and a file, with the fields of OpenAI's API reference, and the
one way to build them from whatever a server sent (`sane`).

batchtui's own models rather than the SDK's: importing `openai` costs about 0.35 s, and the viewer, the app's
first paint from the cache and every CLI command that never calls the API would pay it for two class names. Only
`core.api.client` imports the SDK. The fields keep the API's names and order, so `--json` and the cache's JSON are
the API's own shape; statuses and purposes are plain text, as a server may send one batchtui does not know yet.
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any, TypeVar

import pydantic

from batchtui.core.domain import MAX_METADATA_KEY_CHARS, MAX_METADATA_PAIRS, MAX_METADATA_VALUE_CHARS


class _ApiModel(pydantic.BaseModel):
    """Fields a newer API adds are ignored when reading, as `sane` drops them too."""

    model_config = pydantic.ConfigDict(extra="ignore")


class BatchRequestCounts(_ApiModel):
    completed: int
    failed: int
    total: int


class InputTokensDetails(_ApiModel):
    cached_tokens: int


class OutputTokensDetails(_ApiModel):
    reasoning_tokens: int


class BatchUsage(_ApiModel):
    """Token usage of the whole batch; only batches created after 2025-09-07 have it."""

    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class BatchError(_ApiModel):
    """One reason the batch failed validation; `line` is the input line it names, if any."""

    code: str | None = None
    line: int | None = None
    message: str | None = None
    param: str | None = None


class BatchErrors(_ApiModel):
    data: list[BatchError] | None = None
    object: str | None = None


class Batch(_ApiModel):
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


class FileObject(_ApiModel):
    id: str
    bytes: int
    created_at: int
    filename: str
    object: str
    purpose: str
    status: str
    expires_at: int | None = None
    status_details: str | None = None


ApiObject = TypeVar("ApiObject", Batch, FileObject)

_MAX_NUMBER = 253_402_300_799
"""The largest count or time kept, the last second of the year 9999: larger is a wrong value that no date and no
SQLite integer could hold."""
_MAX_TEXT = 4096
"""Longer strings are cut (an id, a name, an error message): a server could send megabytes."""
_MAX_ITEMS = 1000
"""Longer lists and objects are cut (a batch's errors, its metadata before OpenAI's own limits apply)."""


def sane(model: type[ApiObject], answer: object) -> ApiObject | None:
    """A Batch or FileObject that the rest of batchtui can trust, from whatever the API sent (an SDK object, built
    without validation, or plain JSON): each field of a wrong type becomes None, or for a required one "" or 0 (a
    time of 0 shows as unknown); a nested part (request_counts, usage, errors) with any wrong part becomes None;
    metadata keeps its str -> str pairs within OpenAI's limits, cut to fit; a status or purpose batchtui does not
    know stays as its text; fields batchtui does not know are dropped. None when the answer has no id that is a
    non-empty string, as nothing could refer to it."""
    sent = _plain(answer)
    if not isinstance(sent, dict) or not isinstance(sent.get("id"), str) or not sent["id"]:
        return None
    fields: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        value = _field_value(name, field.annotation, sent.get(name))
        if value is None and field.is_required():
            value = 0 if field.annotation is int else ""
        if value is not None or name in sent:
            fields[name] = value
    return model.model_construct(**fields)  # each value already has its field's type


def _plain(value: object) -> object:
    """The JSON-like data a model was built from (only the fields that were sent), with strings, lists and objects
    cut to size and numbers out of range dropped. The models hold no float fields, so a time sent as 1.7e9 is read
    as whole seconds."""
    if isinstance(value, pydantic.BaseModel):
        fields = type(value).model_fields
        return {name: _plain(getattr(value, name)) for name in value.model_fields_set if name in fields}
    if isinstance(value, str):
        return value[:_MAX_TEXT]
    if isinstance(value, list):
        return [_plain(item) for item in value[:_MAX_ITEMS]]
    if isinstance(value, dict):
        return {_plain(key): _plain(item) for key, item in itertools.islice(value.items(), _MAX_ITEMS)}
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= _MAX_NUMBER:
        return int(value)
    return None


_PLAIN_TYPES: dict[Any, type] = {int: int, str: str, int | None: int, str | None: str}
"""Field types checked without pydantic: cheaper, and a sync of 100,000 batches reads each field of each."""


def _field_value(name: str, annotation: Any, value: object) -> Any:
    """`value` if it has the field's type (strictly: "12" is not a number), else None."""
    if name == "metadata":
        return _metadata(value)
    plain = _PLAIN_TYPES.get(annotation)
    if plain is not None:
        return value if type(value) is plain else None
    try:
        return _adapter(annotation).validate_python(value, strict=True)
    except pydantic.ValidationError:
        return None


@functools.cache
def _adapter(annotation: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(annotation)


def _metadata(value: object) -> dict[str, str] | None:
    """The str -> str pairs of `value` within OpenAI's limits (the first 16, keys and values cut to fit)."""
    if not isinstance(value, dict):
        return None
    kept = ((k[:MAX_METADATA_KEY_CHARS], v[:MAX_METADATA_VALUE_CHARS])
            for k, v in value.items() if isinstance(k, str) and isinstance(v, str))
    return dict(itertools.islice(kept, MAX_METADATA_PAIRS))

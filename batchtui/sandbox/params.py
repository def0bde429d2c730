"""Checks of request parameters with the messages and codes OpenAI answers for them."""

from __future__ import annotations

from typing import Any

import orjson

from .errors import BAD_JSON_MESSAGE, ApiError, invalid_type, invalid_value, missing_param
from .fake_model import ENDPOINTS

FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
COMPLETION_WINDOWS = ("24h",)
BATCH_CREATE_FIELDS = ("input_file_id", "endpoint", "completion_window", "metadata", "output_expires_after")
MIN_EXPIRY, MAX_EXPIRY = 3600, 2_592_000


def json_object(raw: bytes) -> dict[str, Any]:
    """A request's JSON body, which must be an object (an empty body is {}); OpenAI's 400 for text that is not
    JSON, or JSON that is not an object."""
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        raise ApiError(400, BAD_JSON_MESSAGE) from None
    if not isinstance(body, dict):
        raise invalid_type("body", "an object", body)
    return body


def int_range(param: str, value: int, low: int, high: int) -> int:
    if value < low:
        raise ApiError(
            400,
            f"Invalid '{param}': integer below minimum value. Expected a value >= {low}, but got {value} instead.",
            param=param,
            code="integer_below_min_value",
        )
    if value > high:
        raise ApiError(
            400,
            f"Invalid '{param}': integer above maximum value. Expected a value <= {high}, but got {value} instead.",
            param=param,
            code="integer_above_max_value",
        )
    return value


def choice(param: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise invalid_value(param, value, list(allowed))
    return value


def metadata(value: Any) -> dict[str, str] | None:
    """At most 16 pairs, keys up to 64 characters, string values up to 512."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_type("metadata", "an object", value)
    if len(value) > 16:
        raise ApiError(
            400,
            "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, "
            f"but got an object with {len(value)} properties instead.",
            param="metadata",
            code="object_above_max_properties",
        )
    for key, item in value.items():
        if len(key) > 64:
            raise ApiError(
                400,
                "Invalid 'metadata': string too long. Expected an object with keys of maximum length 64, "
                f"but got a key with length {len(key)} instead.",
                param="metadata",
                code="string_above_max_length",
            )
        param = f"metadata.{key}"
        if not isinstance(item, str):
            raise invalid_type(param, "a string", item)
        if len(item) > 512:
            raise ApiError(
                400,
                f"Invalid '{param}': string too long. Expected a string with maximum length 512, "
                f"but got a string with length {len(item)} instead.",
                param=param,
                code="string_above_max_length",
            )
    return dict(value)


def expires_after(value: Any, param: str) -> dict[str, Any] | None:
    """{"anchor": "created_at", "seconds": 3600..2592000}."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_type(param, "an object", value)
    for key in ("anchor", "seconds"):
        if key not in value:
            raise missing_param(f"{param}.{key}")
    choice(f"{param}.anchor", value["anchor"], ("created_at",))
    seconds = value["seconds"]
    if isinstance(seconds, str) and seconds.strip().lstrip("-").isdigit():
        seconds = int(seconds)
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise invalid_type(f"{param}.seconds", "an integer", seconds)
    int_range(f"{param}.seconds", seconds, MIN_EXPIRY, MAX_EXPIRY)
    return {"anchor": "created_at", "seconds": seconds}


def batch_create(body: Any) -> dict[str, Any]:
    """The fields of POST /v1/batches, checked in the order OpenAI reports them."""
    if not isinstance(body, dict):
        raise invalid_type("body", "an object", body)
    for key in body:
        if key not in BATCH_CREATE_FIELDS:
            raise ApiError(400, f"Unrecognized request argument supplied: {key}")
    for key in ("input_file_id", "endpoint", "completion_window"):
        if body.get(key) is None:
            raise missing_param(key)
        if not isinstance(body[key], str):
            raise invalid_type(key, "a string", body[key])
    return {
        "input_file_id": body["input_file_id"],
        "endpoint": choice("endpoint", body["endpoint"], ENDPOINTS),
        "completion_window": choice("completion_window", body["completion_window"], COMPLETION_WINDOWS),
        "metadata": metadata(body.get("metadata")),
        "output_expires_after": expires_after(body.get("output_expires_after"), "output_expires_after"),
    }

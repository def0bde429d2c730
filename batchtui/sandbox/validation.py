"""Check a batch input file the way OpenAI does: every bad line fails the batch with one error naming
its code, 1-based line number and offending param, in line order (the first 1,000 listed, the last
saying how many there are in all); a file too large, too long or empty fails with that one error."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .catalogue import ModelCatalogue
from .errors import ApiError
from .fake_model import HANDLERS, digest_of

MAX_REQUESTS = 50_000
MAX_BYTES = 200 * 1024 * 1024
MAX_EMBEDDING_INPUTS = 50_000
MAX_LISTED_ERRORS = 1_000
REQUIRED = ("custom_id", "method", "url", "body")
MODEL_OPTIONAL = {"/v1/moderations", "/v1/images/generations", "/v1/images/edits", "/v1/videos"}


@dataclass
class ValidationResult:
    """`errors` are BatchError bodies ({code, message, param, line}); none when the file is good.
    `input_tokens` is the file's input as the fake model counts it for usage (when asked for)."""

    total: int = 0
    model: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    input_tokens: int = 0


def _error(code: str, message: str, line: int | None, param: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": line}


def _whole_file(code: str, message: str, line: int | None, param: str | None = None) -> ValidationResult:
    return ValidationResult(errors=[_error(code, message, line, param)])


@dataclass
class _FileState:
    """What the lines read so far settle for the ones after: the custom_ids used and the file's model."""

    endpoint: str
    catalogue: ModelCatalogue
    seen: set[str] = field(default_factory=set)
    model: str | None = None


def _line_error(req: Any, line_no: int, state: _FileState) -> dict[str, Any] | None:
    """The first thing wrong with one parsed line, as OpenAI checks them, or None."""
    if not isinstance(req, dict):
        return _error("invalid_json_line", "This line is not parseable as valid JSON.", line_no)
    for key in REQUIRED:
        if key not in req or req[key] is None:
            return _error("missing_required_parameter", f"Missing required parameter: '{key}'.", line_no, key)
    custom_id = req["custom_id"]
    if not isinstance(custom_id, str) or not custom_id:
        return _error("invalid_request", "custom_id must be a non-empty string.", line_no, "custom_id")
    if req["method"] != "POST":
        return _error(
            "invalid_request", f"Invalid method '{req['method']}'. Only POST is supported.", line_no, "method"
        )
    if req["url"] != state.endpoint:
        return _error(
            "invalid_url",
            f"The URL provided for this request ('{req['url']}') does not match the batch "
            f"endpoint ('{state.endpoint}').",
            line_no,
            "url",
        )
    body = req["body"]
    if not isinstance(body, dict):
        return _error("invalid_request", "The request body must be a JSON object.", line_no, "body")
    if custom_id in state.seen:
        return _error(
            "duplicate_custom_id",
            f"The custom_id '{custom_id}' is used by more than one request. "
            "Each request in a batch must have a unique custom_id.",
            line_no,
            "custom_id",
        )
    state.seen.add(custom_id)
    if body.get("stream"):
        return _error("streaming_unsupported", "Streaming is not supported by the Batch API.", line_no, "body.stream")
    line_model = body.get("model")
    if line_model is None:
        if state.endpoint in MODEL_OPTIONAL:
            return None
        return _error("invalid_request", "Missing required parameter: 'model'.", line_no, "body.model")
    if state.model is None:
        state.model = line_model
        if not isinstance(line_model, str) or not state.catalogue.knows(line_model):
            return _error(
                "model_not_found",
                f"The provided model '{line_model}' is not supported by the Batch API.",
                line_no,
                "body.model",
            )
    elif line_model != state.model:
        return _error(
            "mismatched_model",
            f"The model '{line_model}' does not match the model '{state.model}' of the other "
            "requests in this file. A batch file may use only one model.",
            line_no,
            "body.model",
        )
    return None


def _input_tokens(endpoint: str, body: dict[str, Any], raw: bytes) -> int:
    """The input tokens the fake model will count for this request's usage (none for a request it refuses)."""
    try:
        return HANDLERS[endpoint](body, digest_of(raw), 0).input_tokens
    except ApiError:
        return 0


def validate_input(
    path: Path, endpoint: str, catalogue: ModelCatalogue, count_tokens: bool = False
) -> ValidationResult:
    """Stream through the file once; memory grows only with the set of custom_ids and the listed errors.
    With `count_tokens`, a good file's input tokens are counted too (what the enqueued-token limit weighs)."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        return _whole_file(
            "file_too_large",
            f"The batch input file is larger than the {MAX_BYTES} byte limit. Please try again with a smaller file.",
            None,
        )
    state = _FileState(endpoint, catalogue)
    errors: list[dict[str, Any]] = []
    bad_lines = 0
    embedding_inputs = 0
    input_tokens = 0
    total = 0
    with open(path, "rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            total += 1
            if total > MAX_REQUESTS:
                return _whole_file(
                    "too_many_tasks",
                    f"The batch input file contains more than the maximum of {MAX_REQUESTS:,} requests.",
                    line_no,
                )
            try:
                req = orjson.loads(raw)
            except orjson.JSONDecodeError:
                req = None
            error = _line_error(req, line_no, state)
            if error is not None:
                bad_lines += 1
                if len(errors) < MAX_LISTED_ERRORS:
                    errors.append(error)
                continue
            body = req["body"]
            if endpoint == "/v1/embeddings":
                inputs = body.get("input")
                embedding_inputs += (
                    len(inputs) if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int) else 1
                )
                if embedding_inputs > MAX_EMBEDDING_INPUTS:
                    return _whole_file(
                        "too_many_tasks",
                        f"Embeddings batches may contain at most {MAX_EMBEDDING_INPUTS:,} inputs in total.",
                        line_no,
                        "body.input",
                    )
            if count_tokens and not bad_lines:
                input_tokens += _input_tokens(endpoint, body, raw)
    if total == 0:
        return _whole_file("empty_file", "The batch input file is empty.", None)
    if bad_lines > MAX_LISTED_ERRORS:
        last = errors[-1]
        last["message"] += (
            f" This file has {bad_lines:,} lines with errors; only the first {MAX_LISTED_ERRORS:,} are listed."
        )
    if errors:
        return ValidationResult(total=total, model=state.model, errors=errors)
    return ValidationResult(total=total, model=state.model, input_tokens=input_tokens)

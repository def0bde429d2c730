"""Check a batch input file the way OpenAI does: the first bad line fails the batch with a code,
the 1-based line number and the offending param."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

MAX_REQUESTS = 50_000
MAX_BYTES = 200 * 1024 * 1024
MAX_EMBEDDING_INPUTS = 50_000
REQUIRED = ("custom_id", "method", "url", "body")
MODEL_OPTIONAL = {"/v1/moderations", "/v1/images/generations", "/v1/images/edits", "/v1/videos"}


@dataclass
class ValidationResult:
    """`error` is a BatchError body ({code, message, param, line}) or None when the file is good."""

    total: int = 0
    model: str | None = None
    error: dict[str, Any] | None = None


def _error(code: str, message: str, line: int | None, param: str | None = None) -> ValidationResult:
    return ValidationResult(error={"code": code, "message": message, "param": param, "line": line})


def validate_input(path: Path, endpoint: str) -> ValidationResult:
    """Stream through the file once; memory grows only with the set of custom_ids."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        return _error(
            "file_too_large",
            f"The batch input file is larger than the {MAX_BYTES} byte limit. Please try again with a smaller file.",
            None,
        )
    seen: set[str] = set()
    model: str | None = None
    embedding_inputs = 0
    total = 0
    with open(path, "rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            total += 1
            if total > MAX_REQUESTS:
                return _error(
                    "too_many_tasks",
                    f"The batch input file contains more than the maximum of {MAX_REQUESTS:,} requests.",
                    line_no,
                )
            try:
                req = orjson.loads(raw)
            except orjson.JSONDecodeError:
                req = None
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
            if req["url"] != endpoint:
                return _error(
                    "invalid_url",
                    f"The URL provided for this request ('{req['url']}') does not match the batch "
                    f"endpoint ('{endpoint}').",
                    line_no,
                    "url",
                )
            body = req["body"]
            if not isinstance(body, dict):
                return _error("invalid_request", "The request body must be a JSON object.", line_no, "body")
            if custom_id in seen:
                return _error(
                    "duplicate_custom_id",
                    f"The custom_id '{custom_id}' is used by more than one request. "
                    "Each request in a batch must have a unique custom_id.",
                    line_no,
                    "custom_id",
                )
            seen.add(custom_id)
            if body.get("stream"):
                return _error(
                    "streaming_unsupported", "Streaming is not supported by the Batch API.", line_no, "body.stream"
                )
            line_model = body.get("model")
            if line_model is None and endpoint not in MODEL_OPTIONAL:
                return _error("invalid_request", "Missing required parameter: 'model'.", line_no, "body.model")
            if line_model is not None:
                if model is None:
                    model = line_model
                elif line_model != model:
                    return _error(
                        "mismatched_model",
                        f"The model '{line_model}' does not match the model '{model}' of the other "
                        "requests in this file. A batch file may use only one model.",
                        line_no,
                        "body.model",
                    )
            if endpoint == "/v1/embeddings":
                inputs = body.get("input")
                embedding_inputs += (
                    len(inputs) if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int) else 1
                )
                if embedding_inputs > MAX_EMBEDDING_INPUTS:
                    return _error(
                        "too_many_tasks",
                        f"Embeddings batches may contain at most {MAX_EMBEDDING_INPUTS:,} inputs in total.",
                        line_no,
                        "body.input",
                    )
    if total == 0:
        return _error("empty_file", "The batch input file is empty.", None)
    return ValidationResult(total=total, model=model)

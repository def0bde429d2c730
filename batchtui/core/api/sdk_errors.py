"""The mapping from the OpenAI SDK's exceptions to batchtui's errors: kept beside the client, the one module that
talks to the SDK, so `core.errors` imports neither openai nor httpx2 and a command that never calls the API
starts without loading them."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress

import httpx2
import openai

from batchtui.core.errors import (
    ApiError,
    AuthError,
    BadRequestError,
    ConflictError,
    ConnectionLostError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    UnreachableError,
    redact_keys,
)


def translate_api_error(exc: openai.OpenAIError, base_url: str) -> ApiError:
    """Turn an SDK exception into an ApiError whose message says what happened and what to do."""
    if isinstance(exc, openai.APIConnectionError):  # timeouts included
        if isinstance(exc.__cause__, (httpx2.ConnectError, httpx2.ConnectTimeout)):
            return UnreachableError(f"Cannot reach the API at {base_url}; check the network or base_url.")
        if isinstance(exc, openai.APITimeoutError):
            return ConnectionLostError(f"The API at {base_url} did not answer in time; try again later.")
        return ConnectionLostError(f"The connection to the API at {base_url} broke off; try again later.")
    if not isinstance(exc, openai.APIStatusError):
        return ApiError(str(exc))
    detail = exc.message
    if isinstance(exc.body, dict) and isinstance(exc.body.get("message"), str):
        detail = exc.body["message"]
    detail = redact_keys(" ".join(detail.split()))
    if isinstance(exc, openai.AuthenticationError):
        return AuthError(f"The API key was refused ({exc.status_code}): {detail}")
    if isinstance(exc, openai.PermissionDeniedError):
        return AuthError(f"The API key lacks permission for this ({exc.status_code}): {detail}")
    if isinstance(exc, openai.NotFoundError):
        return NotFoundError(f"Not found: {detail}")
    if isinstance(exc, openai.ConflictError):
        return ConflictError(f"The API refused it ({exc.status_code}): {detail}")
    if isinstance(exc, openai.RateLimitError):
        error: ApiError = RateLimitedError(f"Rate limited by the API; try again shortly: {detail}")
    elif exc.status_code >= 500:
        error = ServerError(f"The API had an error ({exc.status_code}); try again later: {detail}")
    else:
        return BadRequestError(f"The API rejected the request ({exc.status_code}): {detail}")
    error.retry_after = _retry_after(exc.response.headers)
    return error


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """OpenAI's retry-after-ms, else the standard Retry-After in seconds (an HTTP date is not worth parsing)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        with suppress(ValueError):
            seconds = float(headers.get(name, "")) * scale
            if 0 <= seconds < 86_400:
                return seconds
    return None

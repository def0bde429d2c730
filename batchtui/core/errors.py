"""Errors that carry a plain sentence for the user, and the mapping from the SDK's exceptions."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx2
import openai

_KEY_LIKE = re.compile(r"\b(sk|sess|rk)-[A-Za-z0-9_*.\-]*[A-Za-z0-9_*\-]")  # a sentence's full stop is kept


class BatchtuiError(Exception):
    """An error whose message is one line a user can act on; `retryable` says whether trying later may help."""

    retryable = False


class ConfigError(BatchtuiError):
    """The config file or a profile in it is wrong."""


class ApiError(BatchtuiError):
    """The API refused or could not be reached."""

    retry_after: float | None = None
    """Seconds the API asked us to wait before trying again (its Retry-After header), when it said."""


class AuthError(ApiError):
    """The key is missing, wrong or lacks permission."""


class NotFoundError(ApiError):
    """The batch or file does not exist (or not for this key)."""


class BadRequestError(ApiError):
    """The API rejected the request's content."""


class RateLimitedError(ApiError):
    retryable = True


class ServerError(ApiError):
    retryable = True


class UnreachableError(ApiError):
    """No connection to the API could be made, or the one made was lost."""

    retryable = True


class ConnectionLostError(UnreachableError):
    """The API was reached but timed out or broke the connection off: it is up, but struggling."""


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
    if isinstance(exc, openai.RateLimitError):
        error: ApiError = RateLimitedError(f"Rate limited by the API; try again shortly: {detail}")
    elif exc.status_code >= 500:
        error = ServerError(f"The API had an error ({exc.status_code}); try again later: {detail}")
    else:
        return BadRequestError(f"The API rejected the request ({exc.status_code}): {detail}")
    error.retry_after = _retry_after(exc.response.headers)
    return error


def redact_keys(text: str) -> str:
    """`text` with anything shaped like an API key (sk-..., sess-..., rk-...) replaced by <key>."""
    return _KEY_LIKE.sub("<key>", text)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """OpenAI's retry-after-ms, else the standard Retry-After in seconds (an HTTP date is not worth parsing)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        with suppress(ValueError):
            seconds = float(headers.get(name, "")) * scale
            if 0 <= seconds < 86_400:
                return seconds
    return None


@contextmanager
def file_errors(error: type[BatchtuiError], verb: str, path: Path) -> Iterator[None]:
    """Turn a file system error in the block into `error`: one line naming the file, e.g.
    "Cannot write answers.csv: No space left on device."."""
    try:
        yield
    except OSError as exc:
        raise error(f"Cannot {verb} {path}: {exc.strerror or exc}.") from None

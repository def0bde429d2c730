"""Errors that carry a plain sentence for the user. Dependency-free, so any module may raise them cheaply; the
mapping from the SDK's exceptions is `core.api.sdk_errors`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


class ConflictError(BadRequestError):
    """The object is not in a state the request applies to (409): cancelling a batch that has finished."""


class RateLimitedError(ApiError):
    retryable = True


class ServerError(ApiError):
    retryable = True


class UnreachableError(ApiError):
    """No connection to the API could be made, or the one made was lost."""

    retryable = True


class ConnectionLostError(UnreachableError):
    """The API was reached but timed out or broke the connection off: it is up, but struggling."""


def redact_keys(text: str) -> str:
    """`text` with anything shaped like an API key (sk-..., sess-..., rk-...) replaced by <key>."""
    return _KEY_LIKE.sub("<key>", text)


@contextmanager
def file_errors(error: type[BatchtuiError], verb: str, path: Path) -> Iterator[None]:
    """Turn a file system error in the block into `error`: one line naming the file, e.g.
    "Cannot write answers.csv: No space left on device."."""
    try:
        yield
    except OSError as exc:
        raise error(f"Cannot {verb} {path}: {exc.strerror or exc}.") from None

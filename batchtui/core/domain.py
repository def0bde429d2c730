"""The Batch API's words, kept once: statuses, endpoints, the progress callback, cancellation and metadata.

Everything else in batchtui takes these from here. No third-party imports, so any layer can use them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

from batchtui.core.errors import BatchtuiError

PHASES = ("validating", "in_progress", "finalizing")
"""The statuses a batch runs through, in order."""

OUTCOMES = ("completed", "failed", "expired", "cancelled")
"""The statuses a batch finishes in, in the order they are reported."""

ACTIVE_STATUSES = frozenset({*PHASES, "cancelling"})
"""A batch in one of these may still change: sync re-retrieves it."""

TERMINAL_STATUSES = frozenset(OUTCOMES)

CANCELLABLE = frozenset(PHASES)
"""The statuses in which the API accepts a cancel."""

MAIN_PATH = (*PHASES, "completed")
"""The way a batch goes when nothing goes wrong."""

RetryKind = Literal["failed", "expired", "cancelled"]
RETRY_KIND_NAMES: tuple[RetryKind, ...] = ("failed", "expired", "cancelled")
"""The requests a retry can send again, by how their latest attempt ended."""

CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"
COMPLETIONS = "/v1/completions"
EMBEDDINGS = "/v1/embeddings"
MODERATIONS = "/v1/moderations"

BATCH_ENDPOINTS = (
    RESPONSES,
    CHAT,
    EMBEDDINGS,
    COMPLETIONS,
    MODERATIONS,
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/videos",
)
"""The endpoints a batch may target on OpenAI (and any server that speaks its API)."""

_AZURE_ENDPOINTS = (CHAT, EMBEDDINGS, RESPONSES)
_ENDPOINTS_OF_KIND: dict[str, dict[str, str]] = {
    "openai": {endpoint: endpoint for endpoint in BATCH_ENDPOINTS},
    "azure": {
        **{endpoint.removeprefix("/v1"): endpoint for endpoint in _AZURE_ENDPOINTS},
        **{endpoint: endpoint for endpoint in _AZURE_ENDPOINTS},
    },
}
"""Per profile kind, each url a batch may target there and the OpenAI endpoint it stands for. Azure's docs write
its batch urls without /v1 (/chat/completions, a deployment name as model); it takes the /v1 forms too."""


def batch_endpoints(kind: str = "openai") -> tuple[str, ...]:
    """The urls a batch may target on a profile of this kind ("openai" or "azure"), in the order to list them."""
    return tuple(_ENDPOINTS_OF_KIND[kind])


def canonical_endpoint(url: str, kind: str = "openai") -> str | None:
    """The OpenAI endpoint `url` stands for on a profile of this kind (Azure's /chat/completions is CHAT), or None
    when such a profile takes no batch for it: the one rule validation, the CLI and the API client go by."""
    return _ENDPOINTS_OF_KIND[kind].get(url)


ProgressCallback = Callable[[int, int], None]
"""Called with (done, in all), in bytes or lines, as long work moves on."""


class Cancelled(BatchtuiError):
    """Long work stopped because its caller asked it to; whatever it was writing is left as it was."""


MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY_CHARS = 64
MAX_METADATA_VALUE_CHARS = 512
"""OpenAI's limits on a batch's metadata: pairs, characters of a key, characters of a value."""


class MetadataError(ValueError):
    """Metadata a batch cannot carry; `pair` is the text that is not key=value, when that is the fault."""

    def __init__(self, message: str, pair: str | None = None) -> None:
        super().__init__(message)
        self.pair = pair


def parse_metadata(pairs: Iterable[str], description: str = "") -> dict[str, str]:
    """A batch's metadata from "key=value" texts and a description (kept as 'description'), both stripped of
    surrounding spaces, within OpenAI's limits; MetadataError says what is wrong."""
    description = description.strip()
    metadata = {"description": description} if description else {}
    for pair in pairs:
        key, equals, value = (text.strip() for text in pair.partition("="))
        if not equals or not key:
            raise MetadataError(f"'{pair.strip()}' is not key=value", pair)
        if key in metadata:
            raise MetadataError(f"'{key}' is given twice" + (" (the Description field sets it)"
                                                             if key == "description" else ""))
        if len(key) > MAX_METADATA_KEY_CHARS:
            raise MetadataError(f"key '{key[:20]}…' is over {MAX_METADATA_KEY_CHARS} characters")
        if len(value) > MAX_METADATA_VALUE_CHARS:
            raise MetadataError(f"the value of '{key}' is over {MAX_METADATA_VALUE_CHARS} characters")
        metadata[key] = value
    if len(description) > MAX_METADATA_VALUE_CHARS:
        raise MetadataError(f"the description is over {MAX_METADATA_VALUE_CHARS} characters")
    if len(metadata) > MAX_METADATA_PAIRS:
        raise MetadataError(f"{len(metadata)} pairs with the description; at most {MAX_METADATA_PAIRS}")
    return metadata


EXPIRY_SECONDS = (3600, 30 * 86400)
"""The expiry OpenAI takes for an uploaded file (`expires_after`) or a batch's output (`output_expires_after`): from
one hour to 30 days after creation."""

_EXPIRY_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_expiry(text: str) -> int:
    """Seconds from a duration such as "7d", "12h", "90m", "2w" or "3600" (seconds), within EXPIRY_SECONDS; a
    ValueError says what is wrong."""
    spoken = text.strip().lower()
    number, unit = (spoken[:-1], spoken[-1]) if spoken[-1:] in _EXPIRY_UNITS else (spoken, "s")
    if not number.isdigit():
        raise ValueError(f"'{text}' is not a duration such as 7d, 12h, 90m or 3600 (seconds)")
    seconds = int(number) * _EXPIRY_UNITS[unit]
    low, high = EXPIRY_SECONDS
    if not low <= seconds <= high:
        raise ValueError(f"'{text}' is {seconds:,} seconds; OpenAI takes 1h (3600) to 30d (2592000)")
    return seconds

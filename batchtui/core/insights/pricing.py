"""Token and cost figures at batch prices, entirely offline.

Prices come from genai-prices' bundled snapshot (its auto-update is never started here). It knows OpenAI's
batch prices as a price variant `{"processing": "batch"}`; where a model has no batch variant in force (e.g.
embeddings, or a date before the variant's start), OpenAI's 50% batch discount is applied to its standard price.

Tokens are counted exactly with tiktoken only when its encoding file is already in tiktoken's cache, checked the
way tiktoken checks it, so that tiktoken never tries to download; otherwise they are approximated.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo, PriceCalculation

APPROXIMATION = "approximation: 4 characters per token"
_CHARS_PER_TOKEN = 4
_PER_MESSAGE = 3
_PER_REPLY = 3
_BATCH = {"processing": "batch"}
_BATCH_DISCOUNT = Decimal("0.5")
_TIKTOKEN_FILES = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}
"""tiktoken's own blob URL and SHA-256 for each encoding used here (tiktoken_ext/openai_public.py)."""


@dataclass(frozen=True)
class Cost:
    """A price in USD at batch rates: uncached input, cached input, output, and their sum."""

    input_usd: Decimal
    cached_usd: Decimal
    output_usd: Decimal
    total_usd: Decimal
    basis: str
    """Where the batch rate comes from: "batch price" or "standard price less the 50% batch discount"."""

    def times(self, count: int) -> Cost:
        """This cost `count` times over: one request's price made a batch of such requests."""
        parts = [self.input_usd * count, self.cached_usd * count, self.output_usd * count]
        return Cost(*parts, total_usd=sum(parts, Decimal(0)), basis=self.basis)

    def __add__(self, other: Cost) -> Cost:
        parts = [self.input_usd + other.input_usd, self.cached_usd + other.cached_usd,
                 self.output_usd + other.output_usd]
        return Cost(*parts, total_usd=sum(parts, Decimal(0)), basis=self.basis)


def usd(amount: Decimal) -> str:
    """An amount for people: cents for a dollar or more, six decimals below a cent (a small batch's cost)."""
    return f"${amount:,.2f}" if amount >= Decimal("0.01") else f"${amount:.6f}"


def price_of(
    model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0, *, at: datetime | None = None
) -> Cost | None:
    """The batch price of this usage for an OpenAI model as of `at` (default now), or None when genai-prices
    has no price for the model. `input_tokens` includes `cached_tokens`, as in OpenAI's usage."""
    from genai_prices import Usage, calc_price  # its price data takes a third of a second to load: only when used

    at = at or datetime.now(UTC)

    def calc(usage: Usage) -> PriceCalculation:
        return calc_price(usage, model, provider_id="openai", genai_request_timestamp=at, price_context=_BATCH)

    try:
        full = calc(Usage(input_tokens=input_tokens, cache_read_tokens=cached_tokens, output_tokens=output_tokens))
    except LookupError:
        return None
    cached = Decimal(0)
    if cached_tokens:
        cached = calc(Usage(input_tokens=cached_tokens, cache_read_tokens=cached_tokens)).input_price
    if _has_batch_price(full.model, at):
        factor, basis = Decimal(1), "batch price"
    else:
        factor, basis = _BATCH_DISCOUNT, "standard price less the 50% batch discount"
    parts = [(full.input_price - cached) * factor, cached * factor, full.output_price * factor]
    return Cost(*parts, total_usd=sum(parts, Decimal(0)), basis=basis)


def usage_cost(model: str | None, usage: Mapping[str, int]) -> Cost | None:
    """The batch price of one response's usage, as chat (prompt/completion tokens) or responses (input/output)
    bodies report it, with cached tokens from its details; None without a model or a price."""
    if not model:
        return None
    prompt = usage.get("prompt_tokens", usage.get("input_tokens", 0))
    completion = usage.get("completion_tokens", usage.get("output_tokens", 0))
    return price_of(model, prompt, completion, min(usage.get("cached_tokens", 0), prompt))


def _has_batch_price(model: ModelInfo, at: datetime) -> bool:
    return any(
        variant.when == _BATCH and (variant.constraint is None or variant.constraint.active(at))
        for variant in model.price_variants or ()
    )


@dataclass(frozen=True)
class TokenCounter:
    """Counts a request's input tokens, exactly with a tiktoken encoding or by the approximation."""

    method: str
    """"tiktoken <encoding>" or APPROXIMATION, to tell the user how far to trust the count."""
    encode: Callable[[str], Sequence[int]] | None = None

    def count(self, texts: Iterable[str], *, messages: int = 0) -> int:
        """Tokens of the texts, plus OpenAI's chat framing when there are messages (3 each, 3 for the reply)."""
        if self.encode is None:
            chars = sum(len(text) for text in texts)
            tokens = -(-chars // _CHARS_PER_TOKEN)
        else:
            tokens = sum(len(self.encode(text)) for text in texts)
        return tokens + (messages * _PER_MESSAGE + _PER_REPLY if messages else 0)


@dataclass(frozen=True)
class TokenEstimate:
    tokens: int
    method: str


def token_counter(model: str | None) -> TokenCounter:
    """The exact counter for the model's encoding when its file is already cached on disk, else the approximation."""
    try:
        import tiktoken
    except ImportError:
        return TokenCounter(APPROXIMATION)
    try:
        name = tiktoken.encoding_name_for_model(model or "")
    except KeyError:
        name = "o200k_base"
    if _cached_tiktoken_file(name) is None:
        return TokenCounter(APPROXIMATION)
    return TokenCounter(f"tiktoken {name}", tiktoken.get_encoding(name).encode_ordinary)


def estimate_tokens(texts: Iterable[str], *, messages: int = 0, model: str | None = None) -> TokenEstimate:
    """Input tokens of one request's texts (and messages), with the method used; never touches the network."""
    counter = token_counter(model)
    return TokenEstimate(counter.count(texts, messages=messages), counter.method)


def _cached_tiktoken_file(name: str) -> Path | None:
    """The encoding's file in tiktoken's cache when it is there with the right hash: the only case in which
    tiktoken reads it without a download (it re-fetches a file whose hash is wrong, and always when the cache is
    turned off with an empty TIKTOKEN_CACHE_DIR)."""
    if name not in _TIKTOKEN_FILES:
        return None
    url, sha256 = _TIKTOKEN_FILES[name]
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        cache_dir = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        cache_dir = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not cache_dir:
        return None
    path = Path(cache_dir) / hashlib.sha1(url.encode()).hexdigest()
    try:
        stat = path.stat()
    except OSError:
        return None
    return path if _has_hash(str(path), sha256, stat.st_mtime_ns, stat.st_size) else None


@lru_cache(maxsize=8)
def _has_hash(path: str, sha256: str, mtime_ns: int, size: int) -> bool:
    """Whether the file's SHA-256 is `sha256`; cached while its modification time and size stay the same."""
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest() == sha256
    except OSError:
        return False

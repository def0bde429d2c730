"""Token and cost figures at batch prices, entirely offline.

Prices come from genai-prices' bundled snapshot (its auto-update is never started here). It knows OpenAI's
batch prices as a price variant `{"processing": "batch"}`; where a model has no batch variant in force (e.g.
embeddings, or a date before the variant's start), OpenAI's 50% batch discount is applied to its standard price.

This is the one rate book: the list, the detail, the viewer, llm_logs, stats and validate's estimate all price
here. A model whose price is flat per token is priced from rates per million tokens looked up once per price
period (`rates_on`); one with tiers, time-of-day prices or a fee per request (`priced_per_request`) is priced
request by request with `price_of`. Amounts are shown with `usd`.

Tokens are counted exactly with tiktoken only when its encoding file is already in tiktoken's cache, checked the
way tiktoken checks it, so that tiktoken never tries to download; otherwise they are approximated.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo, PriceCalculation

    from batchtui.core.api.models import Batch, BatchUsage

APPROXIMATION = "approximation: 4 characters per token"
_CHARS_PER_TOKEN = 4
_PER_MESSAGE = 3
_PER_REPLY = 3
_BATCH = {"processing": "batch"}
_BATCH_DISCOUNT = Decimal("0.5")
_MILLION = 1_000_000
_DAY = 86_400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_THREE_DIGITS = Context(prec=3, rounding=ROUND_HALF_UP)
_CENT = Decimal("0.01")
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

    @classmethod
    def of(cls, input_usd: Decimal, cached_usd: Decimal, output_usd: Decimal, basis: str) -> Cost:
        """A cost from its parts, the total their sum."""
        return cls(input_usd, cached_usd, output_usd, input_usd + cached_usd + output_usd, basis)

    def times(self, count: int) -> Cost:
        """This cost `count` times over: one request's price made a batch of such requests."""
        return Cost.of(self.input_usd * count, self.cached_usd * count, self.output_usd * count, self.basis)

    def __add__(self, other: Cost) -> Cost:
        return Cost.of(self.input_usd + other.input_usd, self.cached_usd + other.cached_usd,
                       self.output_usd + other.output_usd, self.basis)


def usd(amount: Decimal) -> str:
    """The one way an amount of money is shown, in plain decimals (never an exponent): cents with thousands
    separators from a dollar up ('$12.35', '$1,234.56'), three significant digits below a dollar ('$0.0240',
    '$0.000654'), and '$0' for nothing. Significant digits rather than a fixed number of decimals, so a cheap
    batch is never '$0.00' and amounts side by side in a list or a table read with the same precision."""
    if not amount:
        return "$0"
    sign, size = ("-" if amount < 0 else ""), abs(amount)
    rounded = _THREE_DIGITS.plus(size)
    if rounded < 1:
        return f"{sign}${rounded.quantize(Decimal(1).scaleb(rounded.adjusted() - 2)):f}"
    return f"{sign}${size.quantize(_CENT, ROUND_HALF_UP):,f}"


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
    return Cost.of((full.input_price - cached) * factor, cached * factor, full.output_price * factor, basis)


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


# --- the rate book: one place that decides how a model is priced and caches its rates ------------------------


@dataclass(frozen=True)
class Rates:
    """A model's batch rates in USD per million tokens (uncached input, cached input, output), for a model whose
    price is flat per token, in one price period."""

    input: Decimal
    cached: Decimal
    output: Decimal
    basis: str

    def total(self, input_tokens: int, output_tokens: int, cached_tokens: int) -> Decimal:
        """What this usage costs; `input_tokens` includes `cached_tokens`, as in OpenAI's usage."""
        return (self.input * (input_tokens - cached_tokens) + self.cached * cached_tokens
                + self.output * output_tokens) / _MILLION

    def cost(self, input_tokens: int, output_tokens: int, cached_tokens: int) -> Cost:
        """This usage's cost in parts, as price_of gives it."""
        return Cost.of(self.input * (input_tokens - cached_tokens) / _MILLION, self.cached * cached_tokens / _MILLION,
                       self.output * output_tokens / _MILLION, self.basis)


@dataclass(frozen=True)
class _Plan:
    change_days: list[int]
    """The UTC days (since the epoch) on which the model's prices change: rates hold from one to the next."""
    flat: bool
    """Whether the price is flat per token (no tiers, no time-of-day prices, no fee per request), so rates per
    million tokens give price_of's exact figures."""


_period_rates: dict[tuple[str, int], Rates | None] = {}


def priced_per_request(model: str | None) -> bool:
    """Whether the model has a price that is not flat per token (say, twice the rate past 272k input tokens): a
    sum of many requests' tokens cannot be priced at once, each request must be."""
    plan = _plan(model) if model else None
    return plan is not None and not plan.flat


def rates_on(model: str | None, utc_day: int) -> Rates | None:
    """The batch rates of a flat-priced model on a UTC day (days since the epoch), looked up once per price period;
    None when the model has no price then, or its price is not flat (see `priced_per_request`)."""
    plan = _plan(model) if model else None
    if plan is None or not plan.flat or not model:
        return None
    key = (model, bisect_right(plan.change_days, utc_day))
    if key not in _period_rates:
        at = datetime.fromtimestamp(utc_day * _DAY + _DAY // 2, UTC)
        full = price_of(model, _MILLION, _MILLION, at=at)
        cached = price_of(model, _MILLION, 0, _MILLION, at=at)
        _period_rates[key] = None if full is None or cached is None else Rates(
            full.input_usd, cached.cached_usd, full.output_usd, full.basis)
    return _period_rates[key]


def batch_usage_cost(model: str | None, input_tokens: int, output_tokens: int, cached_tokens: int, created_at: int,
                     requests: int) -> Cost | None:
    """What a batch's usage costs at batch prices as of its creation (epoch seconds), `requests` being how many
    requests it answered; None without a price."""
    if priced_per_request(model):
        return _per_request_cost(model, input_tokens, output_tokens, cached_tokens, created_at, requests)
    rates = rates_on(model, int(created_at // _DAY))
    return rates.cost(input_tokens, output_tokens, cached_tokens) if rates is not None else None


@lru_cache(maxsize=65_536)
def _per_request_cost(model: str | None, input_tokens: int, output_tokens: int, cached: int, at: int,
                      requests: int) -> Cost | None:
    """A batch's cost for a model whose rate depends on the size of a request: the tier applies to each request,
    not to the batch's sum, so the batch is priced as `requests` requests of its average usage (rounded down to
    whole tokens, a fraction of a cent per batch). Memoised: `price_of` takes half a millisecond."""
    if not model:
        return None
    each = price_of(model, input_tokens // requests, output_tokens // requests,
                    min(cached, input_tokens) // requests, at=datetime.fromtimestamp(at, UTC))
    return each.times(requests) if each is not None else None


@lru_cache(maxsize=256)
def _plan(model: str) -> _Plan | None:
    """None when genai-prices has no price for the model; else when its prices change and whether they are flat,
    from the model's price data as genai-prices' calculation returns it."""
    from genai_prices import Usage, calc_price
    from genai_prices.types import ModelPrice, StartDateConstraint

    try:
        info = calc_price(Usage(input_tokens=_MILLION, output_tokens=_MILLION), model, provider_id="openai",
                          price_context=_BATCH).model
    except LookupError:
        return None
    try:
        conditional = [] if isinstance(info.prices, ModelPrice) else list(info.prices)
        priced = [*conditional, *(info.price_variants or ())]
        prices = [info.prices] if isinstance(info.prices, ModelPrice) else [c.prices for c in conditional]
        prices += [variant.prices for variant in info.price_variants or ()]
        constraints = [item.constraint for item in priced if item.constraint is not None]
        flat = all(isinstance(c, StartDateConstraint) for c in constraints) and all(
            value is None or (isinstance(value, Decimal | int) and name != "requests_kcount")
            for price in prices
            for name, value in vars(price).items()
        )
        days = sorted({c.start_date.toordinal() - _EPOCH_ORDINAL for c in constraints if flat})
    except Exception:  # noqa: BLE001 - any surprise in genai-prices' data: price request by request with price_of
        return _Plan([], False)
    return _Plan(days, flat)


# --- batches: the list's and the detail's cost ----------------------------------------------------------------


def batch_cost(batch: Batch) -> Cost | None:
    """What the batch's usage costs at batch prices as of its creation; None without usage, model or price."""
    usage = batch.usage
    if usage is None or not batch.model:
        return None
    return batch_usage_cost(batch.model, usage.input_tokens, usage.output_tokens, cached_tokens(usage),
                            batch.created_at, requests_done(batch))


def cost_note(batch: Batch) -> str:
    """A list column's cost: '$1.23', 'no price for <model>', or '' while the batch has used no tokens."""
    return cost_notes([batch]).get(batch.id, "")


def cost_notes(batches: Iterable[Batch]) -> dict[str, str]:
    """`cost_note` of many batches at once (see `batch_costs`); batches with no tokens are left out."""
    batches = list(batches)
    models = {batch.id: batch.model for batch in batches}
    return {batch_id: note_of(cost, models[batch_id]) for batch_id, cost in batch_costs(batches).items()}


def note_of(cost: Cost | None, model: str | None) -> str:
    """How a list shows a batch's cost: the amount, or why there is none."""
    return usd(cost.total_usd) if cost else f"no price for {model or 'an unknown model'}"


def batch_costs(batches: Iterable[Batch]) -> dict[str, Cost | None]:
    """The cost of each batch that has used tokens, None when its model has no price (for a list of 10,000): rates
    are looked up once per model and price period, not per batch."""
    costs: dict[str, Cost | None] = {}
    for batch in batches:
        usage = batch.usage
        if usage is None or not (usage.input_tokens or usage.output_tokens):
            continue
        costs[batch.id] = batch_usage_cost(batch.model, usage.input_tokens, usage.output_tokens, cached_tokens(usage),
                                           batch.created_at, requests_done(batch))
    return costs


def cached_tokens(usage: BatchUsage) -> int:
    """The cached input tokens of a batch's usage (0 when it does not say)."""
    details = usage.input_tokens_details
    return (details.cached_tokens or 0) if details is not None else 0


def requests_done(batch: Batch) -> int:
    """How many requests the batch answered (at least 1): a per-request price spreads its usage over them."""
    counts = batch.request_counts
    return max(counts.completed if counts is not None else 0, 1)


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

"""Batch prices (half the standard ones), unknown models, cached tokens, and token estimates that never download."""

from __future__ import annotations

import hashlib
import socket
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import tiktoken
import tiktoken.load
from genai_prices import Usage, calc_price

from batchtui.core.insights import pricing
from batchtui.core.insights.pricing import APPROXIMATION, TokenCounter, price_of, token_counter

MILLION = 1_000_000


@pytest.fixture(autouse=True)
def no_network(tmp_path, monkeypatch):
    """An empty tiktoken cache, and any download or connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken"))
    monkeypatch.setattr(tiktoken.load, "read_file", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def standard(model: str, **usage: int):
    return calc_price(Usage(**usage), model, provider_id="openai")


def test_a_known_model_costs_half_the_standard_price():
    cost = price_of("gpt-4o-mini", MILLION, MILLION)
    full = standard("gpt-4o-mini", input_tokens=MILLION, output_tokens=MILLION)
    assert cost is not None and cost.basis == "batch price"
    assert (cost.input_usd, cost.output_usd) == (full.input_price / 2, full.output_price / 2)
    assert (cost.input_usd, cost.output_usd, cost.total_usd) == (Decimal("0.075"), Decimal("0.3"), Decimal("0.375"))
    assert cost.cached_usd == 0


def test_a_model_without_a_batch_price_gets_the_50_percent_discount():
    cost = price_of("text-embedding-3-small", MILLION, 0)
    assert cost is not None and cost.basis == "standard price less the 50% batch discount"
    assert cost.input_usd == standard("text-embedding-3-small", input_tokens=MILLION).input_price / 2
    before_batch_prices = price_of("gpt-4o-mini", MILLION, MILLION, at=datetime(2025, 1, 1, tzinfo=UTC))
    assert before_batch_prices is not None and before_batch_prices.basis.startswith("standard price")
    assert before_batch_prices.total_usd == Decimal("0.375")


def test_an_unknown_model_has_no_price():
    assert price_of("my-own-model", MILLION, MILLION) is None


def test_cached_tokens_are_priced_apart_and_part_of_the_input():
    cost = price_of("gpt-4.1", MILLION, 0, cached_tokens=200_000)
    none_cached = price_of("gpt-4.1", MILLION, 0)
    assert cost is not None and none_cached is not None
    assert cost.input_usd == none_cached.input_usd * 8 / 10
    assert 0 < cost.cached_usd < none_cached.input_usd * 2 / 10
    assert cost.total_usd == cost.input_usd + cost.cached_usd + cost.output_usd


def test_the_approximation_is_4_characters_a_token_plus_chat_framing():
    approximation = TokenCounter(APPROXIMATION)
    assert approximation.count(["abcdefgh", "ij"]) == 3
    assert approximation.count(["abcdefgh"], messages=2) == 2 + 2 * 3 + 3
    assert approximation.count([]) == 0


def test_estimates_are_offline_and_fast_without_cached_encodings():
    t0 = time.perf_counter()
    for model in ("gpt-4o-mini", "gpt-4", "text-embedding-3-small", "no-such-model", None):
        counter = token_counter(model)
        assert counter.method == APPROXIMATION and counter.count(["hello " * 1000]) == 1500
    assert time.perf_counter() - t0 < 1


def test_a_cache_file_with_the_wrong_hash_is_not_used_nor_removed(tmp_path, monkeypatch):
    url, _ = pricing._TIKTOKEN_FILES["o200k_base"]
    stale = tmp_path / "tiktoken" / hashlib.sha1(url.encode()).hexdigest()
    stale.parent.mkdir()
    stale.write_bytes(b"not the encoding")
    assert token_counter("gpt-4o").method == APPROXIMATION
    assert stale.exists()  # tiktoken would have deleted it and downloaded the real one
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")  # tiktoken's cache turned off: it would download every time
    assert token_counter("gpt-4o").method == APPROXIMATION


def test_tiktoken_counts_when_its_file_is_where_tiktoken_reads_it(tmp_path, monkeypatch):
    blob = b"an encoding file"
    url = "https://openaipublic.example/o200k_base.tiktoken"
    digest = hashlib.sha256(blob).hexdigest()
    monkeypatch.setitem(pricing._TIKTOKEN_FILES, "o200k_base", (url, digest))
    monkeypatch.setattr(tiktoken, "get_encoding", lambda name: FakeEncoding())
    assert token_counter("gpt-4o").method == APPROXIMATION

    cache = tmp_path / "tiktoken"
    cache.mkdir()
    (cache / hashlib.sha1(url.encode()).hexdigest()).write_bytes(blob)
    assert tiktoken.load.read_file_cached(url, digest) == blob  # tiktoken reads this very file, no download
    counter = token_counter("gpt-4o")
    assert counter.method == "tiktoken o200k_base"
    assert counter.count(["one two three", "four"], messages=1) == 4 + 3 + 3


class FakeEncoding:
    def encode_ordinary(self, text: str) -> list[int]:
        return list(range(len(text.split())))


def test_usage_cost_reads_chat_and_responses_usage():
    from batchtui.core.insights.pricing import price_of, usage_cost

    chat = {"prompt_tokens": 1_000, "completion_tokens": 200, "total_tokens": 1_200, "cached_tokens": 400}
    responses = {"input_tokens": 1_000, "output_tokens": 200, "total_tokens": 1_200, "cached_tokens": 400}
    expected = price_of("gpt-4o-mini", 1_000, 200, 400)
    assert usage_cost("gpt-4o-mini", chat) == usage_cost("gpt-4o-mini", responses) == expected
    assert usage_cost("my-own-model", chat) is None and usage_cost(None, chat) is None

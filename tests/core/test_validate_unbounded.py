"""validate never prices output with no max_tokens at $0: it says the output is unbounded and the cost a floor, or
estimates it from the model's past requests in llm_logs when there are any."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from batchtui.core.authoring.validate import report_figures, validate_file
from batchtui.core.cache.llm_logs import output_history
from batchtui.core.config import Profile
from batchtui.core.domain import ACTIVE_STATUSES
from batchtui.core.workspace import Workspace


@pytest.fixture(autouse=True)
def empty_tiktoken_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken"))


def batch_file(path: Path, ceilings: list[int | None]) -> Path:
    lines = []
    for i, ceiling in enumerate(ceilings):
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Describe item {i}."}]}
        if ceiling is not None:
            body["max_completion_tokens"] = ceiling
        lines.append(json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_no_max_tokens_anywhere_reads_unbounded_not_zero(tmp_path):
    figures = dict(report_figures(validate_file(batch_file(tmp_path / "a.jsonl", [None, None]))))
    assert figures["output tokens"] == "unbounded (2 requests set no max_tokens)"
    assert figures["cost"].startswith("at least $") and "output unbounded;" in figures["cost"]
    assert "$0" not in figures["cost"].replace("$0.", "")


def test_some_max_tokens_prices_those_and_names_the_rest(tmp_path):
    figures = dict(report_figures(validate_file(batch_file(tmp_path / "b.jsonl", [100, None]))))
    assert figures["output tokens"] == "at most 100 (1 request set no max_tokens)"
    assert "plus the unbounded output of 1 request without max_tokens" in figures["cost"]
    assert figures["cost"].startswith("at least $")


def test_every_request_bounded_is_an_estimate(tmp_path):
    figures = dict(report_figures(validate_file(batch_file(tmp_path / "c.jsonl", [100, 50]))))
    assert figures["output tokens"] == "at most 150" and figures["cost"].startswith("about $")


async def test_the_output_of_unbounded_requests_is_estimated_from_past_requests_of_the_model(tmp_path, fresh_sandbox):
    """The account's history in llm_logs (the sandbox answers gpt-4o-mini as a dated snapshot) gives the output per
    input token; the estimate and the cost use it, and say where it came from."""
    profile = Profile(name="t", base_url=fresh_sandbox.base_url, api_key="sk-test")
    async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
        assert ws.output_history("gpt-4o-mini") is None  # no history yet
        uploaded = await ws.upload(batch_file(tmp_path / "past.jsonl", [None] * 6))
        batch = await ws.fetch_batch((await ws.start_batch(uploaded.id, "/v1/chat/completions")).id)
        while batch.status in ACTIVE_STATUSES:
            await asyncio.sleep(0.02)
            batch = await ws.fetch_batch(batch.id)
        await ws.import_batch(batch)
        history = ws.output_history("gpt-4o-mini")
        usages = [json.loads(line)["response"]["body"]["usage"]
                            for line in (await ws.batch_result_files(batch)).output.read_text().splitlines()]
        assert history is not None and history.model == "gpt-4o-mini" and history.requests == 6
        assert (history.input_tokens, history.output_tokens) == (sum(u["prompt_tokens"] for u in usages),
                                                                 sum(u["completion_tokens"] for u in usages))
        assert ws.output_history("gpt-4o") is None  # a model is not its longer-named sibling

    report = validate_file(batch_file(tmp_path / "next.jsonl", [100, None, None]))
    estimated = report.with_history(history)
    assert estimated.output_estimate == round(report.unbounded_input_tokens * history.ratio) > 0
    assert estimated.cost.output_usd > report.cost.output_usd
    figures = dict(report_figures(estimated))
    assert figures["output tokens"] == (f"at most 100, plus about {estimated.output_estimate:,} estimated for the "
                                        "2 requests that set no max_tokens")
    assert figures["estimated from"] == (f"6 past requests of gpt-4o-mini in llm_logs: {history.ratio:.2g} output "
                                         "tokens per input token")
    assert figures["cost"].startswith("about $") and "partly estimated" in figures["cost"]
    assert estimated.to_dict()["output_estimate"]["from_requests"] == 6
    bounded = validate_file(batch_file(tmp_path / "bounded.jsonl", [100]))
    assert bounded.with_history(history) is bounded  # nothing to estimate


def test_no_cache_or_an_unreadable_one_has_no_history(tmp_path):
    assert output_history(tmp_path / "none.db", "gpt-4o-mini") is None
    (tmp_path / "junk.db").write_bytes(b"not a database")
    assert output_history(tmp_path / "junk.db", "gpt-4o-mini") is None

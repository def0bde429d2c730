"""validate never prices output with no max_tokens at $0: it says the output is unbounded and the cost a floor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batchtui.core.authoring.validate import report_figures, validate_file


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

"""`batchtui sandbox --models a,b --enqueued-token-limit N`: the server serves those models besides the known ones
and holds each model's queued and running batches to N input tokens; bad values are refused in one line."""

from __future__ import annotations

import json
import os
import time

import pytest
from cli_helpers import batchtui, sandbox_process
from openai import OpenAI


def batch_of(client: OpenAI, model: str, n: int = 3) -> str:
    lines = [{"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
              "body": {"model": model, "messages": [{"role": "user", "content": f"Item {i}"}]}} for i in range(n)]
    uploaded = client.files.create(file=("in.jsonl", "".join(json.dumps(x) + "\n" for x in lines)), purpose="batch")
    return client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                 completion_window="24h").id


def finished(client: OpenAI, batch_id: str):
    deadline = time.monotonic() + 20
    while (batch := client.batches.retrieve(batch_id)).status not in ("completed", "failed", "cancelled", "expired"):
        assert time.monotonic() < deadline, batch.status
        time.sleep(0.05)
    return batch


def test_the_sandbox_serves_the_models_it_is_given_and_holds_them_to_the_limit():
    with sandbox_process("--models", "acme-1, acme-2", "--enqueued-token-limit", "1000") as url:
        client = OpenAI(base_url=url, api_key="sk-test", max_retries=0)
        assert finished(client, batch_of(client, "acme-2")).status == "completed"
        assert finished(client, batch_of(client, "gpt-4o-mini")).status == "completed"
        unknown = finished(client, batch_of(client, "acme-3")).errors.data
        assert [(e.code, e.line, e.param) for e in unknown] == [("model_not_found", 1, "body.model")]
        over = finished(client, batch_of(client, "acme-1", 200)).errors.data
        assert [(e.code, e.line, e.param) for e in over] == [("token_limit_exceeded", None, None)]
        assert "Limit: 1,000 enqueued tokens." in over[0].message


@pytest.mark.parametrize(
    ("option", "said"),
    [
        (("--enqueued-token-limit", "0"), "--enqueued-token-limit 0: expected a whole number of tokens >= 1"),
        (("--models", " , "), "--models: name at least one model, e.g. --models acme-1,acme-2"),
    ],
)
def test_bad_sandbox_options_are_refused_in_one_line(option, said):
    done = batchtui("sandbox", "--port", "0", *option, env=dict(os.environ), check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == f"batchtui: {said}"

"""Pre-flight validation: one file per problem kind, all problems with their lines, the cap, the JSON form, and
agreement with the sandbox, which fails a batch on the same first problem."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import orjson
import pytest
from openai import AsyncOpenAI

from batchtui.core.authoring.validate import (
    MAX_BYTES,
    MAX_EMBEDDING_INPUTS,
    MAX_LINES,
    Problem,
    ValidateCancelled,
    ValidateReadError,
    validate_file,
)
from batchtui.core.domain import BATCH_ENDPOINTS
from batchtui.core.insights.pricing import APPROXIMATION, price_of
from batchtui.sandbox import SandboxConfig, SandboxServer

CHAT = "/v1/chat/completions"
EMBEDDINGS = "/v1/embeddings"


PEAK_MB = "int(next(line for line in open('/proc/self/status') if line.startswith('VmHWM:')).split()[1]) // 1024"
"""The peak memory of the process running it, in MB (ru_maxrss would count the parent's, after a fork)."""


def chat_body(i: int = 0, **over: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Describe item {i}."}], **over}


def request(i: int, body: Any = None, **over: Any) -> dict[str, Any]:
    line = {"custom_id": f"req-{i}", "method": "POST", "url": CHAT, "body": chat_body(i) if body is None else body}
    return {**line, **over}


def embedding(i: int, inputs: Any) -> dict[str, Any]:
    return request(i, {"model": "text-embedding-3-small", "input": inputs}, url=EMBEDDINGS)


def without(key: str, i: int = 2) -> dict[str, Any]:
    line = request(i)
    del line[key]
    return line


def five_with(line_no: int, bad: Any) -> list[Any]:
    lines: list[Any] = [request(i) for i in range(5)]
    lines[line_no - 1] = bad
    return lines


def messages(*items: Any) -> dict[str, Any]:
    return request(1, chat_body(messages=list(items)))


def jsonl(lines: list[Any]) -> bytes:
    return b"".join((line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines)


def write(tmp_path: Path, lines: list[Any], name: str = "batch.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(jsonl(lines))
    return path


# name: (lines, endpoint, code, line, param). The sandbox fails a batch on each of these files, at this problem.
SANDBOX_REJECTS: dict[str, tuple[list[Any], str, str, int | None, str | None]] = {
    "invalid_json": (five_with(3, b'{"custom_id": "req-2", "method": "POST",'), CHAT, "invalid_json_line", 3, None),
    "not_an_object": (five_with(2, b"[1, 2, 3]"), CHAT, "invalid_json_line", 2, None),
    "invalid_utf8": (five_with(4, b'{"custom_id": "req-3", "note": "caf\xe9"}'), CHAT, "invalid_json_line", 4, None),
    "byte_order_mark": (five_with(1, b"\xef\xbb\xbf" + orjson.dumps(request(0))), CHAT, "invalid_json_line", 1, None),
    "missing_custom_id": (five_with(3, without("custom_id")), CHAT, "missing_required_parameter", 3, "custom_id"),
    "missing_method": (five_with(3, without("method")), CHAT, "missing_required_parameter", 3, "method"),
    "missing_url": (five_with(3, without("url")), CHAT, "missing_required_parameter", 3, "url"),
    "missing_body": (five_with(3, without("body")), CHAT, "missing_required_parameter", 3, "body"),
    "empty_custom_id": (five_with(2, request(1, custom_id="")), CHAT, "invalid_request", 2, "custom_id"),
    "numeric_custom_id": (five_with(2, request(1, custom_id=17)), CHAT, "invalid_request", 2, "custom_id"),
    "method_get": (five_with(5, request(4, method="GET")), CHAT, "invalid_request", 5, "method"),
    "url_mismatch": (five_with(2, request(1, url=EMBEDDINGS)), CHAT, "invalid_url", 2, "url"),
    "url_not_a_string": (five_with(2, request(1, url=5)), CHAT, "invalid_url", 2, "url"),
    "body_not_an_object": (five_with(4, request(3, body="hello")), CHAT, "invalid_request", 4, "body"),
    "duplicate_custom_id": (five_with(4, request(1)), CHAT, "duplicate_custom_id", 4, "custom_id"),
    "streaming": (five_with(2, request(1, chat_body(stream=True))), CHAT, "streaming_unsupported", 2, "body.stream"),
    "missing_model": (
        five_with(3, request(2, {"messages": [{"role": "user", "content": "hi"}]})),
        CHAT,
        "invalid_request",
        3,
        "body.model",
    ),
    "mismatched_model": (
        five_with(5, request(4, chat_body(model="gpt-4.1"))),
        CHAT,
        "mismatched_model",
        5,
        "body.model",
    ),
    "too_many_embedding_inputs": (
        [embedding(0, ["a"] * 25_000), embedding(1, "b"), embedding(2, ["c"] * 25_000)],
        EMBEDDINGS,
        "too_many_tasks",
        3,
        "body.input",
    ),
    "empty_file": ([], CHAT, "empty_file", None, None),
    "only_blank_lines": ([b"", b"  ", b"\r"], CHAT, "empty_file", None, None),
}

# name: (bad line 2, code, param). OpenAI accepts these files and fails the single request later.
BAD_MESSAGES: dict[str, tuple[Any, str, str]] = {
    "messages_missing": (request(1, {"model": "gpt-4o-mini"}), "missing_required_parameter", "body.messages"),
    "messages_not_a_list": (request(1, chat_body(messages="hi")), "invalid_type", "body.messages"),
    "messages_empty": (messages(), "empty_array", "body.messages"),
    "message_not_an_object": (messages("hi"), "invalid_type", "body.messages[0]"),
    "role_missing": (messages({"content": "hi"}), "missing_required_parameter", "body.messages[0].role"),
    "role_unknown": (messages({"role": "bot", "content": "hi"}), "invalid_value", "body.messages[0].role"),
    "content_missing": (messages({"role": "user"}), "missing_required_parameter", "body.messages[0].content"),
    "content_an_object": (
        messages({"role": "user", "content": {"text": "hi"}}),
        "invalid_type",
        "body.messages[0].content",
    ),
    "part_not_an_object": (
        messages({"role": "user", "content": ["hi"]}),
        "invalid_type",
        "body.messages[0].content[0]",
    ),
    "part_type_missing": (
        messages({"role": "user", "content": [{"text": "hi"}]}),
        "missing_required_parameter",
        "body.messages[0].content[0].type",
    ),
    "part_type_unknown": (
        messages({"role": "user", "content": [{"type": "video", "video": "x"}]}),
        "invalid_value",
        "body.messages[0].content[0].type",
    ),
    "text_part_without_text": (
        messages({"role": "user", "content": [{"type": "text", "content": "hi"}]}),
        "invalid_type",
        "body.messages[0].content[0].text",
    ),
    "image_url_a_list": (
        messages({"role": "user", "content": [{"type": "image_url", "image_url": [{"url": "https://x/a.png"}]}]}),
        "invalid_type",
        "body.messages[0].content[0].image_url",
    ),
    "image_url_a_string": (
        messages({"role": "user", "content": [{"type": "image_url", "image_url": "https://x/a.png"}]}),
        "invalid_type",
        "body.messages[0].content[0].image_url",
    ),
    "image_url_without_url": (
        messages({"role": "user", "content": [{"type": "image_url", "image_url": {"detail": "low"}}]}),
        "invalid_type",
        "body.messages[0].content[0].image_url.url",
    ),
    "tool_without_tool_call_id": (
        messages({"role": "user", "content": "hi"}, {"role": "tool", "content": "42"}),
        "missing_required_parameter",
        "body.messages[1].tool_call_id",
    ),
}


@pytest.fixture(autouse=True)
def empty_tiktoken_cache(tmp_path, monkeypatch):
    """Counts use the approximation, as on a machine without tiktoken's encodings."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken"))


def test_a_good_file_is_ok_with_its_figures(tmp_path):
    lines = [request(i, chat_body(i, max_completion_tokens=100)) for i in range(3)]
    report = validate_file(write(tmp_path, [*lines, b""]))
    assert report.ok and report.problems == [] and report.problems_total == 0
    assert (report.lines, report.requests, report.endpoint, report.model) == (4, 3, CHAT, "gpt-4o-mini")
    assert report.output_ceiling == 300 and report.lines_without_ceiling == 0
    assert report.token_method == APPROXIMATION
    # "Describe item 0." is 16 characters: 4 tokens, + 3 for the message and 3 for the reply.
    assert report.input_tokens == 3 * (4 + 3 + 3)
    assert report.cost is not None and report.cost.total_usd > 0 and report.no_price_reason is None


def test_the_estimate_prices_each_request_at_its_own_tier(tmp_path):
    """gpt-5.4 charges more for a request past 272k input tokens: four requests of ~100k are four small ones.
    A flat price (gpt-4o-mini) comes out exactly as the whole file's tokens priced at once."""
    def body(model: str) -> dict[str, Any]:
        return {"model": model, "messages": [{"role": "user", "content": "word " * 80_000}], "max_tokens": 1001}

    for model in ("gpt-5.4", "gpt-4o-mini"):
        report = validate_file(write(tmp_path, [request(i, body(model)) for i in range(4)], f"{model}.jsonl"))
        whole = price_of(model, report.input_tokens, report.output_ceiling)
        each = price_of(model, report.input_tokens // 4, report.output_ceiling // 4)
        assert report.input_tokens > 272_000 and report.input_tokens % 4 == 0 and report.output_ceiling == 4004
        if model == "gpt-5.4":
            assert report.cost.total_usd == 4 * each.total_usd < whole.total_usd
        else:
            assert report.cost.total_usd == whole.total_usd


@pytest.mark.parametrize("case", SANDBOX_REJECTS, ids=list(SANDBOX_REJECTS))
def test_a_file_openai_rejects_reports_its_one_problem(tmp_path, case):
    lines, endpoint, code, line, param = SANDBOX_REJECTS[case]
    report = validate_file(write(tmp_path, lines), endpoint=endpoint)
    assert not report.ok
    assert [(p.code, p.line, p.param) for p in report.problems] == [(code, line, param)]
    assert report.problems_total == 1
    assert report.problems[0].message


@pytest.mark.parametrize("case", BAD_MESSAGES, ids=list(BAD_MESSAGES))
def test_a_malformed_chat_message_is_reported_with_its_path(tmp_path, case):
    bad, code, param = BAD_MESSAGES[case]
    report = validate_file(write(tmp_path, five_with(2, bad)))
    assert [(p.code, p.line, p.param) for p in report.problems] == [(code, 2, param)]
    assert param.removeprefix("body.").split(".")[0] in report.problems[0].message


def test_good_messages_of_every_role_and_part_pass(tmp_path):
    good = messages(
        {"role": "developer", "content": "Be brief."},
        {"role": "system", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                     {"type": "image_url", "image_url": {"url": "https://x/a.png"}}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
                                                               "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
    )  # fmt: skip
    assert validate_file(write(tmp_path, five_with(2, good))).ok


def test_the_invalid_utf8_line_is_named_with_the_byte(tmp_path):
    lines, endpoint, *_ = SANDBOX_REJECTS["invalid_utf8"]
    problem = validate_file(write(tmp_path, lines), endpoint=endpoint).problems[0]
    assert problem.message == "not valid UTF-8: byte 0xE9 at byte 36 of the line"


def test_a_duplicate_names_both_lines(tmp_path):
    path = write(tmp_path, five_with(4, request(1)))
    problem = validate_file(path).problems[0]
    assert problem.message == "duplicate custom_id 'req-1' (first used on line 2)"
    assert problem.describe(path) == "batch.jsonl line 4: duplicate_custom_id: " + problem.message
    assert Problem(None, "empty_file", "the file has no requests").describe(path) == (
        "batch.jsonl: empty_file: the file has no requests"
    )


def test_more_lines_than_the_limit_is_reported_once_at_the_first_line_over(tmp_path):
    report = validate_file(write(tmp_path, [request(i) for i in range(6)]), max_lines=3)
    assert [(p.code, p.line) for p in report.problems] == [("too_many_tasks", 4)]


def test_a_file_over_the_size_limit_is_reported_first_then_its_lines(tmp_path):
    path = write(tmp_path, five_with(2, b"oops"))
    report = validate_file(path, max_bytes=100)
    assert [(p.code, p.line) for p in report.problems] == [("file_too_large", None), ("invalid_json_line", 2)]
    assert f"{path.stat().st_size:,} bytes" in report.problems[0].message


def test_embeddings_inputs_over_the_limit_are_reported_once(tmp_path):
    lines = [embedding(i, ["x", "y"]) for i in range(5)] + [embedding(5, [[1, 2], [3]]), embedding(6, [1, 2, 3])]
    report = validate_file(write(tmp_path, lines), max_embedding_inputs=5)
    assert [(p.code, p.line, p.param) for p in report.problems] == [("too_many_tasks", 3, "body.input")]
    assert report.output_ceiling is None and report.lines_without_ceiling == 0
    assert report.input_tokens == 5 * 1 + 3 + 3  # two letters a line (1 token), then token ids as they are


def test_limits_default_to_the_apis():
    assert (MAX_LINES, MAX_BYTES, MAX_EMBEDDING_INPUTS) == (50_000, 200 * 1024 * 1024, 50_000)


def test_every_problem_is_reported_in_line_order(tmp_path):
    lines = [
        request(0),
        b"not json",
        request(0, chat_body(stream=True)),
        request(3, url=EMBEDDINGS, method="PUT"),
        messages({"role": "bot", "content": [{"type": "image_url", "image_url": ["u"]}]}),
        request(5, chat_body(model="gpt-4.1")),
    ]
    report = validate_file(write(tmp_path, lines))
    assert [(p.line, p.code) for p in report.problems] == [
        (2, "invalid_json_line"),
        (3, "duplicate_custom_id"),
        (3, "streaming_unsupported"),
        (4, "invalid_request"),
        (4, "invalid_url"),
        (5, "invalid_value"),
        (5, "invalid_type"),
        (6, "mismatched_model"),
    ]
    assert report.problems_total == 8


def test_problems_are_capped_with_a_count_of_the_rest(tmp_path):
    report = validate_file(write(tmp_path, [b"{"] * 30), max_problems=10)
    assert [p.line for p in report.problems] == list(range(1, 11))
    assert report.problems_total == 30
    assert report.to_dict()["problems_not_shown"] == 20


def test_the_json_form(tmp_path):
    path = write(tmp_path, five_with(4, request(1, chat_body(max_tokens=50, n=2))))
    data = json.loads(json.dumps(validate_file(path).to_dict()))
    assert data["path"] == str(path) and data["ok"] is False
    assert data["problems"] == [
        {
            "line": 4,
            "code": "duplicate_custom_id",
            "message": "duplicate custom_id 'req-1' (first used on line 2)",
            "param": "custom_id",
        }
    ]
    assert (data["problems_total"], data["problems_not_shown"]) == (1, 0)
    assert (data["requests"], data["endpoint"], data["model"]) == (5, CHAT, "gpt-4o-mini")
    assert (data["output_ceiling"], data["lines_without_ceiling"]) == (100, 4)
    assert data["token_method"] == APPROXIMATION and data["no_price_reason"] is None
    assert set(data["cost"]) == {"input_usd", "cached_usd", "output_usd", "total_usd", "basis"}
    assert "E" not in data["cost"]["input_usd"] and float(data["cost"]["total_usd"]) > 0


def test_a_model_without_a_price_says_so_and_is_not_free(tmp_path):
    lines = [request(i, chat_body(i, model="my-own-model")) for i in range(2)]
    report = validate_file(write(tmp_path, lines))
    assert report.ok and report.cost is None
    assert report.no_price_reason == "no price for my-own-model"


def test_the_endpoint_comes_from_the_first_line_and_must_be_a_batch_endpoint(tmp_path):
    lines = [request(i, url="/v1/audio/speech") for i in range(3)]
    report = validate_file(write(tmp_path, lines))
    assert [(p.code, p.line) for p in report.problems] == [("invalid_url", 1)]
    assert "'/v1/audio/speech' is not a batch endpoint" in report.problems[0].message
    with pytest.raises(ValueError, match="not a batch endpoint"):
        validate_file(write(tmp_path, lines), endpoint="/v1/audio/speech")


def test_a_file_that_cannot_be_read_is_an_error_not_a_report(tmp_path):
    with pytest.raises(ValidateReadError, match="missing.jsonl"):
        validate_file(tmp_path / "missing.jsonl")
    with pytest.raises(ValidateReadError):
        validate_file(tmp_path)


def test_progress_and_cancel(tmp_path):
    path = write(tmp_path, [request(i) for i in range(2_500)])
    size = path.stat().st_size
    seen: list[tuple[int, int]] = []
    validate_file(path, progress=lambda done, total: seen.append((done, total)))
    assert len(seen) == 3 and seen[-1] == (size, size) and all(t == size for _, t in seen)
    with pytest.raises(ValidateCancelled):
        validate_file(path, cancelled=lambda: True)


# Agreement with the sandbox: the same file, uploaded and batched, fails on our first problem.


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(speed=1000.0)) as server:
        yield server


@pytest.fixture
async def client(sandbox) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(api_key="sk-test", base_url=sandbox.base_url, max_retries=0) as c:
        yield c


async def sandbox_error(client: AsyncOpenAI, path: Path, endpoint: str) -> tuple[str, int | None, str | None]:
    """Upload the file, batch it, and wait for it to fail; its first error's code, line and param."""
    upload = await client.files.create(file=(path.name, path.read_bytes()), purpose="batch")
    batch = await client.batches.create(input_file_id=upload.id, endpoint=endpoint, completion_window="24h")
    deadline = time.monotonic() + 60
    while batch.status == "validating" and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        batch = await client.batches.retrieve(batch.id)
    assert batch.status == "failed" and batch.errors is not None, batch.status
    error = batch.errors.data[0]
    return error.code, error.line, error.param


def first_problem(path: Path, endpoint: str) -> tuple[str, int | None, str | None]:
    report = validate_file(path, endpoint=endpoint)
    return report.problems[0].code, report.problems[0].line, report.problems[0].param


@pytest.mark.parametrize("case", SANDBOX_REJECTS, ids=list(SANDBOX_REJECTS))
async def test_the_sandbox_fails_the_batch_on_our_first_problem(client, tmp_path, case):
    lines, endpoint, *_ = SANDBOX_REJECTS[case]
    path = write(tmp_path, lines)
    assert await sandbox_error(client, path, endpoint) == first_problem(path, endpoint)


async def test_the_sandbox_agrees_on_too_many_lines(client, tmp_path):
    line = b'{"custom_id":"r%d","method":"POST","url":"/v1/embeddings","body":{"model":"m","input":"x"}}'
    path = write(tmp_path, [line % i for i in range(MAX_LINES + 1)])
    assert first_problem(path, EMBEDDINGS) == ("too_many_tasks", MAX_LINES + 1, None)
    assert await sandbox_error(client, path, EMBEDDINGS) == first_problem(path, EMBEDDINGS)


async def test_the_sandbox_agrees_on_a_file_too_large(client, tmp_path):
    path = tmp_path / "big.jsonl"
    blank = b" " * ((1 << 20) - 1) + b"\n"
    with path.open("wb") as fh:
        fh.write(jsonl([request(0)]))
        for _ in range(MAX_BYTES // len(blank) + 1):
            fh.write(blank)
    assert first_problem(path, CHAT) == ("file_too_large", None, None)
    assert await sandbox_error(client, path, CHAT) == first_problem(path, CHAT)


def test_a_line_longer_than_a_whole_file_is_reported_and_never_held_whole(tmp_path):
    path = tmp_path / "batch.jsonl"
    with path.open("wb") as fh:
        fh.write(jsonl([request(0)]))
        fh.seek(2 * MAX_BYTES, 1)  # a hole: a line of NULs longer than a file may be, that uses no disk
        fh.write(b"\n" + jsonl([request(0)]))
    code = ("import sys\nfrom pathlib import Path\nfrom batchtui.core.authoring.validate import validate_file\n"
            "report = validate_file(Path(sys.argv[1]))\n"
            "print([(p.line, p.code) for p in report.problems], report.lines, report.requests)\n"
            f"print({PEAK_MB})")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    found, peak_mb = done.stdout.splitlines()
    assert found == "[(None, 'file_too_large'), (2, 'file_too_large'), (3, 'duplicate_custom_id')] 3 3"
    assert int(peak_mb) < 2 * MAX_BYTES / 2**20, "the line was held whole"


def test_a_stream_is_read_no_further_than_the_limit(tmp_path):
    fifo = tmp_path / "endless.jsonl"
    os.mkfifo(fifo)

    def write_forever() -> None:
        with suppress(BrokenPipeError), fifo.open("wb") as out:
            while True:
                out.write(jsonl([request(0)]))

    writer = threading.Thread(target=write_forever, daemon=True)
    writer.start()
    report = validate_file(fifo, max_bytes=100_000)
    writer.join(timeout=10)
    problem = report.problems[-1]
    assert (problem.line, problem.code) == (None, "file_too_large") and not writer.is_alive()
    assert problem.message.startswith("more than 100,000 bytes, over the limit; reading stopped in line ")
    assert report.lines < 100_000 / len(jsonl([request(0)]))


def azure_lines(deployment: str = "my-gpt4o-deployment") -> list[Any]:
    """A chat file as Azure's docs write it and Azure runs it: url without /v1, a deployment name as model."""
    return [request(i, chat_body(i, model=deployment, max_tokens=50), url="/chat/completions") for i in range(3)]


def test_an_azure_file_passes_with_an_azure_profile_and_not_without(tmp_path):
    path = write(tmp_path, azure_lines())
    report = validate_file(path, kind="azure")
    assert report.ok and report.requests == 3
    assert (report.endpoint, report.model) == ("/chat/completions", "my-gpt4o-deployment")
    assert report.output_ceiling == 150  # checked and estimated as chat completions
    assert report.cost is None and report.no_price_reason is not None
    assert report.no_price_reason.startswith("no price for my-gpt4o-deployment (an Azure deployment name")
    openai = validate_file(path)
    assert [(p.code, p.line) for p in openai.problems] == [("invalid_url", 1)]
    assert openai.problems[0].describe(path) == (
        f"batch.jsonl line 1: invalid_url: url '/chat/completions' is not a batch endpoint "
        f"({', '.join(BATCH_ENDPOINTS)}); it is Azure's form, valid with a profile of kind azure")
    with pytest.raises(ValueError, match="not a batch endpoint"):
        validate_file(path, endpoint="/chat/completions")
    assert validate_file(path, endpoint="/chat/completions", kind="azure").ok


def test_on_azure_both_url_forms_are_one_endpoint_and_its_rules_are_openais(tmp_path):
    lines = [*azure_lines("gpt-4o-mini"), request(3, chat_body(3, model="gpt-4o-mini", max_tokens=50)),
             request(4, chat_body(4, model="gpt-4o-mini", messages=[{"role": "robot", "content": "hi"}]),
                     url="/chat/completions"),
             request(5, {"model": "gpt-4o-mini", "input": "hi"}, url="/embeddings")]
    report = validate_file(write(tmp_path, lines), kind="azure")
    assert [(p.line, p.code) for p in report.problems] == [(5, "invalid_value"), (6, "invalid_url")]
    assert report.cost is not None  # a deployment named as its model is priced as that model
    assert validate_file(write(tmp_path, [request(0, url="/v1/moderations")]), kind="azure").problems[0].code \
        == "invalid_url"  # Azure runs batches for chat, embeddings and responses only
    embeddings = [embedding(i, ["a", "b"]) | {"url": "/embeddings"} for i in range(3)]
    assert validate_file(write(tmp_path, embeddings), kind="azure", max_embedding_inputs=5).problems[0].code \
        == "too_many_tasks"

"""Reading request and result lines: real lines from the sandbox for every endpoint, hostile lines
written by hand, and property tests that no line, however odd, makes a reader raise."""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai import OpenAI

from batchtui.core.domain import CHAT, COMPLETIONS, EMBEDDINGS, MODERATIONS, RESPONSES
from batchtui.core.results.records import (
    ENDPOINTS,
    Message,
    Part,
    RequestView,
    ResponseView,
    Unreadable,
    answer_text,
    first_line,
    last_message_text,
    pretty_json,
    prompt_text,
    read_request,
    read_response,
)
from batchtui.sandbox import SandboxConfig, SandboxServer, fake_model
from batchtui.sandbox.generation import STOPPED_ERRORS

PNG_DATA_URL = "data:image/png;base64," + base64.b64encode(b"\x89PNG" + bytes(12 * 1024 - 4)).decode()
Pair = tuple[bytes, bytes]


def request(url: str, body: Any, custom_id: str = "r-1") -> bytes:
    return orjson.dumps({"custom_id": custom_id, "method": "POST", "url": url, "body": body})


def result(body: Any, status: int = 200, custom_id: str = "r-1") -> bytes:
    response = {"status_code": status, "request_id": "req_abc", "body": body}
    return orjson.dumps({"id": "batch_req_1", "custom_id": custom_id, "response": response, "error": None})


def chat_answer(message: dict[str, Any], finish: str = "stop") -> bytes:
    choice = {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
    return result({"object": "chat.completion", "model": "gpt-4o-mini", "choices": [choice]})


def run_batch(client: OpenAI, endpoint: str, bodies: list[dict[str, Any]]) -> list[Pair]:
    """Run one batch through the sandbox with the official SDK; (input line, result line) per request."""
    lines = [request(endpoint, body, f"{endpoint}-{i}") for i, body in enumerate(bodies)]
    uploaded = client.files.create(file=("in.jsonl", b"\n".join(lines) + b"\n"), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint=endpoint, completion_window="24h")  # type: ignore[arg-type]
    while batch.status not in ("completed", "failed", "expired", "cancelled"):
        time.sleep(0.02)
        batch = client.batches.retrieve(batch.id)
    assert batch.status == "completed", batch.errors
    results = {}
    for file_id in (batch.output_file_id, batch.error_file_id):
        if file_id:
            for line in client.files.content(file_id).content.splitlines():
                results[orjson.loads(line)["custom_id"]] = line
    return [(line, results[orjson.loads(line)["custom_id"]]) for line in lines]


BATCHES: dict[str, list[dict[str, Any]]] = {
    CHAT: [
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Summarise the history of Rome."}]},
        {
            "model": "gpt-4o-mini",
            "temperature": 0.2,
            "n": 2,
            "messages": [
                {"role": "system", "content": "You classify support tickets."},
                {"role": "user", "content": [{"type": "text", "text": "My parcel is late."}]},
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": PNG_DATA_URL}}]},
            ],
        },
        {"model": "gpt-4o-mini", "max_tokens": 2, "messages": [{"role": "user", "content": "Explain everything."}]},
    ],
    RESPONSES: [
        {"model": "o4-mini", "input": "Translate 'bonjour tout le monde' to English."},
        {
            "model": "o4-mini",
            "instructions": "Answer briefly.",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "What is a photon?"}]}],
        },
    ],
    COMPLETIONS: [{"model": "gpt-3.5-turbo-instruct", "prompt": "Once upon a time", "max_tokens": 40}],
    EMBEDDINGS: [
        {"model": "text-embedding-3-large", "input": "a sentence to embed"},
        {"model": "text-embedding-3-large", "input": ["one", "two", "three", "four"]},
        {"model": "text-embedding-3-large", "input": "packed", "encoding_format": "base64"},
    ],
    MODERATIONS: [
        {"model": "omni-moderation-latest", "input": "I will kill you, you idiot"},
        {"model": "omni-moderation-latest", "input": "What a lovely day."},
    ],
}


@pytest.fixture(scope="module")
def sandbox_lines() -> Iterator[dict[str, list[Pair]]]:
    """Real lines for every endpoint, plus failed chat lines from a sandbox that rejects them all."""
    with (
        SandboxServer(SandboxConfig(speed=1000)) as good,
        SandboxServer(SandboxConfig(speed=1000, fail_rate=1.0)) as bad,
    ):
        with OpenAI(api_key="sk-test", base_url=good.base_url, max_retries=0) as client:
            lines = {endpoint: run_batch(client, endpoint, bodies) for endpoint, bodies in BATCHES.items()}
        with OpenAI(api_key="sk-test", base_url=bad.base_url, max_retries=0) as client:
            lines["failed"] = run_batch(client, CHAT, BATCHES[CHAT])
        yield lines


def body_of(line: bytes) -> dict[str, Any]:
    return orjson.loads(line)["response"]["body"]


def test_chat_lines_from_the_sandbox(sandbox_lines):
    (plain_in, plain_out), (multi_in, multi_out), (_, short_out) = sandbox_lines[CHAT]
    view = read_response(plain_out)
    assert isinstance(view, ResponseView)
    assert (view.endpoint, view.status_code, view.model) == (CHAT, 200, "gpt-4o-mini-2024-07-18")
    assert view.request_id.startswith("req_") and view.custom_id == "/v1/chat/completions-0"
    assert view.finish_reason == "stop" and view.refusal is None and view.error_code is None
    content = body_of(plain_out)["choices"][0]["message"]["content"]
    assert view.answer == (Message("assistant", (Part("text", content),)),)
    assert answer_text(plain_out) == content
    assert [k for k, _ in view.usage] == ["prompt_tokens", "completion_tokens", "total_tokens"]
    assert prompt_text(plain_in) == "Summarise the history of Rome."

    request_view = read_request(multi_in)
    assert isinstance(request_view, RequestView) and request_view.known
    assert request_view.params == (("temperature", "0.2"), ("n", "2"))
    assert request_view.messages[2].parts == (Part("image", "inline image/png, 12 KB"),)
    assert prompt_text(multi_in) == (
        "system: You classify support tickets.\nuser: My parcel is late.\nuser: [image: inline image/png, 12 KB]"
    )
    two = read_response(multi_out)
    assert [m.name for m in two.answer] == ["choice 0", "choice 1"]
    assert answer_text(multi_out).count("\n") >= 1
    assert read_response(short_out).finish_reason == "length"


def test_responses_lines_from_the_sandbox(sandbox_lines):
    (first_in, first_out), (second_in, second_out) = sandbox_lines[RESPONSES]
    view = read_response(first_out)
    assert view.endpoint == RESPONSES and view.finish_reason == "completed"
    text = body_of(first_out)["output"][-1]["content"][0]["text"]
    assert answer_text(first_out) == text
    usage = dict(view.usage)
    assert usage["reasoning_tokens"] > 0 and usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert prompt_text(first_in) == "Translate 'bonjour tout le monde' to English."
    assert prompt_text(second_in) == "instructions: Answer briefly.\nuser: What is a photon?"
    assert read_response(second_out).answer[0].role == "assistant"


def test_completions_embeddings_and_moderations_from_the_sandbox(sandbox_lines):
    [(prompt_in, completion_out)] = sandbox_lines[COMPLETIONS]
    assert prompt_text(prompt_in) == "Once upon a time"
    assert answer_text(completion_out) == body_of(completion_out)["choices"][0]["text"]
    assert read_response(completion_out).endpoint == COMPLETIONS

    (one_in, one_out), (four_in, four_out), (_, packed_out) = sandbox_lines[EMBEDDINGS]
    vector = body_of(one_out)["data"][0]["embedding"]
    first = ", ".join(f"{v:.4f}" for v in vector[:8])
    assert read_response(one_out).notes == (f"embedding 0: 3,072 dimensions: {first}, … (first 8)",)
    assert answer_text(one_out) == f"embedding 0: 3,072 dimensions: {first}, … (first 8)"
    assert prompt_text(one_in) == "a sentence to embed"
    assert prompt_text(four_in) == "one\ntwo\nthree\nfour"
    notes = read_response(four_out).notes
    assert notes[0] == "4 embeddings" and notes[-1] == "… and 1 more" and len(notes) == 5
    packed = base64.b64decode(body_of(packed_out)["data"][0]["embedding"])
    values = ", ".join(f"{v:.4f}" for v in struct.unpack("<8f", packed[:32]))
    assert read_response(packed_out).notes == (f"embedding 0 (base64): 3,072 dimensions: {values}, … (first 8)",)

    (_, threat_out), (_, calm_out) = sandbox_lines[MODERATIONS]
    [note] = read_response(threat_out).notes
    assert note.startswith("moderation: flagged: ") and "violence (0." in note and "harassment (0." in note
    assert read_response(calm_out).notes == ("moderation: not flagged",)
    assert read_response(calm_out).endpoint == MODERATIONS


def test_failed_lines_from_the_sandbox(sandbox_lines):
    for _, line in sandbox_lines["failed"]:
        view = read_response(line)
        error = body_of(line)["error"]
        assert view.status_code in (400, 500) and view.answer == () and view.endpoint is None
        assert (view.error_code, view.error_message) == (error["code"] or error["type"], error["message"])
        assert answer_text(line) == ""


@pytest.mark.parametrize("code", sorted(STOPPED_ERRORS))
def test_expired_and_cancelled_lines(code):
    line = orjson.dumps(
        {
            "id": "batch_req_1",
            "custom_id": "r-9",
            "response": None,
            "error": {"code": code, "message": STOPPED_ERRORS[code]},
        }
    )
    view = read_response(line)
    assert (view.status_code, view.error_code, view.error_message) == (None, code, STOPPED_ERRORS[code])
    assert view.custom_id == "r-9" and view.answer == () and answer_text(line) == ""


HOSTILE = [
    "[b]bold[/] [link=https://evil]x[/link]",
    "\x1b[31mred\x1b[0m",
    "\x1b]52;c;cm0gLXJmIH4=\x07",
    "مرحبا بالعالم \u202eevil\u202c",
    "nul\x00byte",
    "line one\r\nline two",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_returned_literally(text):
    req = request(CHAT, {"model": "m", "messages": [{"role": "user", "content": text}]})
    assert prompt_text(req) == text
    assert answer_text(chat_answer({"content": text})) == text
    assert text in pretty_json(req) or orjson.dumps(text).decode()[1:-1] in pretty_json(req)


def test_a_one_megabyte_line():
    text = "word " * 200_000
    req = request(RESPONSES, {"model": "m", "input": text})
    assert len(req) > 1_000_000
    assert prompt_text(req) == text
    assert answer_text(chat_answer({"content": text})) == text
    assert pretty_json(req).count("\n") == 8


def test_lines_that_are_not_json_objects():
    assert read_request(None) == Unreadable("no request line")
    assert read_response(None) == Unreadable("no response line")
    for line in (b"", b"{not json", b'{"custom_id": "\xff\xfe"}', b"\xc3\x28", b'"\\ud800"'):
        assert isinstance(read_request(line), Unreadable) and isinstance(read_response(line), Unreadable)
        assert prompt_text(line) == answer_text(line) == ""
    assert read_request(b"[1, 2]") == Unreadable("a JSON list, not an object")
    assert read_request(b"{oops").reason.startswith("not valid JSON")
    assert pretty_json(b'{"a": "\xff"}') == '{"a": "\ufffd"}'
    assert pretty_json(None) == ""


def test_pretty_json_indents_by_two():
    assert pretty_json(b'{"a":[1,{"b":null}]}') == '{\n  "a": [\n    1,\n    {\n      "b": null\n    }\n  ]\n}'


TOOL_CHAT = {
    "model": "gpt-4o",
    "tools": [{"type": "function", "function": {"name": "weather"}}],
    "messages": [
        {
            "role": "user",
            "name": "ana",
            "content": [
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                {"type": "input_audio", "input_audio": {"data": "A" * 4096, "format": "wav"}},
                {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,AAAA"}},
                {"type": "video", "video": {}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ],
}
RESPONSES_ITEMS = {
    "model": "o3",
    "input": [
        {"role": "user", "content": [{"type": "input_image", "image_url": PNG_DATA_URL}]},
        {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": '{"q":1}'},
        {"type": "function_call_output", "call_id": "c1", "output": "42"},
    ],
}
RESPONSES_OUTPUT = {
    "object": "response",
    "status": "incomplete",
    "incomplete_details": {"reason": "max_output_tokens"},
    "output": [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Thinking about it."}]},
        {"type": "function_call", "name": "lookup", "arguments": '{"q":2}'},
        {"type": "message", "role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
        {"type": "web_search_call", "status": "completed"},
    ],
    "usage": {"input_tokens": 5, "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 0}},
}
WEATHER_CALL = {"id": "c2", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Paris"}'}}


def test_chat_tool_calls_refusals_and_media():
    view = read_request(request("/chat/completions", TOOL_CHAT))
    assert view.known and view.endpoint == "/chat/completions"
    assert view.params == (("tools", '[{"type":"function","function":{"name":"weather"}}]'),)
    user, assistant, tool = view.messages
    assert user.name == "ana" and user.parts == (
        Part("image", "https://example.com/cat.png"),
        Part("audio", "inline wav, 3 KB"),
        Part("file", "a.pdf, inline application/pdf, 3 bytes"),
        Part("other", "video"),
    )
    assert assistant.tool_calls == ("weather({})",) and tool == Message("tool", (Part("text", "sunny"),), name="c1")
    answer = chat_answer({"content": None, "tool_calls": [WEATHER_CALL]}, finish="tool_calls")
    assert answer_text(answer) == 'weather({"city":"Paris"})'
    assert read_response(answer).finish_reason == "tool_calls"
    refused = chat_answer({"content": None, "refusal": "I can't help with that."})
    assert read_response(refused).refusal == answer_text(refused) == "I can't help with that."


def test_responses_items_reasoning_and_function_calls():
    assert prompt_text(request(RESPONSES, RESPONSES_ITEMS)) == (
        'user: [image: inline image/png, 12 KB]\nassistant: lookup({"q":1})\ntool: 42'
    )
    line = result(RESPONSES_OUTPUT)
    view = read_response(line)
    assert view.notes == ("reasoning summary: Thinking about it.",)
    assert view.finish_reason == "max_output_tokens" and view.refusal == "No."
    assert view.usage == (("input_tokens", 5), ("output_tokens", 7))
    assert [m.role for m in view.answer] == ["assistant", "web_search_call"]
    assert answer_text(line).startswith('lookup({"q":2})\n[other: {"type":"web_search_call"')


def test_unknown_endpoints_and_odd_fields_fall_back():
    image = read_request(request("/v1/images/generations", {"model": "gpt-image-1", "prompt": "a cat"}))
    assert not image.known and image.messages == () and image.params == (("prompt", "a cat"),)
    assert read_response(result({"created": 1, "data": [{"b64_json": "AAAA"}]})).endpoint is None
    odd = read_request(request(CHAT, {"model": 3, "messages": "hi"}))
    assert odd.model is None and odd.messages == () and odd.params == (("messages", "hi"),)
    nested = b'{"url": "/v1/chat/completions", "body": {"messages": [], "x": ' + b"[" * 400 + b"]" * 400 + b"}}"
    assert read_request(nested).params == (("x", "(too deeply nested to show)"),)
    assert pretty_json(nested) == nested.decode()
    odd_error = result({"error": {"code": None, "type": "server_error", "message": 5, "param": "messages"}}, 500)
    view = read_response(odd_error)
    assert (view.error_code, view.error_message, view.notes) == ("server_error", None, ("param: messages",))


def test_first_line():
    assert first_line("\n  \nhello\r\nworld") == "hello"
    assert first_line("") == first_line("\n\n") == ""
    assert first_line("one") == "one"


SHAPE_KEYS = (
    "url", "body", "messages", "role", "content", "type", "text", "image_url", "input", "output", "choices",
    "message", "tool_calls", "function", "arguments", "data", "embedding", "results", "categories", "usage",
    "response", "status_code", "error", "code",
)  # fmt: skip
TYPE_NAMES = (
    "message", "function_call", "reasoning", "text", "input_image", "image_url", "input_audio", "file", "refusal",
    "chat.completion", "response", "text_completion", "list", "data:image/png;base64,AA=",
)  # fmt: skip
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
    | st.sampled_from(TYPE_NAMES + ENDPOINTS)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(SHAPE_KEYS), inner, max_size=6),
    max_leaves=40,
)


def _fake_body(endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    return fake_model.answer(endpoint, body, fake_model.digest_of(orjson.dumps(body)), 0, 0.0).body


REQUESTS = [(url, body) for url, bodies in BATCHES.items() for body in bodies] + [
    (CHAT, TOOL_CHAT),
    (RESPONSES, RESPONSES_ITEMS),
    (MODERATIONS, {"input": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "x"}}]}),
]
RESPONSE_BODIES = [
    _fake_body(url, {**body, "dimensions": 12} if url == EMBEDDINGS else body) for url, body in REQUESTS[:-3]
] + [
    RESPONSES_OUTPUT,
    {"choices": [{"index": 0, "message": {"content": None, "refusal": "no", "tool_calls": [WEATHER_CALL]}}]},
    {"error": {"code": "invalid_value", "message": "bad", "param": "temperature", "type": "invalid_request_error"}},
]


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """A template with random subtrees replaced by arbitrary JSON, dropped, or kept as they are."""
    if draw(st.integers(0, 7)) == 0:
        return draw(json_values)
    if isinstance(value, dict):
        return {k: draw(mutated(v)) for k, v in value.items() if draw(st.integers(0, 7))}
    if isinstance(value, list):
        return [draw(mutated(v)) for v in value[:6]]
    return value


def check(view: RequestView | ResponseView | Unreadable) -> None:
    """Every field has its declared type, whatever the line held."""
    if isinstance(view, Unreadable):
        assert isinstance(view.reason, str)
        return
    messages = view.messages if isinstance(view, RequestView) else view.answer
    for message in messages:
        assert isinstance(message.role, str) and all(isinstance(c, str) for c in message.tool_calls)
        assert all(
            isinstance(p.text, str) and p.kind in ("text", "image", "audio", "file", "other") for p in message.parts
        )
    if isinstance(view, RequestView):
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in view.params)
    else:
        assert all(isinstance(n, int) for _, n in view.usage) and all(isinstance(n, str) for n in view.notes)


def check_line(line: bytes) -> None:
    check(read_request(line))
    check(read_response(line))
    assert isinstance(prompt_text(line), str) and isinstance(answer_text(line), str)
    assert isinstance(pretty_json(line), str)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(REQUESTS).flatmap(lambda r: st.tuples(st.just(r[0]), mutated(r[1]))))
def test_no_mutated_request_makes_a_reader_raise(url_and_body):
    url, body = url_and_body
    check_line(request(url, body))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(RESPONSE_BODIES).flatmap(mutated), json_values)
def test_no_mutated_result_makes_a_reader_raise(body, error):
    check_line(result(body))
    check_line(orjson.dumps({"response": {"status_code": 400, "body": body}, "error": error}))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, json_values)
def test_no_json_makes_a_reader_raise(body, error):
    lines = [
        orjson.dumps(body),
        orjson.dumps({"custom_id": "x", "url": CHAT, "body": body}),
        orjson.dumps({"response": {"status_code": 200, "body": body}, "error": error}),
    ]
    for line in lines:
        check_line(line)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_no_bytes_make_a_reader_raise(line):
    check_line(line)


def test_last_message_text_tells_requests_apart():
    line = orjson.dumps({"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {
        "model": "m", "messages": [{"role": "system", "content": "Same for all."},
                                   {"role": "user", "content": [{"type": "text", "text": "Item 7."}]}]}})
    assert last_message_text(line) == "Item 7."
    assert last_message_text(b"not json") == "" and last_message_text(None) == ""

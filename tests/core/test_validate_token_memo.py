"""Validation encodes a text its lines repeat (a system prompt) once, not on every line, and counts the same."""

from __future__ import annotations

import hashlib

import orjson
import tiktoken
import tiktoken.load

from batchtui.core.authoring import validate
from batchtui.core.authoring.validate import validate_file
from batchtui.core.insights import pricing

SYSTEM = "You label support tickets with one word."


class CountingEncoding:
    """One token a word, and each text it was asked to encode."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode_ordinary(self, text: str) -> list[int]:
        self.seen.append(text)
        return list(range(len(text.split())))


def refuse(*args: object, **kwargs: object) -> bytes:
    raise AssertionError("network access attempted")


def test_a_repeated_text_is_encoded_once_and_counted_on_every_line(tmp_path, monkeypatch):
    blob = b"an encoding file"
    url = "https://openaipublic.example/o200k_base.tiktoken"
    monkeypatch.setitem(pricing._TIKTOKEN_FILES, "o200k_base", (url, hashlib.sha256(blob).hexdigest()))
    (tmp_path / "tiktoken").mkdir()
    (tmp_path / "tiktoken" / hashlib.sha1(url.encode()).hexdigest()).write_bytes(blob)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken"))
    monkeypatch.setattr(tiktoken.load, "read_file", refuse)
    encoding = CountingEncoding()
    monkeypatch.setattr(tiktoken, "get_encoding", lambda name: encoding)
    long_text = "word " * validate._MEMO_CHARS  # over the length kept: encoded on each line it is on
    lines = []
    for i in range(300):
        user = long_text if i % 100 == 0 else f"ticket {i} is about billing"
        body = {"model": "gpt-4o-mini", "max_tokens": 1,
                "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]}
        lines.append(orjson.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
                                   "body": body}) + b"\n")
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"".join(lines))

    report = validate_file(path)
    assert report.ok and report.token_method == "tiktoken o200k_base"
    assert encoding.seen.count(SYSTEM) == 1
    assert encoding.seen.count(long_text) == 3
    words = 297 * 5 + 3 * validate._MEMO_CHARS
    assert report.input_tokens == 300 * len(SYSTEM.split()) + words + 300 * (2 * 3 + 3)  # + each line's framing

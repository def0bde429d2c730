"""The curl command: run through a real /bin/sh, whose arguments must come back byte for byte, and
once through real curl against a loopback server that records what it received."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchtui.core.errors import BatchtuiError
from batchtui.core.results.curl import NotARequestError, curl_command

KEY = "sk-test 'quoted' $HOME `id` \"x\""


def line(prompt: str, url: str = "/v1/chat/completions") -> bytes:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}
    return orjson.dumps({"custom_id": "r-1", "method": "POST", "url": url, "body": body})


def shell_args(command: str) -> list[bytes]:
    """The arguments /bin/sh passes to curl, caught by printf with curl's name swapped for it."""
    assert command.startswith("curl ")
    probe = "printf '%s\\0'" + command.removeprefix("curl")
    done = subprocess.run(["/bin/sh", "-c", probe], capture_output=True, env={"OPENAI_API_KEY": KEY}, check=True)
    return done.stdout.split(b"\0")[:-1]


def expected_args(request_line: bytes, url: str) -> list[bytes]:
    body = orjson.dumps(orjson.loads(request_line)["body"])
    return [
        b"-sS",
        url.encode(),
        b"-H",
        f"Authorization: Bearer {KEY}".encode(),
        b"-H",
        b"Content-Type: application/json",
        b"-d",
        body,
    ]


@pytest.mark.parametrize(
    "prompt",
    ["it's", "$HOME and ${PATH} and $(id)", "`id`", "a\nb\r\n", "'; rm -rf ~; '", "\\'\"", "مرحبا 🙂", "\x00\x1b]52"],
)
def test_the_shell_passes_the_body_unchanged(prompt):
    request_line = line(prompt)
    args = shell_args(curl_command(request_line, "https://api.openai.com/v1"))
    assert args == expected_args(request_line, "https://api.openai.com/v1/chat/completions")
    assert orjson.loads(args[-1])["messages"][0]["content"] == prompt


@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(exclude_categories=["Cs"])))
def test_any_prompt_survives_the_shell(prompt):
    request_line = line(prompt)
    args = shell_args(curl_command(request_line, "http://127.0.0.1:9/v1"))
    assert args == expected_args(request_line, "http://127.0.0.1:9/v1/chat/completions")


@pytest.mark.parametrize(
    ("base_url", "url", "joined"),
    [
        ("https://api.openai.com/v1", "/v1/embeddings", "https://api.openai.com/v1/embeddings"),
        ("https://api.openai.com/v1/", "/v1/responses", "https://api.openai.com/v1/responses"),
        (
            "https://x.openai.azure.com/openai/v1",
            "/chat/completions",
            "https://x.openai.azure.com/openai/v1/chat/completions",
        ),
        ("http://localhost:8000/api", "/v1/completions", "http://localhost:8000/api/completions"),
    ],
)
def test_url_joins_like_the_sdk(base_url, url, joined):
    assert shell_args(curl_command(line("hi", url), base_url))[1] == joined.encode()


def test_an_azure_profile_gets_the_deployment_url_and_its_key_header():
    command = curl_command(line("hi"), "https://x.openai.azure.com/", azure_api_version="2025-04-01-preview")
    args = shell_args(command)
    assert args[1] == b"https://x.openai.azure.com/openai/deployments/gpt-4o-mini/chat/completions" \
                      b"?api-version=2025-04-01-preview"
    assert '"api-key: $AZURE_OPENAI_API_KEY"' in command and b"api-key: " in args  # the shell expands it
    assert b"Authorization" not in b" ".join(args)
    with pytest.raises(NotARequestError, match="no \"model\""):
        curl_command(b'{"url": "/v1/chat/completions", "body": {}}', "https://x", azure_api_version="v")


def test_the_key_is_never_in_the_command():
    command = curl_command(line("hi"), "https://api.openai.com/v1")
    assert '"Authorization: Bearer $OPENAI_API_KEY"' in command and "sk-" not in command


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1]", 'no "url"'),
        (b'{"url": 3, "body": {}}', 'no "url"'),
        (b'{"url": "/v1/chat/completions"}', 'no "body"'),
        (b'{"url": "/v1/chat/completions", "body": "text"}', 'no "body"'),
        (b'{"url": "/v1/x", "body": {"a": ' + b"[" * 400 + b"]" * 400 + b"}}", "nested too deeply"),
    ],
)
def test_unusable_lines_say_why(bad, words):
    with pytest.raises(NotARequestError, match=words) as caught:
        curl_command(bad, "https://api.openai.com/v1")
    assert isinstance(caught.value, BatchtuiError) and "\n" not in str(caught.value)


class Recorder(BaseHTTPRequestHandler):
    """Answers every POST with {"ok": true} and keeps what came in on the server object."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append((self.path, dict(self.headers), body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_real_curl_sends_the_request(recorder):
    prompt = 'it\'s $HOME `id` "q" 🙂\nnext line'
    request_line = line(prompt)
    base_url = f"http://127.0.0.1:{recorder.server_address[1]}/v1"
    done = subprocess.run(
        ["/bin/sh", "-c", curl_command(request_line, base_url)],
        capture_output=True,
        env={"OPENAI_API_KEY": "sk-real-test", "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert orjson.loads(done.stdout) == {"ok": True}
    [(path, headers, body)] = recorder.seen
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-real-test" and headers["Content-Type"] == "application/json"
    assert body == orjson.dumps(orjson.loads(request_line)["body"])

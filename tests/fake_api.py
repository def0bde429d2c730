"""A tiny loopback HTTP server whose answers a test writes: for what the sandbox never does on purpose (wrong
types, huge values, pages in a circle, a connection dropped after a file was stored). The official SDK talks
to it as to the API."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import orjson

DROP = "drop"
"""An answer that closes the connection without a response (after the request body was read)."""


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes


Answer = tuple[int, object] | str
Handler = Callable[[Request], Answer]


@dataclass
class FakeApi:
    """`base_url` to give a profile; `requests` records every request, in order."""

    base_url: str
    requests: list[Request] = field(default_factory=list)

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.path == path)


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("transfer-encoding", "").lower() != "chunked":
        return handler.rfile.read(int(handler.headers.get("content-length") or 0))
    body = bytearray()
    while size := int(handler.rfile.readline().split(b";")[0], 16):
        body += handler.rfile.read(size)
        handler.rfile.readline()
    handler.rfile.readline()
    return bytes(body)


@contextmanager
def fake_api(handle: Handler) -> Iterator[FakeApi]:
    """Serve `handle` on 127.0.0.1 in a thread: it gets each Request and answers (status, JSON value or bytes),
    or DROP."""
    api = FakeApi("")

    class Serve(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _serve(self) -> None:
            url = urlsplit(self.path)
            request = Request(self.command, url.path, dict(parse_qsl(url.query)), _read_body(self))
            api.requests.append(request)
            answer = handle(request)
            if answer == DROP:
                self.close_connection = True
                return
            status, payload = answer
            data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client that gave up before the answer (a timeout test) is no news

    server = Server(("127.0.0.1", 0), Serve)
    api.base_url = f"http://127.0.0.1:{server.server_port}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()

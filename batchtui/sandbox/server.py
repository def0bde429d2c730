"""Run the sandbox: uvicorn on a background thread with its own event loop (SandboxServer), or in
the foreground until interrupted (run_forever, for `batchtui sandbox`)."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from .app import create_app
from .config import FaultConfig, SandboxConfig
from .runtime import SandboxRuntime


class _QuietDrops(logging.Filter):
    """Hide uvicorn's tracebacks for connections the fault injector cut on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionAbortedError)


class SandboxServer:
    """A local OpenAI-compatible Batch + Files API; `base_url` is ready once `start()` returns."""

    def __init__(self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SandboxConfig()
        self.host = host
        self.port = port
        self.runtime: SandboxRuntime | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> SandboxServer:
        """Bind, start the engine and uvicorn; returns once the server accepts connections.

        The socket is made with IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections;
        without it every answer waits ~40 ms on delayed ACKs.
        """
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        self.runtime = SandboxRuntime(self.config)
        self.runtime.start()
        logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
        config = uvicorn.Config(
            create_app(self.runtime),
            http="h11",
            lifespan="off",
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            server_header=False,
            date_header=True,
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, args=(sock,), name="sandbox-http", daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                self.runtime.close()
                raise RuntimeError(f"sandbox server failed to start: {self._error!r}")
            time.sleep(0.005)
        return self

    def _serve(self, sock: socket.socket) -> None:
        assert self._server is not None
        try:
            asyncio.run(self._server.serve(sockets=[sock]))
        except BaseException as exc:
            self._error = exc
        finally:
            sock.close()

    def stop(self) -> None:
        """Stop accepting, finish open requests, stop the engine and save state; idempotent."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self.runtime is not None:
            self.runtime.close()
            self.runtime = None
        self._server = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _rt(self) -> SandboxRuntime:
        if self.runtime is None:
            raise RuntimeError("sandbox server is not running")
        return self.runtime

    def stats(self) -> dict[str, int]:
        """Requests received per route name since start or the last reset, faulted ones included."""
        return self._rt().stats.snapshot()

    def reset_stats(self) -> None:
        self._rt().stats.reset()

    def set_faults(self, faults: FaultConfig | None) -> None:
        self._rt().set_faults(faults)

    def expire_now(self, batch_id: str) -> dict[str, Any]:
        """End the batch's completion window now: it becomes expired with its finished lines kept."""
        rt = self._rt()
        return rt.batch_body(rt.expire_batch(batch_id))


def run_forever(
    cfg: SandboxConfig,
    host: str = "127.0.0.1",
    port: int = 8750,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM, then shut down cleanly; `on_ready` hears the base URL. Prints nothing.

    The signals are blocked before the server threads start (they inherit the mask) and awaited
    with sigwait, so the main thread, not a worker, receives them at once.
    """
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    server = SandboxServer(cfg, host, port)
    try:
        server.start()
        if on_ready is not None:
            on_ready(server.base_url)
        signal.sigwait(stop_signals)
    finally:
        server.stop()
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)

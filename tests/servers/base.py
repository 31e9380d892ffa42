"""Run an ASGI app with uvicorn on a free loopback port in a background thread, and log requests.

The socket is bound before the server starts (port 0, so the OS picks a free port), which leaves
no window for another process to take the port. uvicorn's logging config is left alone
(``log_config=None``) so the tests' log capture keeps working.

Example:
    >>> with BackgroundServer(app) as server:  # doctest: +SKIP
    ...     httpx.get(server.url + "/health")
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

import uvicorn
from starlette.requests import Request
from starlette.types import ASGIApp

__all__ = ["BackgroundServer", "RecordedRequest", "RequestLog", "free_port"]

_Server = TypeVar("_Server", bound="BackgroundServer")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for servers we cannot hand a socket)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it.

    Attributes:
        method: HTTP method.
        path: URL path.
        headers: Request headers (lower-case names).
        body: The JSON body, or None when there was none (or it was not JSON).
        at: ``time.monotonic()`` when it arrived.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)


class RequestLog:
    """Thread-safe list of the requests a server got (the server thread writes, tests read)."""

    def __init__(self) -> None:
        self._items: list[RecordedRequest] = []
        self._lock = threading.Lock()

    async def record(self, request: Request) -> RecordedRequest:
        """Read ``request``'s body and remember it."""
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        item = RecordedRequest(request.method, request.url.path, dict(request.headers), body)
        with self._lock:
            self._items.append(item)
        return item

    def __call__(self, path: str | None = None) -> list[RecordedRequest]:
        """The requests so far, optionally only those to ``path``."""
        with self._lock:
            return [r for r in self._items if path is None or r.path == path]

    def clear(self) -> None:
        """Forget every request."""
        with self._lock:
            self._items.clear()


class BackgroundServer:
    """An ASGI app served by uvicorn on ``127.0.0.1:<free port>`` (or a Unix socket) in a
    daemon thread.

    Args:
        app: The ASGI application.
        uds: Serve on this Unix socket path instead of a loopback port.
    """

    def __init__(self, app: ASGIApp, uds: str | None = None) -> None:
        self.app = app
        self.uds = uds
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, or ``http+unix://<quoted path>`` (no trailing slash)."""
        if self.uds:
            from urllib.parse import quote

            return f"http+unix://{quote(self.uds, safe='')}"
        return f"http://127.0.0.1:{self.port}"

    def _bind(self) -> socket.socket:
        if self.uds:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(self.uds)
            return sock
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        return sock

    def start(self: _Server, timeout_s: float = 10.0) -> _Server:
        """Bind, start serving and wait until the server accepts connections."""
        sock = self._bind()
        config = uvicorn.Config(
            self.app,
            log_config=None,
            log_level="critical",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=f"server-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"test server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Ask the server to exit and wait for its thread."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self: _Server) -> _Server:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

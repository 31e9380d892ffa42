"""A fast stub OpenAI-compatible server for the benchmarks (not a test fixture).

It answers every ``POST .../chat/completions`` with the same fixed chat completion (usage
included) and ``GET .../models`` with a one-model list, over HTTP/1.1 keep-alive, on a bare
``asyncio.Protocol``: no framework, so the server costs as little as possible and the benchmarks
measure the client side. Streaming is not supported (the benchmarks do not stream).

Run it in its own process so it does not share the client's event loop or CPU time slice::

    with serve_in_subprocess() as base_url:   # "http://127.0.0.1:PORT/v1"
        ...

or from a shell: ``python benchmarks/_stub_server.py --port 8765``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["CHAT_COMPLETION", "free_port", "serve", "serve_in_subprocess"]

CHAT_COMPLETION = {
    "id": "chatcmpl-stub",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "stub",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "The capital of France is Paris."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 14, "completion_tokens": 8, "total_tokens": 22},
}
MODELS = {"object": "list", "data": [{"id": "stub", "object": "model", "owned_by": "stub"}]}


def _response(status: str, payload: Mapping[str, Any]) -> bytes:
    body = json.dumps(payload).encode()
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


_CHAT = _response("200 OK", CHAT_COMPLETION)
_MODELS = _response("200 OK", MODELS)
_NOT_FOUND = _response("404 Not Found", {"error": {"message": "not found"}})


class _Http(asyncio.Protocol):
    """Parses pipelined HTTP/1.1 requests just far enough to answer them."""

    def __init__(self) -> None:
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if len(self._buffer) < end + 4 + length:
                return
            self._buffer = self._buffer[end + 4 + length :]
            method, path = head.split(" ", 2)[:2]
            assert self._transport is not None
            if method == "POST" and path.rstrip("/").endswith("/chat/completions"):
                self._transport.write(_CHAT)
            elif method == "GET" and path.rstrip("/").endswith("/models"):
                self._transport.write(_MODELS)
            else:
                self._transport.write(_NOT_FOUND)


async def serve(port: int) -> None:
    """Serve on 127.0.0.1:``port`` forever."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Http, "127.0.0.1", port, backlog=4096, reuse_address=True)
    async with server:
        await server.serve_forever()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_in_subprocess() -> Iterator[str]:
    """Start the stub server in a child process; yield its ``base_url`` (ending in ``/v1``)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--port", str(port), "--quiet"], stdin=subprocess.DEVNULL
    )
    try:
        base_url = f"http://127.0.0.1:{port}/v1"
        _wait_until_up(base_url, process)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy


def _wait_until_up(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"stub server exited with code {process.returncode}")
        try:
            with _DIRECT.open(f"{base_url}/models", timeout=2) as reply:
                reply.read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--quiet", action="store_true", help="Print nothing.")
    options = parser.parse_args()
    if not options.quiet:
        print(f"stub OpenAI-compatible server on http://127.0.0.1:{options.port}/v1 (Ctrl-C to stop)")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(options.port))

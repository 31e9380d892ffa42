"""Serve apps on loopback for the tests: in a thread (uvicorn) or as a `fusionsdk serve` process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

__all__ = ["QUICKSTART_FAKE", "AppServer", "RedisServer", "ServeProcess", "serve_process", "write_config"]

#: examples/quickstart.yaml with the fake provider in place of the embedded models.
QUICKSTART_FAKE = """
version: 1
models:
  smol:  {provider: fake, options: {responses: ["Paris is the capital of France."]}}
  gemma: {provider: fake, options: {responses: ["Paris is the capital of France."]}}
  echo:  {provider: fake}
nodes:
  route:
    kind: router
    strategy: rules
    options:
      routes:
        - {target: panel, max_length: 200}
      default: solo
  panel: {kind: panel, models: [smol, gemma], max_tokens: 48, quorum: 1}
  fuse:  {kind: fuse, strategy: majority_vote}
  solo:  {kind: agent, model: smol, max_tokens: 128}
edges:
  - [START, route]
  - [panel, fuse]
  - [fuse, END]
  - [solo, END]
"""


def write_config(folder: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``folder/name`` and return the path."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


class AppServer:
    """An ASGI app on ``127.0.0.1:<free port>`` in a thread, with its lifespan run."""

    def __init__(self, app: Any, graceful_s: float = 5.0) -> None:
        self.app, self.graceful_s = app, graceful_s
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> AppServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            log_config=None,
            log_level="critical",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=self.graceful_s,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the app did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=20)
        self.server = self.thread = None

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServeProcess:
    """``fusionsdk serve CONFIGS`` in a subprocess on a free port; several start in parallel::

    with ServeProcess([path]) as one, ServeProcess([path]) as two:  # both boot at once
        ...
    """

    def __init__(self, configs: Sequence[Path], *args: str, env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-m",
            "fusionsdk.cli.app",
            "serve",
            *map(str, configs),
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            *args,
        ]
        self.process = subprocess.Popen(
            command,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait_ready(self, timeout_s: float = 60) -> str:
        """Wait until ``/health`` answers; returns the base URL."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                output = self.process.stdout.read() if self.process.stdout else ""
                raise RuntimeError(f"fusionsdk serve exited: {output}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("fusionsdk serve did not start")
            time.sleep(0.1)

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()  # SIGTERM: uvicorn's graceful shutdown
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def serve_process(configs: Sequence[Path], *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``fusionsdk serve CONFIGS`` in a subprocess; yields its base URL once it is ready."""
    with ServeProcess(configs, *args, env=env) as process:
        yield process.wait_ready()


class RedisServer:
    """A throwaway ``redis-server`` on a free loopback port, no persistence."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> RedisServer:
        assert self.binary is not None
        self.port = _free_port()
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)

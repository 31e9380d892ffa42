"""Fixtures: the fake quickstart served on loopback (once per module), and a Redis server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from fusionsdk.serve.app import create_app
from tests.serve.helpers import QUICKSTART_FAKE, AppServer, RedisServer, write_config
from tests.servers.fixtures import fault_server, faults  # noqa: F401 - fixtures


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A quickstart.yaml whose models are fakes (served as smol, gemma, echo, graph:quickstart)."""
    return write_config(tmp_path_factory.mktemp("serve"), "quickstart.yaml", QUICKSTART_FAKE)


@pytest.fixture(scope="module")
def served(quickstart: Path) -> Iterator[AppServer]:
    """The fake quickstart behind `fusionsdk serve`'s app, in a thread."""
    with AppServer(create_app([quickstart], environ={})) as server:
        yield server


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A throwaway redis-server on a free loopback port (skips when the binary is missing)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install -y redis-server)")
    with RedisServer() as server:
        yield server

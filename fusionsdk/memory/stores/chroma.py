"""The Chroma stores: ``chroma`` (embedded, on disk), ``chroma_server`` and ``ephemeral``.

Config::

    memory:
      docs:   {store: chroma, path: ./store}                      # embedded, the default
      shared: {store: chroma_server, host: 127.0.0.1, port: 8000}  # `chroma run --path DIR`
      scratch: {store: ephemeral}                                  # in memory, for tests
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any

from pydantic import Field

from fusionsdk.errors import require_extra
from fusionsdk.memory.errors import MemoryStoreError
from fusionsdk.memory.stores._chroma import ChromaOptions, ChromaStore
from fusionsdk.memory.stores._embedded import acquire_client, chroma_settings, release_client

__all__ = ["EphemeralChromaStore", "HttpChromaStore", "PersistentChromaStore"]


class PersistentChromaStore(ChromaStore["PersistentChromaStore.Options"]):
    """Chroma embedded in this process, persisted in a folder (``PersistentClient``).

    One process at a time opens a folder: a second one waits ``lock_timeout_s`` for the file
    lock, then fails with :class:`~fusionsdk.memory.errors.StoreLocked`. Every ``add`` is
    committed when it returns, so a crash loses nothing already added.

    Example:
        >>> store = PersistentChromaStore({"path": "./store", "collection": "docs"})  # doctest: +SKIP
        >>> store.add([Chunk("a", "The sky is blue.")])  # doctest: +SKIP
    """

    class Options(ChromaOptions):
        """Embedded store options.

        Attributes:
            path: The store's folder (created if missing; relative to the config file's folder).
            lock_timeout_s: How long to wait for another process to release the folder.
        """

        path: str = Field(min_length=1)
        lock_timeout_s: float = Field(10.0, ge=0, le=3600)

    @property
    def path(self) -> Path:
        """The store's folder."""
        return Path(self.options.path).expanduser()

    def _connect(self) -> Any:
        if self.path.exists() and not self.path.is_dir():
            raise MemoryStoreError(f"memory store path {self.path} is a file, not a folder")
        return acquire_client(self.path, self.options.lock_timeout_s)

    def _disconnect(self) -> None:
        release_client(self.path)


class HttpChromaStore(ChromaStore["HttpChromaStore.Options"]):
    """A Chroma server (``chroma run --path DIR --port 8000``) through ``HttpClient``; several
    processes can share it.

    Example:
        ``shared: {store: chroma_server, host: 127.0.0.1, port: 8000, collection: docs}``
    """

    class Options(ChromaOptions):
        """Server store options.

        Attributes:
            host: The server's host name or address.
            port: Its HTTP port.
            ssl: Use HTTPS.
        """

        host: str = Field("127.0.0.1", min_length=1)
        port: int = Field(8000, ge=1, le=65535)
        ssl: bool = False

    def _connect(self) -> Any:
        opts: HttpChromaStore.Options = self.options
        chromadb = require_extra("chromadb", "memory", "Chroma memory stores")

        try:
            return chromadb.HttpClient(
                host=opts.host, port=opts.port, ssl=opts.ssl, settings=chroma_settings()
            )
        except Exception as err:  # httpx.ConnectError, ValueError("Could not connect to tenant ...")
            scheme = "https" if opts.ssl else "http"
            raise MemoryStoreError(
                f"cannot reach the Chroma server at {scheme}://{opts.host}:{opts.port}: {err}"
            ) from None


class EphemeralChromaStore(ChromaStore[ChromaOptions]):
    """Chroma in memory (``EphemeralClient``): nothing is written to disk and every store starts
    empty, even with the same collection name. Meant for tests and throw-away runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Chroma shares one in-memory system per process: a private collection keeps stores apart.
        self._private_name = f"{self.options.collection[:480]}-{uuid.uuid4().hex[:16]}"

    def _collection_name(self) -> str:
        return self._private_name

    def _connect(self) -> Any:
        chromadb = require_extra("chromadb", "memory", "Chroma memory stores")

        return chromadb.EphemeralClient(settings=chroma_settings())

    def _disconnect(self) -> None:
        client = self._client
        if client is not None:
            with contextlib.suppress(Exception):  # already gone: nothing to free
                client.delete_collection(self._private_name)

"""Errors of the memory room, all under :class:`~fusionsdk.errors.FusionError`::

    FusionError
    ├── MemoryStoreError     a store could not be opened, written or read
    │   ├── StoreLocked      another process holds the embedded store (lock timed out)
    │   └── IngestError      a file could not be read, parsed or chunked
    └── EmbedderError        an embedder could not load its model or embed the texts

Hosted embedders raise the :class:`~fusionsdk.errors.ProviderError` subclasses instead (mapped at
the LiteLLM boundary), so retries and messages work as for chat models.
"""

from __future__ import annotations

from fusionsdk.errors import FusionError

__all__ = ["EmbedderError", "IngestError", "MemoryStoreError", "StoreLocked"]


class MemoryStoreError(FusionError):
    """A memory store could not be opened, written or read."""


class StoreLocked(MemoryStoreError):
    """Another process has the embedded store open; it was not released within the timeout.

    Args:
        path: The store's folder.
        timeout_s: How long the lock was waited for.
        holder: What the lock file says of its holder (``pid 1234``), when known.
    """

    def __init__(self, path: str, timeout_s: float, holder: str | None = None) -> None:
        self.path, self.timeout_s, self.holder = path, timeout_s, holder
        who = f" by {holder}" if holder else ""
        super().__init__(
            f"memory store {path} is in use{who} and was not released within {timeout_s:g}s; an "
            "embedded store is opened by one process at a time: stop the other process, or serve "
            "the store with 'chroma run' and use 'store: chroma_server'"
        )


class IngestError(MemoryStoreError):
    """A file could not be read, parsed or chunked for ingestion."""


class EmbedderError(FusionError):
    """An embedder could not load its model or embed the texts."""

"""What a memory store holds: chunk count, sources, trust and sensitivity labels."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fusionsdk.memory.base import MemoryStore
from fusionsdk.memory.metadata import is_sensitive

__all__ = ["store_stats"]


def store_stats(store: MemoryStore) -> dict[str, Any]:
    """A JSON-ready summary of ``store``.

    Returns:
        ``chunks`` (count), ``sources`` (chunks per source), ``trust`` (chunks per trust label),
        ``sensitive`` (sensitive chunks), ``store`` (its class) and, for Chroma stores,
        ``collection``, ``embedder`` and ``path``/``host``.
    """
    chunks = store.get()
    sources = Counter(str(c.metadata.get("source", "?")) for c in chunks)
    trust = Counter(str(c.metadata.get("trust", "unlabelled")) for c in chunks)
    summary: dict[str, Any] = {
        "store": type(store).__name__,
        "chunks": store.count(),
        "sources": dict(sorted(sources.items())),
        "trust": dict(sorted(trust.items())),
        "sensitive": sum(1 for c in chunks if is_sensitive(c.metadata)),
    }
    options = store.options.model_dump(mode="json")
    for key in ("collection", "path", "host", "port"):
        if key in options:
            summary[key] = options[key]
    embedder = getattr(store, "embedder", None)
    if embedder is not None:
        summary["embedder"] = embedder.identity
    return summary

"""Embeddings for routers: which embedder to use by default, one instance per configuration,
and unit-length matrices ready for cosine similarity.

Routers name an embedder of ``fusionsdk.embedders``. Left unnamed, they take
:data:`PREFERRED_EMBEDDERS` in order, the first one registered: ``minilm`` (all-MiniLM-L6-v2,
a sentence-transformers model) when its plugin is installed, else the model-free ``hashing``.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionsdk.errors import ConfigError, FusionError

if TYPE_CHECKING:
    from fusionsdk.memory.base import Embedder
    from fusionsdk.registry import Registry

__all__ = ["PREFERRED_EMBEDDERS", "default_embedder", "embed_unit", "shared_embedder"]

#: Embedders a router uses when none is named, best first.
PREFERRED_EMBEDDERS = ("minilm", "hashing")


def default_embedder(registry: Registry) -> str:
    """The first of :data:`PREFERRED_EMBEDDERS` in ``registry`` that loads and embeds
    (``minilm`` is registered by fusionsdk but needs sentence-transformers, so it is tried on a
    word before it is chosen).

    Raises:
        ConfigError: None of them works.
    """
    tried = []
    for name in PREFERRED_EMBEDDERS:
        try:
            shared_embedder(name, registry=registry).embed(["probe"])
        except (FusionError, ImportError) as err:
            tried.append(f"{name}: {err}")
            continue
        return name
    raise ConfigError(f"no embedder works ({'; '.join(tried)})", path="embedder")


_LOCK = threading.Lock()


@functools.lru_cache(maxsize=16)
def _cached(registry: Registry, name: str, options_json: str) -> Embedder:
    from fusionsdk.fusion.similarity import load_embedder

    return load_embedder(name, json.loads(options_json), registry=registry)


def shared_embedder(
    name: str, options: dict[str, Any] | None = None, path: str = "options", *, registry: Registry
) -> Embedder:
    """The embedder ``name`` of ``registry`` built with ``options``, shared by every router that
    asks the same registry for the same one (a neural embedder loads its model once per process).

    Raises:
        ConfigError: Unknown embedder or bad options (at ``path.embedder`` or
            ``path.embedder_options``).
    """
    key = json.dumps(options or {}, sort_keys=True)
    try:
        with _LOCK:
            return _cached(registry, name, key)
    except ConfigError as err:
        where = err.path.replace("options", path, 1) if err.path else path
        raise ConfigError(err.message, path=where) from None


def embed_unit(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """The texts' embeddings as a float32 matrix of unit rows (zero rows stay zero)."""
    if not texts:
        return np.zeros((0, max(1, int(embedder.dimension))), dtype=np.float32)
    matrix = np.asarray(embedder.embed(list(texts)), dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)

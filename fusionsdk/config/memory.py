"""The ``memory:`` section of a config: named stores, each with its embedder.

Example::

    memory:
      docs: {store: chroma, path: ./store, collection: docs, embedder: minilm}

Fields besides ``store``, ``embedder`` and ``embedder_options`` are the store's own options,
validated by the store plugin's ``Options`` when the graph is compiled (or the CLI opens it), so a
typo fails with its path (``memory.docs.colection: unknown field``).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["MemorySpec", "check_memory_name", "check_memory_names"]

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def check_memory_name(name: str) -> str:
    """Validate a memory's name (its key under ``memory:``)."""
    if not _NAME.match(name):
        raise ValueError(f"'{name}' is not a valid memory name (letters, digits, _ . -)")
    return name


def check_memory_names(memory: dict[str, Any]) -> dict[str, Any]:
    """Validate every key of a ``memory:`` section (for pydantic validators)."""
    for name in memory:
        check_memory_name(name)
    return memory


class MemorySpec(BaseModel):
    """One memory: a ``fusionsdk.memory`` store plugin, its embedder and the store's options.

    Attributes:
        store: The store plugin (``chroma``, ``chroma_server``, ``ephemeral``).
        embedder: The ``fusionsdk.embedders`` plugin (``minilm``, ``litellm``, ``llamacpp``, ...).
        embedder_options: That embedder's options.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    store: str = "chroma"
    embedder: str = "minilm"
    embedder_options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("store", "embedder")
    @classmethod
    def _plugin_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a plugin")
        return value

    @property
    def fields(self) -> dict[str, Any]:
        """The store's own options (``path``, ``collection``, ``host``, ``port``, ...)."""
        return dict(self.model_extra or {})

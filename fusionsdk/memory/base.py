"""Contracts of memory stores (``fusionsdk.memory``) and embedders (``fusionsdk.embedders``).

A store keeps text chunks with metadata and returns the nearest ones to a query; an embedder
turns texts into vectors. Stores receive their embedder, so any store works with any embedder.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fusionsdk.plugin import PluginBase

__all__ = ["Chunk", "Embedder", "Hit", "MemoryStore"]


@dataclass(frozen=True)
class Chunk:
    """A piece of text with its id and metadata (source, trust, sensitivity, created_at)."""

    id: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk and its distance to the query (smaller is nearer)."""

    chunk: Chunk
    distance: float


class Embedder(PluginBase, ABC):
    """Base class of embedders.

    Attributes:
        dimension: Length of the vectors it returns.
    """

    dimension: ClassVar[int] = 0

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order; the same text always gives the same vector."""


class MemoryStore(PluginBase, ABC):
    """Base class of memory stores."""

    @abstractmethod
    def add(self, chunks: Sequence[Chunk]) -> int:
        """Store chunks (idempotent by id); return how many were new."""

    @abstractmethod
    def query(self, text: str, k: int = 5, where: Mapping[str, Any] | None = None) -> list[Hit]:
        """The ``k`` chunks nearest to ``text``, optionally filtered on metadata."""

    @abstractmethod
    def count(self) -> int:
        """How many chunks the store holds."""

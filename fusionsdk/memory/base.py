"""Contracts of memory stores (``fusionsdk.memory``) and embedders (``fusionsdk.embedders``).

A store keeps text chunks with metadata and returns the nearest ones to a query; an embedder
turns texts into vectors. Stores receive their embedder, so any store works with any embedder.

Chunk metadata that fusionsdk itself writes and reads (see :mod:`fusionsdk.memory.metadata`):
``source`` (where the text came from), ``trust`` (``trusted`` or ``untrusted``),
``sensitivity`` (``normal`` or ``sensitive``: sensitive chunks keep a run on local models) and
``created_at`` (ISO-8601, UTC).

Besides the three abstract methods, a store may support listing (:meth:`MemoryStore.get`),
deleting (:meth:`MemoryStore.delete`) and diverse retrieval (:meth:`MemoryStore.query_mmr`);
the defaults say clearly that it does not (or fall back to plain nearest neighbours).
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from fusionsdk.plugin import OptionsT, PluginBase

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


class Embedder(PluginBase[OptionsT], ABC):
    """Base class of embedders.

    Every subclass's ``embed`` (and ``aembed``, where it has one) goes through the privacy gate
    (:func:`~fusionsdk.providers.privacy_scope.check_embedding`), as model calls do: an embedder
    whose :attr:`locality` is ``hosted`` is refused, with
    :class:`~fusionsdk.errors.PrivacyViolation`, texts of a sensitive thread or texts in which a
    detector finds personal data. Local embedders are not slowed down.

    Attributes:
        dimension: Length of the vectors it returns.
    """

    dimension: ClassVar[int] = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("embed", "aembed"):
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, "__privacy_gated__", False):
                setattr(cls, name, _gated(method, asynchronous=name == "aembed"))

    @property
    def locality(self) -> Literal["local", "hosted"]:
        """``local`` (the texts stay on this machine) or ``hosted`` (they are sent away)."""
        return "local"

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order; the same text always gives the same vector."""

    @property
    def identity(self) -> str:
        """What produced the vectors (plugin and model); a store refuses to mix identities in
        one collection, since vectors of different models are not comparable."""
        return f"{type(self).__module__}:{type(self).__qualname__}"


def _gated(method: Any, *, asynchronous: bool) -> Any:
    """``method`` behind the privacy gate (checked before the texts go anywhere)."""

    def check(self: Embedder, texts: Any) -> None:
        if self.locality != "local":
            from fusionsdk.providers.privacy_scope import check_embedding

            items = [t for t in texts if isinstance(t, str)] if isinstance(texts, Sequence) else []
            check_embedding(self.identity, self.locality, items)

    if asynchronous:

        @functools.wraps(method)
        async def agated(self: Embedder, texts: Sequence[str], *args: Any, **kwargs: Any) -> Any:
            check(self, texts)
            return await method(self, texts, *args, **kwargs)

        agated.__privacy_gated__ = True  # type: ignore[attr-defined]
        return agated

    @functools.wraps(method)
    def gated(self: Embedder, texts: Sequence[str], *args: Any, **kwargs: Any) -> Any:
        check(self, texts)
        return method(self, texts, *args, **kwargs)

    gated.__privacy_gated__ = True  # type: ignore[attr-defined]
    return gated


class MemoryStore(PluginBase[OptionsT], ABC):
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

    def query_mmr(
        self,
        text: str,
        k: int = 5,
        *,
        fetch_k: int = 20,
        diversity: float = 0.3,
        where: Mapping[str, Any] | None = None,
    ) -> list[Hit]:
        """``k`` chunks relevant to ``text`` and different from each other (maximal marginal
        relevance over the ``fetch_k`` nearest). Stores that cannot return vectors fall back to
        :meth:`query`."""
        return self.query(text, k, where)

    def get(self, where: Mapping[str, Any] | None = None, limit: int | None = None) -> list[Chunk]:
        """Chunks matching ``where`` (all when None), in no particular order.

        Raises:
            MemoryStoreError: The store cannot list its chunks.
        """
        from fusionsdk.memory.errors import MemoryStoreError

        raise MemoryStoreError(f"{type(self).__name__} cannot list its chunks")

    def delete(self, ids: Sequence[str]) -> int:
        """Remove the chunks with these ids; return how many existed.

        Raises:
            MemoryStoreError: The store cannot delete chunks.
        """
        from fusionsdk.memory.errors import MemoryStoreError

        raise MemoryStoreError(f"{type(self).__name__} cannot delete chunks")

    def close(self) -> None:
        """Release files, locks and connections (a closed store must not be used again)."""

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

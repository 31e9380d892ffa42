"""What the three Chroma stores share: collections, embeddings we compute, filters, errors.

Chroma never embeds anything itself here (its default embedder would download a model): every
``add`` and ``query`` passes vectors from the store's :class:`~fusionsdk.memory.base.Embedder`.
A collection records the embedder's identity and dimension in its metadata, and a store opened
with another embedder is refused with a clear error instead of returning nonsense.
"""

from __future__ import annotations

import contextlib
import re
import threading
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar

from pydantic import Field, field_validator

from fusionsdk.errors import ConfigError, FusionError
from fusionsdk.memory.base import Chunk, Embedder, Hit, MemoryStore
from fusionsdk.memory.errors import MemoryStoreError
from fusionsdk.memory.metadata import clean_metadata
from fusionsdk.memory.mmr import mmr_select
from fusionsdk.plugin import PluginOptions
from fusionsdk.registry import PluginKind, Registry

__all__ = ["ChromaOptions", "ChromaStore", "to_chroma_where"]

_COLLECTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$")
_EMBEDDER_KEY = "fusionsdk:embedder"
_DIMENSION_KEY = "fusionsdk:dimension"


def to_chroma_where(where: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Turn ``{key: value, ...}`` filters into Chroma's syntax.

    A scalar means equality, a list means "one of", a dict is an operator clause
    (``{"$gte": 3}``); several keys are joined with ``$and``. A filter whose keys are already
    operators (``{"$or": [...]}``) is passed through.

    Raises:
        MemoryStoreError: Not a mapping, or a value of another type.
    """
    if where is None:
        return None
    if not isinstance(where, Mapping):
        raise MemoryStoreError(f"where must be a mapping of metadata filters, got {type(where).__name__}")
    if not where:
        return None
    if all(isinstance(key, str) and key.startswith("$") for key in where):
        return dict(where)
    clauses: list[dict[str, Any]] = []
    for key, value in where.items():
        if isinstance(value, Mapping):
            clauses.append({key: dict(value)})
        elif isinstance(value, list | tuple):
            clauses.append({key: {"$in": list(value)}})
        elif isinstance(value, str | int | float | bool):
            clauses.append({key: {"$eq": value}})
        else:
            raise MemoryStoreError(f"where.{key}: cannot filter on a {type(value).__name__}")
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


@contextlib.contextmanager
def _chroma_errors(what: str) -> Iterator[None]:
    """Translate whatever Chroma (or its HTTP client) raises into a MemoryStoreError."""
    try:
        yield
    except FusionError:
        raise
    except Exception as err:  # chroma raises ValueError, TypeError, ChromaError, httpx errors...
        raise MemoryStoreError(f"{what}: {type(err).__name__}: {err}") from None


def _check_k(k: Any, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise MemoryStoreError(f"{name} must be a whole number of at least 1, got {k!r}")
    return k


def _check_chunks(chunks: Any) -> list[Chunk]:
    """The chunks, checked, without repeated ids (the first one wins)."""
    if isinstance(chunks, Chunk | str):
        raise MemoryStoreError("add takes a list of Chunk objects")
    seen: dict[str, Chunk] = {}
    for i, chunk in enumerate(chunks):
        if not isinstance(chunk, Chunk):
            raise MemoryStoreError(f"chunks[{i}] is a {type(chunk).__name__}, not a Chunk")
        if not isinstance(chunk.id, str) or not chunk.id:
            raise MemoryStoreError(f"chunks[{i}] needs a non-empty string id")
        if not isinstance(chunk.text, str) or not chunk.text.strip():
            raise MemoryStoreError(f"chunk '{chunk.id}' has no text")
        seen.setdefault(chunk.id, chunk)
    return list(seen.values())


class ChromaOptions(PluginOptions):
    """Options every Chroma store has.

    Attributes:
        collection: Chroma collection name (3-512 letters, digits, ``.``, ``_``, ``-``).
        distance: ``cosine``, ``l2`` or ``ip`` (fixed when the collection is created).
        batch_size: Chunks embedded and written per batch.
    """

    collection: str = "fusionsdk"
    distance: Literal["cosine", "l2", "ip"] = "cosine"
    batch_size: int = Field(128, ge=1, le=5000)

    @field_validator("collection")
    @classmethod
    def _collection_name(cls, value: str) -> str:
        if not _COLLECTION.match(value) or ".." in value:
            raise ValueError(
                f"'{value}' is not a valid collection name: 3-512 letters, digits, '.', '_' or '-', "
                "starting and ending with a letter or digit"
            )
        return value


#: The options type of a Chroma store (its ``Options``, a :class:`ChromaOptions`).
ChromaOptionsT = TypeVar("ChromaOptionsT", bound=ChromaOptions)


class ChromaStore(MemoryStore[ChromaOptionsT]):
    """Base of the Chroma stores; subclasses say how to reach Chroma (:meth:`_connect`).

    Args:
        options: The store's options.
        embedder: Turns texts into vectors; the ``minilm`` embedder when omitted.
        registry: Where that default embedder comes from.
    """

    Options = ChromaOptions

    def __init__(
        self,
        options: PluginOptions | dict[str, Any] | None = None,
        *,
        embedder: Embedder[Any] | None = None,
        registry: Registry | None = None,
    ) -> None:
        super().__init__(options, registry=registry)
        if embedder is not None and not isinstance(embedder, Embedder):
            raise ConfigError(f"embedder must be an Embedder, got {type(embedder).__name__}")
        self._embedder = embedder
        self._client: Any = None
        self._handle: Any = None
        self._open_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._closed = False

    # -- connection ------------------------------------------------------------------------------

    @abstractmethod
    def _connect(self) -> Any:
        """Return a Chroma client (raising MemoryStoreError, never hanging)."""

    def _disconnect(self) -> None:
        """Release what :meth:`_connect` took."""

    def _collection_name(self) -> str:
        return self.options.collection

    @property
    def embedder(self) -> Embedder:
        """The store's embedder (``minilm`` of the store's registry unless one was given)."""
        if self._embedder is None:
            self._embedder = self.registry.build(PluginKind.EMBEDDERS, "minilm", {}, path="embedder_options")
        return self._embedder

    def _collection(self) -> Any:
        if self._closed:
            raise MemoryStoreError(f"{type(self).__name__} is closed")
        with self._open_lock:
            if self._handle is None:
                client = self._connect()
                try:
                    self._handle = self._open_collection(client)
                except BaseException:
                    self._disconnect()
                    raise
                self._client = client
            return self._handle

    def _open_collection(self, client: Any) -> Any:
        opts = self.options
        identity, dimension = self.embedder.identity, int(self.embedder.dimension)
        wanted = {"hnsw:space": opts.distance, _EMBEDDER_KEY: identity, _DIMENSION_KEY: dimension}
        name = self._collection_name()
        with _chroma_errors(f"could not open collection '{name}'"):
            collection = client.get_or_create_collection(name, metadata=wanted, embedding_function=None)
        found = dict(collection.metadata or {})
        if (
            found.get(_EMBEDDER_KEY, identity) != identity
            or found.get(_DIMENSION_KEY, dimension) != dimension
        ):
            raise ConfigError(
                f"collection '{name}' holds vectors of embedder '{found.get(_EMBEDDER_KEY)}' "
                f"({found.get(_DIMENSION_KEY)} dimensions); this store's embedder is '{identity}' "
                f"({dimension}): use another collection, or the embedder it was built with"
            )
        return collection

    def close(self) -> None:
        with self._open_lock:
            if self._handle is not None:
                try:
                    self._disconnect()
                finally:
                    self._handle = None
                    self._client = None
            self._closed = True

    # -- the contract ----------------------------------------------------------------------------

    def count(self) -> int:
        collection = self._collection()
        with _chroma_errors("count failed"):
            return int(collection.count())

    def add(self, chunks: Sequence[Chunk]) -> int:
        items = _check_chunks(chunks)
        if not items:
            return 0
        collection = self._collection()
        batch = self.options.batch_size
        added = 0
        for start in range(0, len(items), batch):
            added += self._add_batch(collection, items[start : start + batch])
        return added

    def _missing(self, collection: Any, chunks: Sequence[Chunk]) -> list[Chunk]:
        with _chroma_errors("lookup of existing chunks failed"):
            found = set(collection.get(ids=[c.id for c in chunks], include=[])["ids"])
        return [c for c in chunks if c.id not in found]

    def _add_batch(self, collection: Any, chunks: Sequence[Chunk]) -> int:
        metadatas = [clean_metadata(c.metadata, f"chunk '{c.id}' metadata") for c in chunks]
        fresh = self._missing(collection, chunks)  # never pay to embed what is stored already
        if not fresh:
            return 0
        vectors = self.embedder.embed([c.text for c in fresh])
        meta_by_id = {c.id: m for c, m in zip(chunks, metadatas, strict=True)}
        return self._write(collection, fresh, vectors, [meta_by_id[c.id] for c in fresh])

    def _write(
        self,
        collection: Any,
        chunks: Sequence[Chunk],
        vectors: Sequence[Sequence[float]],
        metadatas: Sequence[Mapping[str, Any]],
    ) -> int:
        """Write one batch; Chroma skips ids it holds already, so the count tells what was new
        (exact within this process, whose writes the lock serialises)."""
        with self._write_lock, _chroma_errors("add failed"):
            before = collection.count()
            collection.add(
                ids=[c.id for c in chunks],
                embeddings=[list(v) for v in vectors],
                documents=[c.text for c in chunks],
                metadatas=[dict(m) or None for m in metadatas],
            )
            return int(collection.count()) - int(before)

    def add_vectors(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> int:
        """Add chunks with precomputed vectors (benchmarks, migrations); idempotent by id like
        :meth:`add`, in batches of ``batch_size``."""
        items = _check_chunks(chunks)
        if len(items) != len(chunks) or len(vectors) != len(items):
            raise MemoryStoreError("add_vectors needs one vector per chunk and unique ids")
        metadatas = [clean_metadata(c.metadata, f"chunk '{c.id}' metadata") for c in items]
        collection = self._collection()
        size = self.options.batch_size
        return sum(
            self._write(collection, items[i : i + size], vectors[i : i + size], metadatas[i : i + size])
            for i in range(0, len(items), size)
        )

    def query(self, text: str, k: int = 5, where: Mapping[str, Any] | None = None) -> list[Hit]:
        if not isinstance(text, str):
            raise MemoryStoreError(f"the query must be a string, got {type(text).__name__}")
        return self.query_vector(self.embedder.embed([text])[0], k, where)

    def query_vector(
        self, vector: Sequence[float], k: int = 5, where: Mapping[str, Any] | None = None
    ) -> list[Hit]:
        """The ``k`` chunks nearest to a precomputed query vector."""
        hits, _ = self._search(vector, _check_k(k), where, with_vectors=False)
        return hits

    def query_mmr(
        self,
        text: str,
        k: int = 5,
        *,
        fetch_k: int = 20,
        diversity: float = 0.3,
        where: Mapping[str, Any] | None = None,
    ) -> list[Hit]:
        if not isinstance(text, str):
            raise MemoryStoreError(f"the query must be a string, got {type(text).__name__}")
        k, fetch_k = _check_k(k), _check_k(fetch_k, "fetch_k")
        if isinstance(diversity, bool) or not isinstance(diversity, int | float) or not 0 <= diversity <= 1:
            raise MemoryStoreError(f"diversity must be between 0 and 1, got {diversity!r}")
        query = self.embedder.embed([text])[0]
        hits, vectors = self._search(query, max(k, fetch_k), where, with_vectors=True)
        chosen = mmr_select(query, vectors, k, float(diversity))
        return sorted((hits[i] for i in chosen), key=lambda h: h.distance)

    def _search(
        self, vector: Sequence[float], k: int, where: Mapping[str, Any] | None, *, with_vectors: bool
    ) -> tuple[list[Hit], list[list[float]]]:
        collection = self._collection()
        chroma_where = to_chroma_where(where)
        include = ["documents", "metadatas", "distances", *(["embeddings"] if with_vectors else [])]
        query = vector if isinstance(vector, list) else list(vector)
        with _chroma_errors("query failed"):
            found = collection.query(
                query_embeddings=[query], n_results=k, where=chroma_where, include=include
            )
        hits = [
            Hit(Chunk(i, doc or "", dict(meta or {})), float(dist))
            for i, doc, meta, dist in zip(
                found["ids"][0],
                found["documents"][0],
                found["metadatas"][0],
                found["distances"][0],
                strict=True,
            )
        ]
        embeddings = found.get("embeddings") if with_vectors else None
        vectors = (
            [[float(x) for x in v] for v in embeddings[0]]
            if embeddings is not None and len(embeddings)
            else []
        )
        return hits, vectors

    def get(self, where: Mapping[str, Any] | None = None, limit: int | None = None) -> list[Chunk]:
        if limit is not None:
            _check_k(limit, "limit")
        collection = self._collection()
        with _chroma_errors("get failed"):
            found = collection.get(
                where=to_chroma_where(where), limit=limit, include=["documents", "metadatas"]
            )
        return [
            Chunk(i, doc or "", dict(meta or {}))
            for i, doc, meta in zip(found["ids"], found["documents"], found["metadatas"], strict=True)
        ]

    def delete(self, ids: Sequence[str]) -> int:
        if isinstance(ids, str) or not all(isinstance(i, str) for i in ids):
            raise MemoryStoreError("delete takes a list of chunk ids")
        if not ids:
            return 0
        collection = self._collection()
        with self._write_lock, _chroma_errors("delete failed"):
            existing = collection.get(ids=list(ids), include=[])["ids"]
            if existing:
                collection.delete(ids=existing)
        return len(existing)

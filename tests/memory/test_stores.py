"""The Chroma stores: filters, MMR, listing and deleting, bad input, embedder checks."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from fusionsdk.errors import ConfigError, FusionError
from fusionsdk.memory.base import Chunk, MemoryStore
from fusionsdk.memory.errors import MemoryStoreError
from fusionsdk.memory.mmr import cosine, mmr_select
from fusionsdk.memory.stores._chroma import to_chroma_where
from fusionsdk.memory.stores.chroma import EphemeralChromaStore, HttpChromaStore, PersistentChromaStore
from fusionsdk.testing import FakeEmbedder

CHUNKS = [
    Chunk(
        "lamp", "The lamp has a three year warranty", {"source": "lamp.md", "year": 2024, "trust": "trusted"}
    ),
    Chunk("lamp-copy", "The lamp has a three year warranty indeed", {"source": "copy.md", "year": 2023}),
    Chunk("returns", "Returns are accepted within 45 days", {"source": "returns.md", "year": 2025}),
    Chunk("support", "Support is open Monday to Friday", {"source": "support.md", "year": 2025}),
]


def test_where_translation() -> None:
    assert to_chroma_where(None) is None and to_chroma_where({}) is None
    assert to_chroma_where({"a": 1}) == {"a": {"$eq": 1}}
    assert to_chroma_where({"a": [1, 2], "b": {"$gte": 3}}) == {
        "$and": [{"a": {"$in": [1, 2]}}, {"b": {"$gte": 3}}]
    }
    assert to_chroma_where({"$or": [{"a": 1}, {"b": 2}]}) == {"$or": [{"a": 1}, {"b": 2}]}
    with pytest.raises(MemoryStoreError, match="where.a: cannot filter on a set"):
        to_chroma_where({"a": {1, 2}})
    with pytest.raises(MemoryStoreError, match="mapping"):
        to_chroma_where([("a", 1)])  # type: ignore[arg-type]


def test_filters_on_several_keys_lists_and_ranges(store: EphemeralChromaStore) -> None:
    store.add(CHUNKS)
    assert {h.chunk.id for h in store.query("warranty", 10, {"year": {"$gte": 2025}})} == {
        "returns",
        "support",
    }
    assert [h.chunk.id for h in store.query("warranty", 10, {"source": ["lamp.md"], "trust": "trusted"})] == [
        "lamp"
    ]
    assert store.query("warranty", 10, {"source": "nowhere.md"}) == []
    with pytest.raises(MemoryStoreError, match="query failed"):
        store.query("x", 3, {"$nonsense": 1})


def test_mmr_prefers_variety_over_near_duplicates(store: EphemeralChromaStore) -> None:
    store.add(CHUNKS)
    plain = [h.chunk.id for h in store.query("lamp warranty", 2)]
    assert set(plain) == {"lamp", "lamp-copy"}
    diverse = [h.chunk.id for h in store.query_mmr("lamp warranty", 2, fetch_k=4, diversity=0.9)]
    assert len(diverse) == 2 and len({"lamp", "lamp-copy"} & set(diverse)) == 1
    distances = [h.distance for h in store.query_mmr("lamp warranty", 3, fetch_k=4, diversity=0.5)]
    assert distances == sorted(distances)
    assert store.query_mmr("anything", 2, fetch_k=10, where={"source": "none"}) == []


def test_mmr_selection_maths() -> None:
    assert math.isclose(cosine([1, 0], [0, 1]), 0.0) and cosine([0, 0], [1, 1]) == 0.0
    candidates = [[1.0, 0.0], [0.99, 0.01], [0.6, 0.8]]
    assert mmr_select([1.0, 0.0], candidates, 2, diversity=0.0) == [0, 1]
    assert mmr_select([1.0, 0.0], candidates, 2, diversity=0.7) == [0, 2]
    assert sorted(mmr_select([1.0, 0.0], candidates, 5)) == [0, 1, 2]
    with pytest.raises(ValueError):
        mmr_select([1.0], [[1.0]], 1, diversity=1.5)
    with pytest.raises(ValueError):
        mmr_select([1.0], [[1.0]], -1)


def test_get_and_delete(store: EphemeralChromaStore) -> None:
    store.add(CHUNKS)
    assert {c.id for c in store.get({"year": 2025})} == {"returns", "support"}
    assert len(store.get(limit=2)) == 2
    assert store.delete(["returns", "missing"]) == 1
    assert store.delete([]) == 0 and store.count() == 3
    with pytest.raises(MemoryStoreError):
        store.delete("lamp")  # type: ignore[arg-type]
    with pytest.raises(MemoryStoreError):
        store.get(limit=0)


@pytest.mark.parametrize(
    ("chunks", "message"),
    [
        (Chunk("a", "text"), "list of Chunk"),
        ("text", "list of Chunk"),
        (["text"], "chunks\\[0\\] is a str"),
        ([Chunk("", "text")], "non-empty string id"),
        ([Chunk("a", "   ")], "has no text"),
        ([Chunk("a", "text", {"tags": ["x"]})], "tags must be a string, number or boolean"),
        ([Chunk("a", "text", {"score": float("nan")})], "score must be finite"),
        ([Chunk("a", "text", {1: "x"})], "keys must be non-empty strings"),  # type: ignore[dict-item]
        ([Chunk("a", "text", "meta")], "must be a mapping"),  # type: ignore[arg-type]
    ],
)
def test_bad_chunks_are_memory_store_errors(store: EphemeralChromaStore, chunks: Any, message: str) -> None:
    with pytest.raises(MemoryStoreError, match=message):
        store.add(chunks)
    assert store.count() == 0


@pytest.mark.parametrize(("text", "k"), [(None, 3), (b"bytes", 3), ("ok", 0), ("ok", 2.5), ("ok", True)])
def test_bad_queries_are_memory_store_errors(store: EphemeralChromaStore, text: Any, k: Any) -> None:
    with pytest.raises(MemoryStoreError):
        store.query(text, k)


def test_bad_mmr_arguments(store: EphemeralChromaStore) -> None:
    for kwargs in ({"fetch_k": 0}, {"diversity": 2}, {"diversity": "x"}):
        with pytest.raises(MemoryStoreError):
            store.query_mmr("x", 2, **kwargs)  # type: ignore[arg-type]


def test_none_metadata_values_are_dropped_and_repeated_ids_kept_once(store: EphemeralChromaStore) -> None:
    assert store.add([Chunk("a", "first", {"x": None, "y": 1}), Chunk("a", "second")]) == 1
    [chunk] = store.get()
    assert (chunk.text, dict(chunk.metadata)) == ("first", {"y": 1})


def test_a_collection_refuses_another_embedder(tmp_path: Path) -> None:
    options = {"path": str(tmp_path / "s"), "collection": "docs"}
    with PersistentChromaStore(options, embedder=FakeEmbedder()) as store:
        store.add(CHUNKS[:1])

    class Other(FakeEmbedder):
        """Same size, other vectors."""

    with (
        PersistentChromaStore(options, embedder=Other()) as store,
        pytest.raises(ConfigError, match="holds vectors"),
    ):
        store.count()


def test_collection_names_and_options_are_checked() -> None:
    for bad in ("ab", "-docs", "a..b", "x" * 600, "with space"):
        with pytest.raises(ConfigError, match="collection"):
            EphemeralChromaStore({"collection": bad})
    with pytest.raises(ConfigError, match="path"):
        PersistentChromaStore({})
    with pytest.raises(ConfigError, match="port"):
        HttpChromaStore({"port": 70000})
    with pytest.raises(ConfigError, match="embedder must be an Embedder"):
        EphemeralChromaStore({}, embedder="minilm")  # type: ignore[arg-type]


def test_ephemeral_stores_are_independent() -> None:
    with (
        EphemeralChromaStore({}, embedder=FakeEmbedder()) as one,
        EphemeralChromaStore({}, embedder=FakeEmbedder()) as two,
    ):
        one.add(CHUNKS)
        assert two.count() == 0


def test_closed_stores_refuse_work_and_path_must_be_a_folder(tmp_path: Path) -> None:
    store = EphemeralChromaStore({}, embedder=FakeEmbedder())
    store.add(CHUNKS)
    store.close()
    store.close()  # twice is fine
    with pytest.raises(MemoryStoreError, match="closed"):
        store.count()
    (tmp_path / "file").write_text("x")
    with pytest.raises(MemoryStoreError, match="is a file"):
        PersistentChromaStore({"path": str(tmp_path / "file")}, embedder=FakeEmbedder()).count()


def test_two_stores_of_one_folder_share_it_within_a_process(tmp_path: Path) -> None:
    options = {"path": str(tmp_path / "s")}
    first = PersistentChromaStore(options, embedder=FakeEmbedder())
    second = PersistentChromaStore({**options, "lock_timeout_s": 0}, embedder=FakeEmbedder())
    first.add(CHUNKS[:2])
    assert second.count() == 2
    first.close()
    assert second.add(CHUNKS[2:]) == 2
    second.close()
    assert not (tmp_path / "s" / ".fusionsdk.owner").exists()


def test_unreachable_server_is_a_clear_error() -> None:
    from tests.servers.base import free_port

    store = HttpChromaStore({"port": free_port()}, embedder=FakeEmbedder())
    with pytest.raises(MemoryStoreError, match="cannot reach the Chroma server at http://127.0.0.1"):
        store.count()


def test_the_base_class_says_what_a_store_cannot_do() -> None:
    class Minimal(MemoryStore):
        """Minimal."""

        def add(self, chunks: Any) -> int:
            return 0

        def query(self, text: str, k: int = 5, where: Any = None) -> list:
            return ["nearest"]

        def count(self) -> int:
            return 0

    minimal = Minimal()
    assert minimal.query_mmr("x", 1) == ["nearest"]
    with pytest.raises(MemoryStoreError, match="cannot list"):
        minimal.get()
    with pytest.raises(MemoryStoreError, match="cannot delete"):
        minimal.delete(["a"])
    with minimal as same:
        assert same is minimal
    assert isinstance(MemoryStoreError("x"), FusionError)

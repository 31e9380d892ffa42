"""Conformance suites of embedders (``fusionsdk.embedders``) and memory stores (``fusionsdk.memory``).

An embedder must return one finite vector of ``dimension`` floats per text, the same vector for
the same text whatever batch it comes in, and be safe to call from several threads. A store must
be idempotent by chunk id, return at most ``k`` hits nearest first, honour metadata filters and
keep every chunk added from several threads at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest

from fusionsdk.errors import FusionError
from fusionsdk.memory.base import Chunk, Embedder, Hit, MemoryStore
from fusionsdk.registry import PluginKind
from fusionsdk.testing.conformance._common import PluginConformance, assert_number, run_in_threads

__all__ = ["EmbedderConformance", "MemoryStoreConformance"]

SAMPLE_TEXTS = [
    "The cat sat on the warm windowsill.",
    "Quarterly revenue grew by twelve percent.",
    "Photosynthesis turns light into chemical energy.",
    "The train to Lyon leaves at nine.",
]


class EmbedderConformance(PluginConformance):
    """Conformance suite of embedders; set ``plugin_class`` to your :class:`Embedder`.

    Attributes:
        tolerance: Allowed absolute difference between two embeddings of the same text (batched
            inference may differ in the last bits).
        large_batch_size: Texts in the large-batch test.
        long_text_words: Words in the long-text test.
    """

    kind: ClassVar[PluginKind] = PluginKind.EMBEDDERS
    tolerance: ClassVar[float] = 1e-5
    large_batch_size: ClassVar[int] = 128
    long_text_words: ClassVar[int] = 5000

    def check_vectors(self, plugin: Embedder, vectors: Any, count: int) -> None:
        """Fail unless ``vectors`` is ``count`` finite vectors of the plugin's dimension."""
        assert isinstance(vectors, list), f"embed should return a list, got {type(vectors).__name__}"
        assert len(vectors) == count, f"{count} texts gave {len(vectors)} vectors"
        for vector in vectors:
            assert isinstance(vector, list), f"each vector should be a list, got {type(vector).__name__}"
            assert len(vector) == plugin.dimension, (
                f"vector of {len(vector)}, dimension is {plugin.dimension}"
            )
            for value in vector:
                assert isinstance(value, float) and math.isfinite(value), f"{value!r} is not a finite float"

    def assert_same(self, first: Sequence[float], second: Sequence[float]) -> None:
        """Fail unless two vectors are equal within :attr:`tolerance`."""
        assert second == pytest.approx(first, abs=self.tolerance)

    def test_declares_a_positive_dimension(self, plugin: Embedder) -> None:
        assert isinstance(plugin.dimension, int) and plugin.dimension > 0, "set the dimension class attribute"

    def test_one_vector_per_text(self, plugin: Embedder) -> None:
        self.check_vectors(plugin, plugin.embed(SAMPLE_TEXTS), len(SAMPLE_TEXTS))

    def test_no_texts_give_no_vectors(self, plugin: Embedder) -> None:
        assert plugin.embed([]) == []

    def test_single_text(self, plugin: Embedder) -> None:
        self.check_vectors(plugin, plugin.embed(SAMPLE_TEXTS[:1]), 1)

    def test_large_batch_and_long_text(self, plugin: Embedder) -> None:
        batch = [f"{SAMPLE_TEXTS[i % len(SAMPLE_TEXTS)]} ({i})" for i in range(self.large_batch_size)]
        self.check_vectors(plugin, plugin.embed(batch), len(batch))
        self.check_vectors(plugin, plugin.embed([" ".join(["word"] * self.long_text_words)]), 1)

    def test_empty_text_gives_a_vector_or_a_fusion_error(self, plugin: Embedder) -> None:
        try:
            vectors = plugin.embed([""])
        except FusionError:
            return
        self.check_vectors(plugin, vectors, 1)

    def test_same_text_same_vector_in_any_batch(self, plugin: Embedder) -> None:
        alone = plugin.embed([SAMPLE_TEXTS[2]])[0]
        in_batch = plugin.embed(SAMPLE_TEXTS)[2]
        self.assert_same(alone, in_batch)
        self.assert_same(alone, plugin.embed([SAMPLE_TEXTS[2]])[0])

    def test_does_not_mutate_the_texts(self, plugin: Embedder) -> None:
        texts = list(SAMPLE_TEXTS)
        plugin.embed(texts)
        assert texts == SAMPLE_TEXTS

    def test_safe_from_several_threads(self, plugin: Embedder) -> None:
        batches = [[text] for text in SAMPLE_TEXTS] * 4
        one_by_one = [plugin.embed(batch) for batch in batches]
        for together, alone in zip(run_in_threads(plugin.embed, batches), one_by_one, strict=True):
            self.assert_same(alone[0], together[0])


class MemoryStoreConformance(PluginConformance):
    """Conformance suite of memory stores; override the ``plugin`` fixture to build an empty store.

    A store usually needs an embedder and a folder, so the default fixture is rarely enough::

        class TestMyStore(MemoryStoreConformance):
            @pytest.fixture
            def plugin(self, tmp_path):
                return MyStore({"path": str(tmp_path)}, embedder=FakeEmbedder())

            def build(self, plugin_class, options):
                return plugin_class(options, embedder=FakeEmbedder())

    Attributes:
        large_chunk_count: Chunks in the large-input test.
    """

    kind: ClassVar[PluginKind] = PluginKind.MEMORY
    large_chunk_count: ClassVar[int] = 300

    @pytest.fixture
    def chunks(self) -> list[Chunk]:
        """Chunks on distinct topics, tagged with a ``topic`` in their metadata."""
        topics = ["pets", "finance", "biology", "travel"]
        return [
            Chunk(f"chunk-{i}", text, {"topic": topic})
            for i, (text, topic) in enumerate(zip(SAMPLE_TEXTS, topics, strict=True))
        ]

    @staticmethod
    def check_hits(hits: Any, k: int) -> None:
        """Fail unless ``hits`` is at most ``k`` :class:`Hit` objects, nearest first."""
        assert isinstance(hits, list), f"query should return a list, got {type(hits).__name__}"
        assert len(hits) <= k, f"asked for {k} hits, got {len(hits)}"
        for hit in hits:
            assert isinstance(hit, Hit), f"expected Hit objects, got {hit!r}"
            assert isinstance(hit.chunk, Chunk)
            assert_number(hit.distance, "Hit.distance")
        distances = [hit.distance for hit in hits]
        assert distances == sorted(distances), "hits should come nearest first"

    def test_a_new_store_is_empty(self, plugin: MemoryStore) -> None:
        assert plugin.count() == 0
        assert plugin.query("anything", k=3) == []

    def test_add_counts_new_chunks_and_is_idempotent_by_id(
        self, plugin: MemoryStore, chunks: list[Chunk]
    ) -> None:
        assert plugin.add(chunks) == len(chunks)
        assert plugin.add(chunks) == 0
        assert plugin.count() == len(chunks)

    def test_adding_nothing_adds_nothing(self, plugin: MemoryStore) -> None:
        assert plugin.add([]) == 0
        assert plugin.count() == 0

    def test_query_returns_hits_nearest_first(self, plugin: MemoryStore, chunks: list[Chunk]) -> None:
        plugin.add(chunks)
        hits = plugin.query("a cat by the window", k=2)
        self.check_hits(hits, 2)
        assert len(hits) == 2
        assert {hit.chunk.id for hit in hits} <= {c.id for c in chunks}

    def test_a_chunk_is_nearest_to_its_own_text(self, plugin: MemoryStore, chunks: list[Chunk]) -> None:
        plugin.add(chunks)
        for chunk in chunks:
            hits = plugin.query(chunk.text, k=1)
            self.check_hits(hits, 1)
            assert hits[0].chunk.id == chunk.id
            assert hits[0].chunk.text == chunk.text

    def test_k_beyond_the_count_returns_every_chunk(self, plugin: MemoryStore, chunks: list[Chunk]) -> None:
        plugin.add(chunks)
        hits = plugin.query("energy", k=len(chunks) + 10)
        self.check_hits(hits, len(chunks) + 10)
        assert len(hits) == len(chunks)

    def test_where_filters_on_metadata(self, plugin: MemoryStore, chunks: list[Chunk]) -> None:
        plugin.add(chunks)
        hits = plugin.query("anything at all", k=10, where={"topic": "finance"})
        self.check_hits(hits, 10)
        assert [hit.chunk.metadata.get("topic") for hit in hits] == ["finance"]

    @pytest.mark.parametrize("k", [0, -1])
    def test_k_below_one_is_a_fusion_error(self, plugin: MemoryStore, chunks: list[Chunk], k: int) -> None:
        plugin.add(chunks)
        with pytest.raises(FusionError):
            plugin.query("energy", k=k)

    def test_large_input(self, plugin: MemoryStore) -> None:
        many = [Chunk(f"bulk-{i}", f"{SAMPLE_TEXTS[i % 4]} Note {i}.") for i in range(self.large_chunk_count)]
        assert plugin.add(many) == len(many)
        assert plugin.count() == len(many)
        self.check_hits(plugin.query("revenue", k=5), 5)

    def test_concurrent_adds_keep_every_chunk(self, plugin: MemoryStore) -> None:
        batches = [[Chunk(f"t{t}-{i}", f"thread {t} note {i}") for i in range(10)] for t in range(8)]
        assert sum(run_in_threads(plugin.add, batches)) == 80
        assert plugin.count() == 80

"""Retrieval on the committed public labelled set (``tests/data/retrieval/``): quality and parity.

A slice of 100 GSM8K questions, each with its own recorded worked solution among the 100
solutions, goes through fusionsdk's embedded store with the real ``minilm`` embedder and through
raw chromadb given the very vectors minilm produced. The full set (1,319 queries) is measured by
``python benchmarks/memory.py`` (part 4).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from fusionsdk.memory.base import Chunk
from fusionsdk.memory.embedders.minilm import MiniLMEmbedder
from fusionsdk.memory.stores._embedded import chroma_settings
from fusionsdk.memory.stores.chroma import PersistentChromaStore

DATA = Path(__file__).resolve().parents[1] / "data" / "retrieval" / "gsm8k_solutions.jsonl.gz"
SLICE = 100
K = 10
# Floors for the slice, stated in tests/data/retrieval/README.md. The whole set gives hit@1 0.994
# and hit@10 1.000 with minilm; a broken embedder, store or id mapping falls far below.
FLOOR_HIT_1 = 0.95
FLOOR_HIT_10 = 0.99


def load_rows() -> list[dict[str, str]]:
    with gzip.open(DATA, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


class RecordingMiniLM(MiniLMEmbedder):
    """The real minilm embedder that also keeps every vector it returns, by text."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, list[float]] = {}

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = super().embed(texts)
        self.seen.update(zip(texts, vectors, strict=True))
        return vectors


def rank_of(found: Sequence[str], relevant: str) -> int | None:
    return next((i for i, chunk_id in enumerate(found, 1) if chunk_id == relevant), None)


def test_the_committed_set_is_whole_and_small() -> None:
    rows = load_rows()
    assert len(rows) == 1319
    assert len({r["id"] for r in rows}) == len(rows)
    assert all(r["question"].strip() and r["solution"].strip() for r in rows)
    assert len({r["solution"] for r in rows}) == len(rows)  # no two queries share a document
    assert DATA.stat().st_size < 2_000_000


@pytest.mark.integration
@pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None, reason="needs fusionsdk[memory]"
)
def test_minilm_retrieval_clears_the_floor_and_matches_raw_chromadb(tmp_path: Path) -> None:
    import chromadb

    rows = load_rows()[:SLICE]
    embedder = RecordingMiniLM()
    store = PersistentChromaStore({"path": str(tmp_path / "ours"), "collection": "gsm8k"}, embedder=embedder)
    assert store.add([Chunk(r["id"], r["solution"], {"source": r["id"]}) for r in rows]) == SLICE

    client = chromadb.PersistentClient(path=str(tmp_path / "raw"), settings=chroma_settings())
    collection = client.create_collection("gsm8k", metadata={"hnsw:space": "cosine"}, embedding_function=None)
    collection.add(
        ids=[r["id"] for r in rows],
        documents=[r["solution"] for r in rows],
        embeddings=[embedder.seen[r["solution"]] for r in rows],
    )

    ours_ranks, raw_ranks, shifted_ranks = [], [], []
    for i, row in enumerate(rows):
        ours = [hit.chunk.id for hit in store.query(row["question"], K)]
        vector = embedder.seen[row["question"]]  # the vector the store's query just used
        raw = collection.query(query_embeddings=[vector], n_results=K)["ids"][0]
        assert ours == raw, row["id"]
        ours_ranks.append(rank_of(ours, row["id"]))
        raw_ranks.append(rank_of(raw, row["id"]))
        shifted_ranks.append(rank_of(ours, rows[(i + 1) % SLICE]["id"]))  # a wrong labelling
    store.close()
    client.close()

    assert ours_ranks == raw_ranks
    hit_1 = sum(r == 1 for r in ours_ranks) / SLICE
    hit_10 = sum(r is not None for r in ours_ranks) / SLICE
    assert hit_1 >= FLOOR_HIT_1, hit_1
    assert hit_10 >= FLOOR_HIT_10, hit_10
    # The floor tells right labels from wrong ones: against the next question's solution, few hit.
    assert sum(r == 1 for r in shifted_ranks) / SLICE < 0.1

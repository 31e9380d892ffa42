"""Embedders are built once per process and shared, so a program that opens a memory again and
again loads its embedding model once (issue 15, item 5); ``memory add`` reports its progress."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from fusionsdk.config.memory import MemorySpec
from fusionsdk.memory.hub import MemoryHub, open_memory
from fusionsdk.memory.ingest import ingest

CONFIG = """\
version: 1
memory:
  docs: {store: chroma, path: ./store, collection: docs, embedder: EMBEDDER}
"""


def write_config(tmp_path: Path, embedder: str = "fake") -> Path:
    path = tmp_path / "memory.yaml"
    path.write_text(CONFIG.replace("EMBEDDER", embedder))
    return path


def test_every_open_shares_one_embedder(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    first, _ = open_memory(config)
    first.close()
    second, _ = open_memory(config)
    second.close()
    assert first.embedder is second.embedder
    hub = MemoryHub({"a": MemorySpec(store="ephemeral", embedder="fake")})
    assert hub["a"].embedder is first.embedder  # same plugin, same options, same registry


def test_ingest_announces_its_total_then_counts_batches(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"{i}.md").write_text(f"# Note {i}\n\n" + f"word{i} " * 400)
    store = MemoryHub({"d": MemorySpec(store="ephemeral", embedder="fake")})["d"]
    totals: list[int] = []
    done: list[int] = []
    report = ingest(
        store,
        [docs],
        chunk_tokens=100,
        overlap=10,
        batch_size=4,
        on_total=totals.append,
        on_batch=lambda ids, added: done.append(len(ids)),
    )
    assert totals == [report.added] and sum(done) == report.added and len(done) > 1


@pytest.mark.integration
@pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None, reason="needs fusionsdk[memory]"
)
def test_minilm_loads_once_per_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sentence_transformers

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loads: list[str] = []
    real = sentence_transformers.SentenceTransformer

    def counting(folder: str, *args: object, **kwargs: object) -> object:
        loads.append(folder)
        return real(folder, *args, **kwargs)

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", counting)
    minilm_load = __import__("fusionsdk.memory.embedders.minilm", fromlist=["_load"])._load
    if hasattr(minilm_load, "cache_clear"):
        minilm_load.cache_clear()
    config = write_config(tmp_path, "minilm")
    for _ in range(3):
        store, _ = open_memory(config)
        with store:
            assert store.query("lamp warranty", 1) is not None
    assert len(loads) <= 1, loads  # opened three times, the model loaded at most once

"""Ingest: labels, de-duplication by content, idempotence, stale chunks, acknowledged batches."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from fusionsdk.errors import ConfigError
from fusionsdk.memory.base import Chunk, Hit, MemoryStore
from fusionsdk.memory.errors import IngestError
from fusionsdk.memory.ingest import content_id, ingest
from fusionsdk.memory.stores.chroma import EphemeralChromaStore, PersistentChromaStore


def test_ingest_labels_every_chunk(store: EphemeralChromaStore, docs: Path) -> None:
    report = ingest(store, [docs], trust="trusted", sensitivity="sensitive", root=docs)
    assert (report.files, report.added, report.duplicates) == (4, report.chunks, 0)
    assert set(report.sources) == {"lamp.md", "returns.txt", "nested/support.html", "manual.pdf"}
    chunks = store.get()
    assert len(chunks) == store.count() == report.chunks
    for chunk in chunks:
        meta = chunk.metadata
        assert meta["trust"] == "trusted" and meta["sensitivity"] == "sensitive"
        assert meta["created_at"].endswith("+00:00") and meta["source"] in report.sources
        assert chunk.id == content_id(chunk.text)
    lamp = next(c for c in chunks if c.metadata["source"] == "lamp.md")
    assert (lamp.metadata["title"], lamp.metadata["kind"], lamp.metadata["chunk"]) == (
        "Lumen lamp",
        "markdown",
        0,
    )


def test_ingest_is_idempotent_and_dedupes_by_content(store: EphemeralChromaStore, docs: Path) -> None:
    (docs / "copy.txt").write_text((docs / "returns.txt").read_text().replace(" ", "  "))
    first = ingest(store, [docs], root=docs)
    assert first.chunks == 5 and first.added == 4 and first.duplicates == 1
    again = ingest(store, [docs, docs / "lamp.md"], root=docs)
    assert (again.added, again.duplicates, again.removed) == (0, 5, 0)
    assert store.count() == 4


def test_source_labels_outside_the_root_are_absolute(
    store: EphemeralChromaStore, docs: Path, tmp_path: Path
) -> None:
    report = ingest(store, [docs / "lamp.md"], root=tmp_path / "elsewhere")
    assert list(report.sources) == [(docs / "lamp.md").resolve().as_posix()]


def test_a_changed_file_loses_its_stale_chunks(store: EphemeralChromaStore, docs: Path) -> None:
    ingest(store, [docs], root=docs)
    (docs / "returns.txt").write_text("Returns are now accepted within 60 days.\n")
    report = ingest(store, [docs], root=docs)
    assert (report.added, report.removed) == (1, 1)
    texts = [c.text for c in store.get(where={"source": "returns.txt"})]
    assert texts == ["Returns are now accepted within 60 days."]


def test_batches_are_acknowledged_after_they_are_stored(store: EphemeralChromaStore, tmp_path: Path) -> None:
    (tmp_path / "long.txt").write_text(" ".join(f"sentence {i} about lamps." for i in range(400)))
    acked: list[tuple[int, int, int]] = []

    def on_batch(ids: Sequence[str], added: int) -> None:
        acked.append((len(ids), added, store.count()))

    report = ingest(store, [tmp_path], chunk_tokens=40, overlap=8, batch_size=5, on_batch=on_batch)
    assert sum(n for n, _, _ in acked) == report.chunks > 10
    assert all(size <= 5 for size, _, _ in acked)
    assert [count for _, _, count in acked] == sorted(count for _, _, count in acked)
    assert acked[-1][2] == report.added


class _AddOnly(MemoryStore):
    """A store with only the abstract methods: no listing, no deleting."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: dict[str, Chunk] = {}

    def add(self, chunks: Sequence[Chunk]) -> int:
        new = [c for c in chunks if c.id not in self.chunks]
        self.chunks.update((c.id, c) for c in new)
        return len(new)

    def query(self, text: str, k: int = 5, where: object = None) -> list[Hit]:
        return []

    def count(self) -> int:
        return len(self.chunks)


def test_stores_that_cannot_list_keep_stale_chunks(docs: Path) -> None:
    store = _AddOnly()
    ingest(store, [docs / "returns.txt"], root=docs)
    (docs / "returns.txt").write_text("Changed.\n")
    assert ingest(store, [docs / "returns.txt"], root=docs).removed == 0
    assert store.count() == 2


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"trust": "maybe"}, "trust"),
        ({"sensitivity": "secret"}, "sensitivity"),
        ({"batch_size": 0}, "batch_size"),
        ({"chunk_tokens": 2}, "chunk_tokens"),
        ({"overlap": 500}, "overlap"),
    ],
)
def test_bad_options_are_config_errors(
    store: EphemeralChromaStore, docs: Path, kwargs: dict, path: str
) -> None:
    with pytest.raises(ConfigError) as info:
        ingest(store, [docs], **kwargs)
    assert info.value.path == path
    assert store.count() == 0


def test_a_bad_file_fails_before_anything_is_written(store: EphemeralChromaStore, docs: Path) -> None:
    (docs / "bad.txt").write_bytes(b"\xff\xfe\x00\x00")
    with pytest.raises(IngestError, match="bad.txt"):
        ingest(store, [docs])
    assert store.count() == 0


def test_ingest_into_a_store_on_disk_survives_reopening(
    disk_store: PersistentChromaStore, docs: Path
) -> None:
    ingest(disk_store, [docs], root=docs)
    count = disk_store.count()
    disk_store.close()
    from fusionsdk.testing import FakeEmbedder

    with PersistentChromaStore(disk_store.options, embedder=FakeEmbedder()) as reopened:
        assert reopened.count() == count > 0
        assert reopened.query("warranty of the lamp", k=1)[0].chunk.metadata["source"] == "lamp.md"

"""Ingest files into a memory store: read, chunk, label, de-duplicate, write in acknowledged
batches.

* **Idempotent**: a chunk's id is the hash of its (whitespace-normalised) text, so ingesting the
  same files again adds nothing, and a passage that appears in two files is stored once.
* **Durable**: chunks are written in batches; a batch is acknowledged (``on_batch`` is called)
  only once the store has committed it. A crash loses at most the batch in flight, and running
  the ingest again completes it without duplicates.
* **Current**: when a file changed, its chunks that are no longer in it are removed, after the
  new ones are committed (stores that cannot list or delete keep them).

Example:
    >>> report = ingest(store, ["docs/"], trust="trusted")  # doctest: +SKIP
    >>> report.added, report.duplicates  # doctest: +SKIP
    (42, 0)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionsdk.errors import ConfigError
from fusionsdk.memory.base import Chunk, MemoryStore
from fusionsdk.memory.chunking import DEFAULT_CHUNK_TOKENS, DEFAULT_OVERLAP, chunk_text
from fusionsdk.memory.loaders import Document, collect_files, load_file
from fusionsdk.memory.metadata import SENSITIVITY, TRUST, now_iso
from fusionsdk.providers.privacy_scope import privacy_scope

__all__ = ["IngestReport", "content_id", "document_chunks", "ingest"]

#: Called after each committed batch with the ids it held and how many of them were new.
BatchCallback = Callable[[Sequence[str], int], None]


def content_id(text: str) -> str:
    """The id of a chunk: SHA-256 of its text with whitespace runs collapsed (32 hex digits)."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()[:32]


@dataclass
class IngestReport:
    """What an ingest did.

    Attributes:
        files: Files read.
        chunks: Chunks cut from them.
        added: Chunks the store did not hold yet.
        duplicates: Chunks already stored (or repeated in this ingest).
        removed: Stale chunks of changed files removed.
        sources: Each file's ``source`` label and its chunk count.
    """

    files: int = 0
    chunks: int = 0
    added: int = 0
    duplicates: int = 0
    removed: int = 0
    sources: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "files": self.files,
            "chunks": self.chunks,
            "added": self.added,
            "duplicates": self.duplicates,
            "removed": self.removed,
            "sources": dict(self.sources),
        }


def source_label(path: Path, root: Path | None) -> str:
    """How chunks name their file: relative to ``root`` (or the working folder) when inside it,
    absolute otherwise; always with ``/``."""
    resolved = path.resolve()
    base = (root or Path.cwd()).resolve()
    try:
        return resolved.relative_to(base).as_posix()
    except ValueError:
        return resolved.as_posix()


def document_chunks(
    document: Document,
    source: str,
    *,
    trust: str = "untrusted",
    sensitivity: str = "normal",
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    overlap: int = DEFAULT_OVERLAP,
    created_at: str | None = None,
) -> list[Chunk]:
    """The labelled chunks of one document (before de-duplication)."""
    stamp = created_at or now_iso()
    return [
        Chunk(
            content_id(piece.text),
            piece.text,
            {
                "source": source,
                "title": document.title or source,
                "kind": document.kind,
                "chunk": piece.index,
                "trust": trust,
                "sensitivity": sensitivity,
                "created_at": stamp,
            },
        )
        for piece in chunk_text(document.text, chunk_tokens=chunk_tokens, overlap=overlap)
    ]


def _check_labels(trust: str, sensitivity: str, batch_size: int) -> None:
    if trust not in TRUST:
        raise ConfigError(f"must be one of {', '.join(TRUST)}, got {trust!r}", path="trust")
    if sensitivity not in SENSITIVITY:
        raise ConfigError(f"must be one of {', '.join(SENSITIVITY)}, got {sensitivity!r}", path="sensitivity")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"must be a whole number of at least 1, got {batch_size!r}", path="batch_size")


def _remove_stale(store: MemoryStore, sources: Iterable[str], current: set[str]) -> int:
    """Delete chunks of ``sources`` whose ids this ingest did not produce (changed files)."""
    if type(store).get is MemoryStore.get or type(store).delete is MemoryStore.delete:
        return 0  # the store cannot list or delete: keep the old chunks
    removed = 0
    for source in sources:
        stale = [c.id for c in store.get(where={"source": source}) if c.id not in current]
        removed += store.delete(stale) if stale else 0
    return removed


def ingest(
    store: MemoryStore,
    paths: Iterable[str | Path],
    *,
    trust: str = "untrusted",
    sensitivity: str = "normal",
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    overlap: int = DEFAULT_OVERLAP,
    batch_size: int = 64,
    root: Path | None = None,
    on_batch: BatchCallback | None = None,
    on_total: Callable[[int], None] | None = None,
) -> IngestReport:
    """Read, chunk, label and store files and folders (see the module docstring).

    Args:
        store: Where the chunks go.
        paths: Files and folders (folders are walked recursively).
        trust: ``trusted`` or ``untrusted`` (retrieved text is fenced as data either way).
        sensitivity: ``normal`` or ``sensitive`` (sensitive chunks keep a run on local models).
        chunk_tokens: Tokens per chunk.
        overlap: Tokens shared by consecutive chunks.
        batch_size: Chunks per committed batch.
        root: Folder that ``source`` labels are relative to (default: the working folder).
        on_batch: Called after each committed batch.
        on_total: Called once, before anything is embedded, with the number of chunks to
            commit (what a progress bar counts ``on_batch``'s chunks against).

    Raises:
        IngestError: A path is missing or a file cannot be read (before anything is written).
        ConfigError: Bad labels or sizes.
        MemoryStoreError: The store failed; batches acknowledged before stay stored.
    """
    _check_labels(trust, sensitivity, batch_size)
    files = collect_files(paths)
    documents = [(load_file(path), source_label(path, root)) for path in files]
    report = IngestReport(files=len(documents))
    seen: set[str] = set()
    pending: list[Chunk] = []

    def flush() -> None:
        if pending:
            # chunks labelled sensitive never go to a hosted embedder (the privacy gate)
            with privacy_scope(sensitivity == "sensitive", ["memory"]):
                added = store.add(pending)
            report.added += added
            report.duplicates += len(pending) - added
            if on_batch is not None:
                on_batch([c.id for c in pending], added)
            pending.clear()

    stamp = now_iso()
    fresh: list[Chunk] = []
    for document, source in documents:
        chunks = document_chunks(
            document,
            source,
            trust=trust,
            sensitivity=sensitivity,
            chunk_tokens=chunk_tokens,
            overlap=overlap,
            created_at=stamp,
        )
        report.chunks += len(chunks)
        report.sources[source] = len(chunks)
        for chunk in chunks:
            if chunk.id in seen:
                report.duplicates += 1
                continue
            seen.add(chunk.id)
            fresh.append(chunk)
    if on_total is not None:
        on_total(len(fresh))
    for chunk in fresh:  # chunking is cheap; embedding and committing are the long part
        pending.append(chunk)
        if len(pending) >= batch_size:
            flush()
    flush()
    # only now, with every new chunk committed: a passage shared with another file stays
    report.removed = _remove_stale(store, report.sources, seen)
    return report

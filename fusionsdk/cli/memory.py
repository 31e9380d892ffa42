"""``fusionsdk memory``: add files to a memory store, search it, and see what it holds.

Thin: parses, calls :mod:`fusionsdk.memory` and prints. With several memories in a config,
``--memory NAME`` picks one; without ``--config`` the default memory is embedded Chroma in
``$FUSIONSDK_HOME/memory`` with the ``minilm`` embedder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from fusionsdk.cli._common import JSON_OPTION, command_group, print_json, stdout
from fusionsdk.cli.base import Command
from fusionsdk.cli.progress import progress
from fusionsdk.errors import ConfigError

__all__ = ["MemoryCommand"]

CONFIG = typer.Option(
    None, "--config", "-c", help="YAML config with a memory: section (default: $FUSIONSDK_HOME/memory)."
)
MEMORY = typer.Option(None, "--memory", "-m", help="Which memory of the config (when it has several).")
COLLECTION = typer.Option(None, "--collection", help="Use this collection instead of the configured one.")


def _parse_where(items: list[str] | None) -> dict[str, Any]:
    where: dict[str, Any] = {}
    for i, item in enumerate(items or []):
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"expected key=value, got {item!r}", path=f"--where[{i}]")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        if not isinstance(value, str | int | float | bool):
            value = raw
        where[key.strip()] = value
    return where


def add_command(
    paths: list[Path] = typer.Argument(..., help="Files and folders (.txt .md .html .pdf ...)."),
    config: Path | None = CONFIG,
    memory: str | None = MEMORY,
    collection: str | None = COLLECTION,
    trust: str = typer.Option("untrusted", "--trust", help="Label: trusted or untrusted."),
    sensitive: bool = typer.Option(
        False, "--sensitive", help="Label the chunks sensitive (local models only)."
    ),
    chunk_tokens: int = typer.Option(200, "--chunk-tokens", help="Tokens per chunk."),
    overlap: int = typer.Option(40, "--overlap", help="Tokens shared by consecutive chunks."),
    batch_size: int = typer.Option(64, "--batch-size", help="Chunks per committed batch."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Chunk, label, embed and store files; adding them again changes nothing."""
    from fusionsdk.memory.hub import open_memory
    from fusionsdk.memory.ingest import ingest

    store, root = open_memory(config, memory, collection=collection)
    with store, progress("memory add: embedding chunks") as bar:
        report = ingest(
            store,
            paths,
            trust=trust,
            sensitivity="sensitive" if sensitive else "normal",
            chunk_tokens=chunk_tokens,
            overlap=overlap,
            batch_size=batch_size,
            root=root,
            on_total=bar.set_total,
            on_batch=lambda ids, _added: bar.advance(steps=len(ids)),
        )
        total = store.count()
    if as_json:
        print_json({**report.as_dict(), "total": total})
        return
    stdout.print(
        f"{report.files} files, {report.chunks} chunks: {report.added} added, {report.duplicates} "
        f"already stored, {report.removed} stale removed; the store holds {total}",
        markup=False,
    )


def query_command(
    text: str = typer.Argument(..., help="What to search for."),
    config: Path | None = CONFIG,
    memory: str | None = MEMORY,
    collection: str | None = COLLECTION,
    k: int = typer.Option(5, "--k", "-k", help="How many chunks."),
    mmr: bool = typer.Option(False, "--mmr", help="Diverse results (maximal marginal relevance)."),
    where: list[str] | None = typer.Option(None, "--where", help="Metadata filter key=value (repeatable)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The chunks nearest to TEXT, nearest first."""
    from fusionsdk.memory.hub import open_memory

    filters = _parse_where(where) or None
    if k < 1:
        raise ConfigError(f"must be at least 1, got {k}", path="--k")
    store, _ = open_memory(config, memory, collection=collection)
    with store:
        hits = (
            store.query_mmr(text, k, fetch_k=max(20, k), where=filters)
            if mmr
            else store.query(text, k, filters)
        )
    if as_json:
        print_json(
            [
                {
                    "id": h.chunk.id,
                    "text": h.chunk.text,
                    "metadata": dict(h.chunk.metadata),
                    "distance": h.distance,
                }
                for h in hits
            ]
        )
        return
    if not hits:
        stdout.print("no matching chunks", markup=False)
    for i, hit in enumerate(hits, 1):
        source = hit.chunk.metadata.get("source", "?")
        stdout.print(f"[{i}] {source} (distance {hit.distance:.3f})", markup=False, style="bold")
        stdout.print(
            hit.chunk.text if len(hit.chunk.text) <= 400 else hit.chunk.text[:400] + "...", markup=False
        )
        stdout.print()


def stats_command(
    config: Path | None = CONFIG,
    memory: str | None = MEMORY,
    collection: str | None = COLLECTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """How many chunks the memory holds, from which sources, with which labels."""
    from fusionsdk.memory.hub import open_memory
    from fusionsdk.memory.stats import store_stats

    store, _ = open_memory(config, memory, collection=collection)
    with store:
        summary = store_stats(store)
    if as_json:
        print_json(summary)
        return
    where = summary.get("path") or f"{summary.get('host', '')}:{summary.get('port', '')}"
    stdout.print(
        f"{summary['chunks']} chunks in collection {summary.get('collection', '?')} ({summary['store']}, "
        f"{where}); embedder {summary.get('embedder', '?')}; sensitive {summary['sensitive']}; "
        + ", ".join(f"{label} {n}" for label, n in summary["trust"].items()),
        markup=False,
    )
    table = Table("source", "chunks")
    for source, count in summary["sources"].items():
        table.add_row(source, str(count))
    stdout.print(table)


class MemoryCommand(Command):
    """``fusionsdk memory``: add files to a memory, query it, show its statistics."""

    def build(self) -> Any:
        return command_group(
            "Add files to a memory store and search it.",
            add=add_command,
            query=query_command,
            stats=stats_command,
        )

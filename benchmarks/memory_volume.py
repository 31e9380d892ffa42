"""Memory at volume: 100,000 chunks into the embedded and the server Chroma stores, against raw
chromadb doing the same in the same run.

1. **Corpus**: real text, not written for the benchmark: the GSM8K questions and 42 models'
   recorded answers of the replay file, cut into chunks of at most 240 characters, until there
   are ``--chunks`` of them (each chunk's ``source`` is its question's id).
2. **Embeddings**: the model-free ``hashing`` embedder (384 dimensions, words only), computed once
   and timed apart; both sides then get the same vectors (fusionsdk's store through an embedder
   that looks them up), so the comparison is of the store layers, not of embedding.
3. **Ingest**: fusionsdk's ``store.add`` in batches of ``--batch`` with a progress bar, against
   ``collection.add`` with the same batches, for the embedded store (``chroma``, on disk) and
   the server store (``chroma_server``, a ``chroma run`` process on 127.0.0.1; each side gets a
   fresh server of its own, so neither writes into the other's files).
4. **Queries**: top-5 for ``--queries`` GSM8K questions, ``store.query`` against
   ``collection.query``, alternating query by query; p50 and p95. Target: every ratio <= 1.2.
5. **A retrieval sanity check** on the same data: a question is a hit at 5 when one of its 5
   chunks comes from that question's answers (not a labelled retrieval set: hit@k on the labelled
   set of 1,319 queries in ``tests/data/retrieval/`` is part 4 of ``benchmarks/memory.py``).

    python benchmarks/memory_volume.py [REPLAY.jsonl.gz] [--chunks 100000] [--queries 300] [--json FILE]
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import httpx
from _common import markdown_table, percentile, verdict, write_json
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fusionsdk.memory.base import Chunk, Embedder
from fusionsdk.memory.embedders.hashing import HashingEmbedder
from fusionsdk.memory.stores._embedded import chroma_settings
from fusionsdk.memory.stores.chroma import HttpChromaStore, PersistentChromaStore

REPLAY = Path("/work/shared/data/replay/gsm8k.jsonl.gz")
EMBEDDER = {"dimension": 384, "char_ngrams": [], "word_pairs": False}
TARGET = 1.2


class LookupEmbedder(Embedder):
    """Returns the precomputed vector of each text (benchmark only)."""

    dimension: ClassVar[int] = EMBEDDER["dimension"]  # type: ignore[assignment]

    def __init__(self, table: dict[str, list[float]]) -> None:
        super().__init__()
        self.table = table

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.table[text] for text in texts]


def pieces(text: str, size: int = 240) -> Iterator[str]:
    """Cut ``text`` into pieces of at most ``size`` characters, at spaces."""
    piece: list[str] = []
    length = 0
    for word in text.split():
        if piece and length + len(word) + 1 > size:
            yield " ".join(piece)
            piece, length = [], 0
        piece.append(word[:size])
        length += len(word) + 1
    if piece:
        yield " ".join(piece)


def corpus(path: Path, n: int) -> tuple[list[Chunk], list[tuple[str, str]]]:
    """``n`` chunks of the replay file's texts, and every (row id, question)."""
    chunks: list[Chunk] = []
    questions: list[tuple[str, str]] = []
    seen: set[str] = set()
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    for row in rows:
        questions.append((row["id"], row["question"]))
    per_row = []
    for row in rows:
        texts = [row["question"], *row["outputs"].values()]
        per_row.append(
            [
                (f"{row['id']}/{t}/{i}", piece, row["id"])
                for t, text in enumerate(texts)
                for i, piece in enumerate(pieces(text))
            ]
        )
    level = 0
    while len(chunks) < n and any(level < len(p) for p in per_row):  # round-robin over the rows
        for row_pieces in per_row:
            if level < len(row_pieces) and len(chunks) < n:
                chunk_id, piece, source = row_pieces[level]
                if piece not in seen:
                    seen.add(piece)
                    chunks.append(Chunk(chunk_id, piece, {"source": source}))
        level += 1
    return chunks[:n], questions


def start_server(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``chroma run`` on a free port of 127.0.0.1."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or "chroma"
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        [chroma, "run", "--path", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={"ANONYMIZED_TELEMETRY": "False", "PATH": "/usr/bin:/bin"},
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                return process, port
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"chroma run did not start: {(folder / 'server.log').read_text()[-2000:]}")
        time.sleep(0.3)


def progress(label: str) -> Progress:
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True)


def ingest_ours(store: Any, chunks: list[Chunk], batch: int) -> float:
    started = time.perf_counter()
    with progress("fusionsdk ingest") as bar:
        task = bar.add_task("chunks", total=len(chunks))
        for i in range(0, len(chunks), batch):
            store.add(chunks[i : i + batch])
            bar.advance(task, len(chunks[i : i + batch]))
    return time.perf_counter() - started


def ingest_raw(collection: Any, chunks: list[Chunk], vectors: list[list[float]], batch: int) -> float:
    started = time.perf_counter()
    with progress("chromadb ingest") as bar:
        task = bar.add_task("chunks", total=len(chunks))
        for i in range(0, len(chunks), batch):
            part = chunks[i : i + batch]
            collection.add(
                ids=[c.id for c in part],
                documents=[c.text for c in part],
                metadatas=[dict(c.metadata) for c in part],
                embeddings=vectors[i : i + batch],
            )
            bar.advance(task, len(part))
    return time.perf_counter() - started


def compare(
    kind: str,
    ours: Any,
    raw: Any,
    chunks: list[Chunk],
    vectors: list[list[float]],
    queries: list[Any],
    batch: int,
) -> dict[str, Any]:
    """Ingest into both (raw first for the embedded store, fusionsdk first for the server), then
    alternate queries."""
    if kind.startswith("server"):
        ours_s = ingest_ours(ours, chunks, batch)
        raw_s = ingest_raw(raw, chunks, vectors, batch)
    else:
        raw_s = ingest_raw(raw, chunks, vectors, batch)
        ours_s = ingest_ours(ours, chunks, batch)
    assert ours.count() == raw.count() == len(chunks), (ours.count(), raw.count())
    times: dict[str, list[float]] = {"fusionsdk": [], "chromadb": []}
    hits = 0
    for i, (row_id, text, vector) in enumerate(queries):
        for side in ("fusionsdk", "chromadb") if i % 2 == 0 else ("chromadb", "fusionsdk"):
            started = time.perf_counter()
            if side == "fusionsdk":
                found = ours.query(text, k=5)
            else:
                raw.query(query_embeddings=[vector], n_results=5)
            times[side].append(time.perf_counter() - started)
        hits += any(hit.chunk.metadata.get("source") == row_id for hit in found)
    p50 = {s: percentile(t, 50) * 1000 for s, t in times.items()}
    p95 = {s: percentile(t, 95) * 1000 for s, t in times.items()}
    return {
        "store": kind,
        "ingest_s": {"fusionsdk": ours_s, "chromadb": raw_s},
        "chunks_per_s": {"fusionsdk": len(chunks) / ours_s, "chromadb": len(chunks) / raw_s},
        "ingest_ratio": ours_s / raw_s,
        "p50_ms": p50,
        "p95_ms": p95,
        "p50_ratio": p50["fusionsdk"] / p50["chromadb"],
        "p95_ratio": p95["fusionsdk"] / p95["chromadb"],
        "hit_at_5": hits / len(queries),
    }


def main(
    path: Path,
    n: int,
    n_queries: int,
    batch: int,
    json_path: Path | None,
    stores: Sequence[str] = ("embedded", "server"),
) -> str:
    if not path.exists():
        return f"**Not measured: the replay file {path} is missing.**"
    import chromadb

    chunks, questions = corpus(path, n)
    embedder = HashingEmbedder(EMBEDDER)
    started = time.perf_counter()
    vectors = embedder.embed([c.text for c in chunks])
    embed_s = time.perf_counter() - started
    step = max(1, len(questions) // n_queries)
    picked = questions[::step][:n_queries]
    query_vectors = embedder.embed([q for _, q in picked])
    table = {c.text: v for c, v in zip(chunks, vectors, strict=True)}
    table.update({q: v for (_, q), v in zip(picked, query_vectors, strict=True)})
    queries = [(row_id, q, v) for (row_id, q), v in zip(picked, query_vectors, strict=True)]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "embedded" in stores:
            ours = PersistentChromaStore(
                {"path": str(folder / "ours"), "collection": "bench", "batch_size": batch},
                embedder=LookupEmbedder(table),
            )
            client = chromadb.PersistentClient(path=str(folder / "raw"), settings=chroma_settings())
            raw = client.create_collection("bench", metadata={"hnsw:space": "cosine"})
            results.append(compare("embedded (`chroma`)", ours, raw, chunks, vectors, queries, batch))
            ours.close()
        if "server" in stores:  # one fresh server per side, so neither writes into the other's files
            (folder / "s1").mkdir()
            (folder / "s2").mkdir()
            ours_server, ours_port = start_server(folder / "s1")
            raw_server, raw_port = start_server(folder / "s2")
            try:
                ours_http = HttpChromaStore(
                    {"port": ours_port, "collection": "bench", "batch_size": batch},
                    embedder=LookupEmbedder(table),
                )
                http = chromadb.HttpClient(host="127.0.0.1", port=raw_port, settings=chroma_settings())
                raw_http = http.create_collection("bench", metadata={"hnsw:space": "cosine"})
                results.append(
                    compare("server (`chroma_server`)", ours_http, raw_http, chunks, vectors, queries, batch)
                )
                ours_http.close()
            finally:
                for server in (ours_server, raw_server):
                    server.terminate()
                    server.wait(timeout=30)
    met = all(max(r["ingest_ratio"], r["p50_ratio"], r["p95_ratio"]) <= TARGET for r in results)
    write_json(
        json_path,
        {
            "chunks": len(chunks),
            "queries": len(queries),
            "embed_s": embed_s,
            "results": results,
            "target_met": met,
        },
    )
    rows = []
    for r in results:
        for measure, ours_figure, raw_figure, ratio in (
            (
                "ingest (chunks/s)",
                r["chunks_per_s"]["fusionsdk"],
                r["chunks_per_s"]["chromadb"],
                r["ingest_ratio"],
            ),
            ("query p50 (ms)", r["p50_ms"]["fusionsdk"], r["p50_ms"]["chromadb"], r["p50_ratio"]),
            ("query p95 (ms)", r["p95_ms"]["fusionsdk"], r["p95_ms"]["chromadb"], r["p95_ratio"]),
        ):
            digits = 0 if measure.startswith("ingest") else 2
            rows.append(
                [
                    r["store"],
                    measure,
                    f"{ours_figure:.{digits}f}",
                    f"{raw_figure:.{digits}f}",
                    f"{ratio:.3f}",
                    verdict(ratio <= TARGET),
                ]
            )
    return "\n".join(
        [
            f"{len(chunks):,} chunks, {len(queries)} queries, batches of {batch}; embedding with "
            f"`hashing` (384 dimensions, words only) took {embed_s:.1f} s, outside the timings below.",
            "",
            markdown_table(
                ["store", "measure", "fusionsdk", "chromadb", "ratio (time)", f"target <= {TARGET}"], rows
            ),
            "",
            "Correctness check at volume (the query's own text is among the chunks; a pass is a chunk "
            "of its row in the top 5; not a retrieval-quality figure): "
            + ", ".join(f"{r['store']} {r['hit_at_5']:.1%} passed" for r in results)
            + ".",
        ]
    )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=REPLAY, help="The GSM8K replay file.")
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--stores", default="embedded,server", help="Which stores: embedded, server or both.")
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    stores = options.stores.split(",")
    print(main(options.dataset, options.chunks, options.queries, options.batch, options.json, stores))

"""Memory: fusionsdk's embedded Chroma store against raw chromadb, and retrieval quality.

1. **Ingest**: 10,000 chunks (with metadata) into a fresh on-disk store, in batches of 500,
   through ``PersistentChromaStore.add`` and through ``chromadb`` ``collection.add`` directly.
   Both sides get the same precomputed 384-dimension embeddings (fusionsdk's through an
   embedder that looks them up), so only the store layers are compared: fusionsdk adds input
   checks, metadata checks, the existing-id check that spares re-embedding, and the new-chunk
   count. Runs alternate between the sides; the ratio is of the medians (target <= 1.1).
2. **Query latency**: top-5 queries against the 10,000 chunks, ``store.query`` against
   ``collection.query`` with the same precomputed query vectors, alternating query by query;
   p50 and p95 (target ratio <= 1.1 for both).
3. **Retrieval quality**: hit@5 of the ``minilm`` embedder on the labelled set in
   ``benchmarks/data/memory`` (5 documents, 42 questions), ingested with ``fusionsdk.memory.ingest``.
4. **A public labelled set, fusionsdk against raw chromadb**: the 1,319 GSM8K test questions, each
   with its one relevant document, a recorded worked solution to that question, among all 1,319
   (``tests/data/retrieval/``, MIT and Apache-2.0; see its README). Every text is embedded once
   with ``minilm`` (timed apart); the solutions are ingested into fusionsdk's embedded store and
   into raw chromadb with those vectors (median of ``--rounds`` alternating runs), then every
   question is run as a top-10 query on both, alternating, ``--rounds`` times: hit@1/5/10 with
   Wilson 95% intervals, MRR@10, how many queries the two sides rank differently, query p50/p95
   (target: ratios <= 1.2) and the median paired difference; and, for contrast, the model-free
   ``hashing`` embedder's hit@k on the same set.

    python benchmarks/memory.py [--chunks 10000] [--queries 500] [--rounds 5] [--json FILE]
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from _common import REPO, machine_facts, markdown_table, median, parser, percentile, verdict, write_json

from fusionsdk.eval.metrics import wilson_interval
from fusionsdk.memory.base import Chunk, Embedder
from fusionsdk.memory.stores._embedded import chroma_settings
from fusionsdk.memory.stores.chroma import PersistentChromaStore

DIMENSION = 384
BATCH = 500
DATA = REPO / "benchmarks" / "data" / "memory"
PUBLIC = REPO / "tests" / "data" / "retrieval" / "gsm8k_solutions.jsonl.gz"
PUBLIC_K = (1, 5, 10)
PUBLIC_TARGET = 1.2
WORDS = [
    "river",
    "harbour",
    "lamp",
    "bicycle",
    "bread",
    "starter",
    "vent",
    "valve",
    "charter",
    "guild",
    "tower",
    "siege",
    "rent",
    "board",
    "proxy",
    "meeting",
    "quorum",
    "pump",
    "relay",
    "sensor",
    "probe",
    "frost",
    "tyre",
    "brake",
    "chain",
    "hinge",
    "frame",
    "dough",
    "crust",
    "oven",
    "flour",
    "salt",
    "water",
    "museum",
    "canal",
    "railway",
    "ironworks",
    "garden",
    "roof",
    "guest",
    "storage",
]


class LookupEmbedder(Embedder):
    """Returns the precomputed vector of each text (benchmark only)."""

    dimension: ClassVar[int] = DIMENSION

    def __init__(self, table: dict[str, list[float]]) -> None:
        super().__init__()
        self.table = table

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.table[text] for text in texts]


def unit_vector(rng: random.Random) -> list[float]:
    values = [rng.gauss(0.0, 1.0) for _ in range(DIMENSION)]
    norm = sum(v * v for v in values) ** 0.5
    return [v / norm for v in values]


def corpus(n: int, seed: int = 7) -> tuple[list[Chunk], list[list[float]]]:
    rng = random.Random(seed)
    chunks = [
        Chunk(
            f"chunk-{i:06d}",
            f"Note {i}: " + " ".join(rng.choice(WORDS) for _ in range(60)),
            {"source": f"doc-{i // 20}.md", "chunk": i % 20, "trust": "untrusted", "sensitivity": "normal"},
        )
        for i in range(n)
    ]
    return chunks, [unit_vector(rng) for _ in chunks]


def ingest_fusionsdk(folder: Path, chunks: list[Chunk], vectors: list[list[float]]) -> float:
    store = PersistentChromaStore(
        {"path": str(folder), "collection": "bench", "batch_size": BATCH},
        embedder=LookupEmbedder({c.text: v for c, v in zip(chunks, vectors, strict=True)}),
    )
    assert store.count() == 0  # opens client and collection before the clock, as ingest_raw does
    started = time.perf_counter()
    added = sum(store.add(chunks[i : i + BATCH]) for i in range(0, len(chunks), BATCH))
    elapsed = time.perf_counter() - started
    assert added == len(chunks) and store.count() == len(chunks)
    store.close()
    return elapsed


def ingest_raw(folder: Path, chunks: list[Chunk], vectors: list[list[float]]) -> float:
    import chromadb

    client = chromadb.PersistentClient(path=str(folder), settings=chroma_settings())
    collection = client.get_or_create_collection(
        "bench", metadata={"hnsw:space": "cosine"}, embedding_function=None
    )
    started = time.perf_counter()
    for i in range(0, len(chunks), BATCH):
        batch = chunks[i : i + BATCH]
        collection.add(
            ids=[c.id for c in batch],
            embeddings=vectors[i : i + BATCH],
            documents=[c.text for c in batch],
            metadatas=[dict(c.metadata) for c in batch],
        )
    elapsed = time.perf_counter() - started
    assert collection.count() == len(chunks)
    client.close()
    return elapsed


def measure_ingest(chunks: list[Chunk], vectors: list[list[float]], rounds: int) -> dict[str, Any]:
    times: dict[str, list[float]] = {"fusionsdk": [], "chromadb": []}
    with tempfile.TemporaryDirectory() as tmp:
        ingest_fusionsdk(Path(tmp) / "warm-ours", chunks[:BATCH], vectors[:BATCH])  # first-use costs
        ingest_raw(Path(tmp) / "warm-raw", chunks[:BATCH], vectors[:BATCH])
        for r in range(rounds):
            order = [("fusionsdk", ingest_fusionsdk), ("chromadb", ingest_raw)]
            for name, run in order if r % 2 == 0 else order[::-1]:
                folder = Path(tmp) / f"{name}-{r}"
                times[name].append(run(folder, chunks, vectors))
                shutil.rmtree(folder, ignore_errors=True)
    ours, raw = median(times["fusionsdk"]), median(times["chromadb"])
    return {
        "chunks": len(chunks),
        "rounds": rounds,
        "fusionsdk_s": round(ours, 3),
        "chromadb_s": round(raw, 3),
        "fusionsdk_chunks_per_s": round(len(chunks) / ours),
        "chromadb_chunks_per_s": round(len(chunks) / raw),
        "ratio": round(ours / raw, 3),
    }


def measure_queries(chunks: list[Chunk], vectors: list[list[float]], queries: int) -> dict[str, Any]:
    import chromadb

    rng = random.Random(11)
    probes = [(f"query {i}", unit_vector(rng)) for i in range(queries)]
    table = {c.text: v for c, v in zip(chunks, vectors, strict=True)} | dict(probes)
    with tempfile.TemporaryDirectory() as tmp:
        store = PersistentChromaStore(
            {"path": str(Path(tmp) / "ours"), "collection": "bench", "batch_size": BATCH},
            embedder=LookupEmbedder(table),
        )
        store.add(chunks)
        client = chromadb.PersistentClient(path=str(Path(tmp) / "raw"), settings=chroma_settings())
        collection = client.get_or_create_collection(
            "bench", metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        for i in range(0, len(chunks), BATCH):
            collection.add(
                ids=[c.id for c in chunks[i : i + BATCH]],
                embeddings=vectors[i : i + BATCH],
                documents=[c.text for c in chunks[i : i + BATCH]],
                metadatas=[dict(c.metadata) for c in chunks[i : i + BATCH]],
            )
        include = ["documents", "metadatas", "distances"]
        for text, vector in probes[:20]:  # warm both
            store.query(text, 5)
            collection.query(query_embeddings=[vector], n_results=5, include=include)
        ours, raw, same = [], [], 0
        for i, (text, vector) in enumerate(probes):
            for side in ("ours", "raw") if i % 2 == 0 else ("raw", "ours"):
                started = time.perf_counter()
                if side == "ours":
                    hits = store.query(text, 5)
                else:
                    found = collection.query(query_embeddings=[vector], n_results=5, include=include)
                (ours if side == "ours" else raw).append(time.perf_counter() - started)
            assert len(hits) == len(found["ids"][0]) == 5
            same += [h.chunk.id for h in hits] == found["ids"][0]  # HNSW graphs may differ slightly
        store.close()
        client.close()
    result: dict[str, Any] = {"queries": queries, "k": 5, "same_ids_share": round(same / queries, 3)}
    for q in (50, 95):
        mine, theirs = percentile(ours, q) * 1000, percentile(raw, q) * 1000
        result |= {
            f"fusionsdk_p{q}_ms": round(mine, 3),
            f"chromadb_p{q}_ms": round(theirs, 3),
            f"ratio_p{q}": round(mine / theirs, 3),
        }
    return result


def measure_quality(k: int = 5) -> dict[str, Any]:
    from fusionsdk.memory.ingest import ingest
    from fusionsdk.memory.stores.chroma import EphemeralChromaStore
    from fusionsdk.registry import default_registry

    rows = [json.loads(line) for line in (DATA / "questions.jsonl").read_text().splitlines() if line.strip()]
    embedder = default_registry().get("embedders", "minilm")()
    store = EphemeralChromaStore({"collection": "quality"}, embedder=embedder)
    report = ingest(store, [DATA / "docs"], chunk_tokens=80, overlap=16, root=DATA / "docs")
    started = time.perf_counter()
    ranks: list[int | None] = []  # rank of the first chunk that answers, within the top k
    for row in rows:
        found = store.query(row["question"], k)
        ranks.append(
            next(
                (
                    i
                    for i, h in enumerate(found, 1)
                    if h.chunk.metadata.get("source") == row["source"]
                    and row["answer"].lower() in h.chunk.text.lower()
                ),
                None,
            )
        )
    elapsed = time.perf_counter() - started
    store.close()
    return {
        "embedder": embedder.identity,
        "documents": report.files,
        "chunks": report.chunks,
        "questions": len(rows),
        "hit_at_1": round(sum(r == 1 for r in ranks) / len(rows), 3),
        f"hit_at_{k}": round(sum(r is not None for r in ranks) / len(rows), 3),
        f"mrr_at_{k}": round(sum(1 / r for r in ranks if r) / len(rows), 3),
        "misses": [row["id"] for row, r in zip(rows, ranks, strict=True) if r is None],
        "query_ms_mean": round(elapsed / len(rows) * 1000, 2),
    }


def load_public(path: Path = PUBLIC) -> list[dict[str, str]]:
    """The labelled set: rows of ``id``, ``question`` (the query) and ``solution`` (its document)."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def first_rank(found: Sequence[str], relevant: str) -> int | None:
    """1-based position of ``relevant`` in ``found``, or None."""
    return next((i for i, chunk_id in enumerate(found, 1) if chunk_id == relevant), None)


def rank_figures(ranks: Sequence[int | None], depth: int) -> dict[str, Any]:
    """hit@k with its Wilson 95% interval for each k, and MRR@depth with a normal 95% interval."""
    n = len(ranks)
    figures: dict[str, Any] = {}
    for k in PUBLIC_K:
        hits = sum(r is not None and r <= k for r in ranks)
        low, high = wilson_interval(hits, n)
        figures[f"hit_at_{k}"] = round(hits / n, 4)
        figures[f"hit_at_{k}_ci95"] = [round(low, 4), round(high, 4)]
    reciprocal = [1 / r if r is not None and r <= depth else 0.0 for r in ranks]
    mean = sum(reciprocal) / n
    spread = (sum((x - mean) ** 2 for x in reciprocal) / max(1, n - 1)) ** 0.5
    half = 1.96 * spread / n**0.5
    figures[f"mrr_at_{depth}"] = round(mean, 4)
    figures[f"mrr_at_{depth}_ci95"] = [round(max(0.0, mean - half), 4), round(min(1.0, mean + half), 4)]
    return figures


def measure_public(rounds: int, limit: int | None = None) -> dict[str, Any]:
    """Part 4: the public labelled set through fusionsdk's store and raw chromadb, same vectors."""
    import chromadb

    from fusionsdk.memory.embedders.hashing import HashingEmbedder
    from fusionsdk.memory.stores.chroma import EphemeralChromaStore
    from fusionsdk.registry import default_registry

    rows = load_public()[:limit]
    depth = max(PUBLIC_K)
    embedder = default_registry().get("embedders", "minilm")()
    started = time.perf_counter()
    doc_vectors = embedder.embed([r["solution"] for r in rows])
    query_vectors = embedder.embed([r["question"] for r in rows])
    embed_s = time.perf_counter() - started
    chunks = [Chunk(r["id"], r["solution"], {"source": r["id"]}) for r in rows]
    ingest_figures = measure_ingest(chunks, doc_vectors, rounds)
    table = {c.text: v for c, v in zip(chunks, doc_vectors, strict=True)}
    table |= {r["question"]: v for r, v in zip(rows, query_vectors, strict=True)}
    include = ["documents", "metadatas", "distances"]
    with tempfile.TemporaryDirectory() as tmp:
        store = PersistentChromaStore(
            {"path": str(Path(tmp) / "ours"), "collection": "public", "batch_size": BATCH},
            embedder=LookupEmbedder(table),
        )
        store.add(chunks)
        client = chromadb.PersistentClient(path=str(Path(tmp) / "raw"), settings=chroma_settings())
        collection = client.get_or_create_collection(
            "public", metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        for i in range(0, len(chunks), BATCH):
            collection.add(
                ids=[c.id for c in chunks[i : i + BATCH]],
                embeddings=doc_vectors[i : i + BATCH],
                documents=[c.text for c in chunks[i : i + BATCH]],
                metadatas=[dict(c.metadata) for c in chunks[i : i + BATCH]],
            )
        for row, vector in list(zip(rows, query_vectors, strict=True))[:20]:  # warm both
            store.query(row["question"], depth)
            collection.query(query_embeddings=[vector], n_results=depth, include=include)
        times: dict[str, list[float]] = {"fusionsdk": [], "chromadb": []}
        ranks: dict[str, list[int | None]] = {"fusionsdk": [], "chromadb": []}
        same = 0
        diverge: list[int] = []
        for round_ in range(rounds):  # every round runs every query on both sides, alternating
            for i, (row, vector) in enumerate(zip(rows, query_vectors, strict=True)):
                for side in ("fusionsdk", "chromadb") if (i + round_) % 2 == 0 else ("chromadb", "fusionsdk"):
                    started = time.perf_counter()
                    if side == "fusionsdk":
                        ours = [hit.chunk.id for hit in store.query(row["question"], depth)]
                    else:
                        found = collection.query(query_embeddings=[vector], n_results=depth, include=include)
                        raw = found["ids"][0]
                    times[side].append(time.perf_counter() - started)
                if round_ > 0:
                    continue
                ranks["fusionsdk"].append(first_rank(ours, row["id"]))
                ranks["chromadb"].append(first_rank(raw, row["id"]))
                same += ours == raw
                if ours != raw:  # where the two lists first part (HNSW is approximate)
                    diverge.append(
                        next(n for n, (a, b) in enumerate(zip(ours, raw, strict=False), 1) if a != b)
                    )
        store.close()
        client.close()
    # For contrast: the model-free hashing embedder (default options) through the same kind of store.
    contrast = EphemeralChromaStore({"collection": "contrast"}, embedder=HashingEmbedder({}))
    contrast.add(chunks)
    contrast_ranks = [
        first_rank([hit.chunk.id for hit in contrast.query(row["question"], depth)], row["id"])
        for row in rows
    ]
    contrast.close()
    result: dict[str, Any] = {
        "dataset": str(PUBLIC.relative_to(REPO)),
        "queries": len(rows),
        "documents": len(chunks),
        "embedder": embedder.identity,
        "embed_s": round(embed_s, 1),
        "ingest": ingest_figures,
        "same_top10_share": round(same / len(rows), 4),
        "lists_part_at_rank": sorted(diverge),
        "same_rank_of_relevant_every_query": ranks["fusionsdk"] == ranks["chromadb"],
        "fusionsdk": rank_figures(ranks["fusionsdk"], depth),
        "chromadb": rank_figures(ranks["chromadb"], depth),
        "hashing_contrast": rank_figures(contrast_ranks, depth),
        "hit_differs": {
            f"at_{k}": sum(
                (a is not None and a <= k) != (b is not None and b <= k)
                for a, b in zip(ranks["fusionsdk"], ranks["chromadb"], strict=True)
            )
            for k in PUBLIC_K
        },
        "misses_at_10": [r["id"] for r, rank in zip(rows, ranks["fusionsdk"], strict=True) if rank is None],
    }
    added = [a - b for a, b in zip(times["fusionsdk"], times["chromadb"], strict=True)]
    result["query_rounds"] = rounds
    result["added_ms_p50"] = round(percentile(added, 50) * 1000, 3)  # median paired difference
    for q in (50, 95):
        mine, theirs = percentile(times["fusionsdk"], q) * 1000, percentile(times["chromadb"], q) * 1000
        result |= {
            f"fusionsdk_p{q}_ms": round(mine, 3),
            f"chromadb_p{q}_ms": round(theirs, 3),
            f"ratio_p{q}": round(mine / theirs, 3),
        }
    worst = max(ingest_figures["ratio"], result["ratio_p50"], result["ratio_p95"])
    result["target_met"] = worst <= PUBLIC_TARGET
    return result


def public_table(public: dict[str, Any]) -> str:
    """Markdown for part 4."""
    ours, raw, hashing = public["fusionsdk"], public["chromadb"], public["hashing_contrast"]

    def with_ci(figures: dict[str, Any], key: str) -> str:
        low, high = figures[f"{key}_ci95"]
        return f"{figures[key]:.3f} [{low:.3f}, {high:.3f}]"

    rows: list[list[Any]] = [
        [f"hit@{k} [95% CI]", with_ci(ours, f"hit_at_{k}"), with_ci(raw, f"hit_at_{k}"),
         f"{public['hit_differs'][f'at_{k}']} queries differ", ""]
        for k in PUBLIC_K
    ]  # fmt: skip
    rows.append(["MRR@10 [95% CI]", with_ci(ours, "mrr_at_10"), with_ci(raw, "mrr_at_10"), "", ""])
    ingest = public["ingest"]
    rows.append(
        [
            f"ingest {public['documents']:,} documents (s, median of {ingest['rounds']})",
            ingest["fusionsdk_s"],
            ingest["chromadb_s"],
            ingest["ratio"],
            verdict(ingest["ratio"] <= PUBLIC_TARGET),
        ]
    )
    for q in (50, 95):
        rows.append(
            [
                f"top-10 query p{q} (ms, {public['query_rounds']} x {public['queries']:,} queries)",
                public[f"fusionsdk_p{q}_ms"],
                public[f"chromadb_p{q}_ms"],
                public[f"ratio_p{q}"],
                verdict(public[f"ratio_p{q}"] <= PUBLIC_TARGET),
            ]
        )
    return "\n".join(
        [
            f"{public['queries']:,} queries (GSM8K test questions) against {public['documents']:,} "
            f"documents (one recorded worked solution per question, the query's own the only relevant "
            f"one), `{public['embedder']}`; embedding every text took {public['embed_s']} s, outside "
            f"the timings. Same top-10 ids, in the same order, on both sides for "
            f"{public['same_top10_share']:.1%} of queries"
            + (
                f" (the others first part at rank {', '.join(map(str, public['lists_part_at_rank']))})."
                if public["lists_part_at_rank"]
                else "."
            ),
            "",
            markdown_table(
                ["measure", "fusionsdk", "chromadb", "ratio / difference", f"target <= {PUBLIC_TARGET}"], rows
            ),
            "",
            f"Time fusionsdk adds to a query (median of the paired differences): "
            f"{public['added_ms_p50'] * 1000:.0f} us.",
            "",
            "The set is easy (a worked solution repeats its question's names and numbers): for contrast, "
            "the model-free `hashing` embedder (default options) through fusionsdk's store gets hit@1 "
            f"{with_ci(hashing, 'hit_at_1')} and hit@10 {with_ci(hashing, 'hit_at_10')}.",
        ]
    )


def main() -> None:
    args_parser = parser(__doc__.splitlines()[0])
    args_parser.add_argument("--chunks", type=int, default=10_000)
    args_parser.add_argument("--queries", type=int, default=500)
    args_parser.add_argument("--rounds", type=int, default=5)
    args_parser.add_argument("--skip-quality", action="store_true", help="Skip the minilm hit@5 part.")
    args_parser.add_argument(
        "--skip-public", action="store_true", help="Skip the public labelled set (part 4, about 2 minutes)."
    )
    args_parser.add_argument("--public-limit", type=int, help="Only the first N queries of the public set.")
    args = args_parser.parse_args()
    chunks, vectors = corpus(args.chunks)
    ingest_figures = measure_ingest(chunks, vectors, args.rounds)
    query_figures = measure_queries(chunks, vectors, args.queries)
    quality = None if args.skip_quality else measure_quality()
    public = None if args.skip_public else measure_public(args.rounds, args.public_limit)
    print(f"## Memory: ingest {args.chunks:,} chunks and query, fusionsdk vs chromadb\n")
    print(
        markdown_table(
            ["measure", "fusionsdk", "chromadb", "ratio", "target <= 1.1"],
            [
                [
                    f"ingest {args.chunks:,} chunks (s, median of {args.rounds})",
                    ingest_figures["fusionsdk_s"],
                    ingest_figures["chromadb_s"],
                    ingest_figures["ratio"],
                    verdict(ingest_figures["ratio"] <= 1.1),
                ],
                [
                    "query p50 (ms)",
                    query_figures["fusionsdk_p50_ms"],
                    query_figures["chromadb_p50_ms"],
                    query_figures["ratio_p50"],
                    verdict(query_figures["ratio_p50"] <= 1.1),
                ],
                [
                    "query p95 (ms)",
                    query_figures["fusionsdk_p95_ms"],
                    query_figures["chromadb_p95_ms"],
                    query_figures["ratio_p95"],
                    verdict(query_figures["ratio_p95"] <= 1.1),
                ],
            ],
        )
    )
    if quality is not None:
        print(f"\n## Retrieval quality ({quality['embedder']})\n")
        print(
            markdown_table(
                [
                    "documents",
                    "chunks",
                    "questions",
                    "hit@1",
                    "hit@5",
                    "MRR@5",
                    "mean query (ms)",
                    "misses at 5",
                ],
                [
                    [
                        quality["documents"],
                        quality["chunks"],
                        quality["questions"],
                        quality["hit_at_1"],
                        quality["hit_at_5"],
                        quality["mrr_at_5"],
                        quality["query_ms_mean"],
                        ", ".join(quality["misses"]) or "none",
                    ]
                ],
            )
        )
    if public is not None:
        print("\n## Retrieval on a public labelled set: GSM8K questions to their worked solutions\n")
        print(public_table(public))
    write_json(
        args.json,
        {
            "machine": machine_facts(),
            "ingest": ingest_figures,
            "query": query_figures,
            "quality": quality,
            "public": public,
        },
    )


if __name__ == "__main__":
    main()

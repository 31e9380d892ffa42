"""``retrieve`` and ``cite``: ground answers in a memory store and say where they came from.

``retrieve`` puts the chunks nearest to the task (top-k, or MMR for variety, optionally filtered
on metadata) into ``state["retrieved"]``; prompts show them through ``{context}``, each fenced as
untrusted data with a citation number and its source. When any chunk is labelled sensitive, the
run's metadata is marked ``sensitive: true``, so the privacy gate keeps every later model call
on local models. ``cite`` appends the sources an answer cites (``[1]``, ``[2]``) to it, and
says so when there were none.

A retrieval that finds nothing is never silent: over a store that does not exist yet or holds no
chunks (``fusionsdk memory add`` not run), or when every chunk was filtered out, the node logs a
warning (the CLI prints it on stderr) and records it in its decision; with ``strict: true`` it
fails the run instead.

Example::

    nodes:
      docs:   {kind: retrieve, memory: docs, k: 4, mmr: true, where: {trust: trusted}}
      answer: {kind: agent, model: smol, prompt: "{context}\\n\\nQuestion: {task}"}
      cite:   {kind: cite}
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from fusionsdk.errors import ConfigError, GraphError
from fusionsdk.graph.base import Node
from fusionsdk.graph.nodes._common import check_template, render
from fusionsdk.memory.base import Hit
from fusionsdk.memory.metadata import is_sensitive
from fusionsdk.plugin import PluginOptions
from fusionsdk.providers.privacy import SENSITIVE_KEY, SENSITIVE_KINDS_KEY

__all__ = ["CiteNode", "RetrieveNode", "check_memory_ref", "mark_sensitive"]

logger = logging.getLogger(__name__)


def mark_sensitive(metadata: Mapping[str, Any] | None, kind: str) -> dict[str, Any]:
    """Run metadata with ``sensitive: true`` and ``kind`` added to what made it sensitive."""
    marked = dict(metadata or {})
    kinds = list(marked.get(SENSITIVE_KINDS_KEY) or [])
    marked[SENSITIVE_KEY] = True
    marked[SENSITIVE_KINDS_KEY] = kinds if kind in kinds else [*kinds, kind]
    return marked


def check_memory_ref(node: Node, memory: str) -> None:
    """At compile time: fail with a ConfigError at ``nodes.<node>.memory`` unless the config
    declares ``memory``."""
    if node._context is None:
        return  # options only (the compiler's probe)
    path = f"nodes.{node.name}.memory"
    if node.context.memories is None:
        raise ConfigError(f"unknown memory '{memory}' (known: none: add a 'memory:' section)", path=path)
    node.context.memories.check(memory, path)


def _record(node: str, memory: str, hit: Hit) -> dict[str, Any]:
    meta = dict(hit.chunk.metadata)
    return {
        "node": node,
        "memory": memory,
        "id": hit.chunk.id,
        "text": hit.chunk.text,
        "source": str(meta.get("source", memory)),
        "title": meta.get("title"),
        "trust": meta.get("trust", "untrusted"),
        "sensitive": is_sensitive(meta),
        "distance": round(hit.distance, 6),
    }


class RetrieveNode(Node["RetrieveNode.Options"]):
    """Find the chunks of memory ``memory`` nearest to the task and hand them to later prompts
    (``{context}``) as fenced, numbered, untrusted data; sensitive chunks mark the run sensitive."""

    class Options(PluginOptions):
        """Retrieve options.

        Attributes:
            memory: The memory to search (a key of the config's ``memory:``).
            k: Chunks to retrieve.
            query: Template of the search text (default: the task).
            where: Metadata filters: ``{key: value}`` equality, ``{key: [a, b]}`` one of, or a
                Chroma operator clause (``{created_at: {"$gte": "2025"}}``).
            mmr: Pick diverse chunks by maximal marginal relevance instead of the plain nearest.
            fetch_k: With ``mmr``, how many nearest chunks to choose from.
            diversity: With ``mmr``, 0 (relevance only) to 1 (variety only).
            max_distance: Leave out chunks farther than this from the query.
            strict: Fail the run when nothing is retrieved (a missing or empty store, or every
                chunk filtered out) instead of warning and answering without context.
        """

        memory: str = Field(min_length=1)
        k: int = Field(4, ge=1, le=200)
        query: str = "{task}"
        where: dict[str, Any] = Field(default_factory=dict)
        mmr: bool = False
        fetch_k: int = Field(20, ge=1, le=1000)
        diversity: float = Field(0.3, ge=0, le=1)
        max_distance: float | None = Field(None, ge=0)
        strict: bool = False

        _check = field_validator("query")(classmethod(lambda cls, v: check_template(v)))

        @model_validator(mode="after")
        def _fetch_enough(self) -> RetrieveNode.Options:
            if self.mmr and self.fetch_k < self.k:
                raise ValueError(f"fetch_k ({self.fetch_k}) must be at least k ({self.k})")
            return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        check_memory_ref(self, self.options.memory)

    def _missing_store(self) -> Path | None:
        """The folder of an embedded store that does not exist yet (None otherwise)."""
        memories = self.context.memories
        folder = getattr(memories.options(self.options.memory), "path", None) if memories else None
        if isinstance(folder, str) and not Path(folder).exists():
            return Path(folder)
        return None

    def _why_nothing(self) -> str:
        """Why a search found nothing, in words a user can act on."""
        opts: RetrieveNode.Options = self.options
        missing = self._missing_store()
        add = f"add files first: fusionsdk memory add --config CONFIG --memory {opts.memory} FILES"
        if missing is not None:
            return f"memory '{opts.memory}' has no store at {missing} yet: {add}"
        if self.context.memory(opts.memory).count() == 0:
            return f"memory '{opts.memory}' is empty: {add}"
        return f"no chunk of memory '{opts.memory}' matched the query (where/max_distance filters)"

    def _search(self, text: str) -> list[Hit]:
        opts: RetrieveNode.Options = self.options
        if self._missing_store() is not None:
            return []  # opening would create an empty store where the user expects theirs
        store = self.context.memory(opts.memory)
        where = opts.where or None
        if opts.mmr:
            return store.query_mmr(text, opts.k, fetch_k=opts.fetch_k, diversity=opts.diversity, where=where)
        return store.query(text, opts.k, where)

    async def run(self, state: Mapping[str, Any]) -> dict[str, Any]:
        opts: RetrieveNode.Options = self.options
        hits = await asyncio.to_thread(self._search, render(opts.query, state))
        if opts.max_distance is not None:
            hits = [hit for hit in hits if hit.distance <= opts.max_distance]
        records = [_record(self.name, opts.memory, hit) for hit in hits]
        sensitive = any(r["sensitive"] for r in records)
        decision = {
            "node": self.name,
            "type": "retrieve",
            "memory": opts.memory,
            "hits": [{"id": r["id"], "source": r["source"], "distance": r["distance"]} for r in records],
            "sensitive": sensitive,
        }
        update: dict[str, Any] = {
            "retrieved": records or [{"node": self.name, "cleared": True}],
            "decisions": [decision],
        }
        if not records:
            warning = await asyncio.to_thread(self._why_nothing)
            if opts.strict:
                raise GraphError(f"retrieve '{self.name}': {warning}")
            logger.warning("retrieve '%s': %s; answering without retrieved context", self.name, warning)
            decision["warning"] = warning
            decision["reason"] = f"nothing retrieved: {warning}"
        if sensitive:
            update["metadata"] = mark_sensitive(state.get("metadata"), "memory")
        return update


_CITATION = re.compile(r"\[(\d{1,3})\]")


class CiteNode(Node["CiteNode.Options"]):
    """Append a ``Sources:`` list to the answer: the retrieved sources it cites as ``[n]``, or,
    when it cites none, every source it was given (``when_uncited: all``). When nothing was
    retrieved, the list says so: ``Sources: none (nothing was retrieved: <why>)``."""

    class Options(PluginOptions):
        """Cite options.

        Attributes:
            when_uncited: ``all`` lists every retrieved source when the answer cites none;
                ``none`` leaves such an answer as it is.
            heading: The line above the list.
        """

        when_uncited: Literal["all", "none"] = "all"
        heading: str = "Sources:"

    async def run(self, state: Mapping[str, Any]) -> dict[str, Any]:
        opts: CiteNode.Options = self.options
        records = list(state.get("retrieved") or [])
        answer = str(state.get("answer", ""))
        cited = sorted({int(n) for n in _CITATION.findall(answer) if 1 <= int(n) <= len(records)})
        listed = cited or (list(range(1, len(records) + 1)) if opts.when_uncited == "all" else [])
        decision = {"node": self.name, "type": "cite", "cited": cited, "listed": listed}
        if not records:
            why = next(
                (
                    d.get("warning")
                    for d in reversed(state.get("decisions") or [])
                    if d.get("type") == "retrieve"
                ),
                None,
            )
            note = f"none (nothing was retrieved: {why})" if why else "none (nothing was retrieved)"
            decision["reason"] = f"no sources: {why or 'nothing was retrieved'}"
            return {"answer": f"{answer.rstrip()}\n\n{opts.heading} {note}", "decisions": [decision]}
        if not listed:
            return {"decisions": [decision]}
        lines = [f"[{n}] {records[n - 1].get('source', 'memory')}" for n in listed]
        return {
            "answer": f"{answer.rstrip()}\n\n{opts.heading}\n" + "\n".join(lines),
            "decisions": [decision],
        }

"""``fuse``: a fusion-strategy plugin turns the candidates into one answer.

The decision names the clusters the vote saw: the candidates grouped by their answer, read with
the strategy's answer type (``answer:``), so equivalent answers form one cluster. A strategy may
report its own clusters in ``FusionResult.details["clusters"]``; otherwise the node computes them
for strategies whose options name an answer type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, model_validator

from fusionsdk.answers.base import AnswerOptions, AnswerType
from fusionsdk.errors import BadRequest, GraphError
from fusionsdk.fusion.base import Candidate, Fuser
from fusionsdk.graph.base import Node
from fusionsdk.graph.nodes._common import build_model_plugin, to_candidates
from fusionsdk.plugin import PluginOptions
from fusionsdk.providers.structured import ResponseFormat
from fusionsdk.registry import PluginKind

__all__ = ["FuseNode", "answer_clusters"]


def answer_clusters(
    fuser: Fuser, candidates: Sequence[Candidate], registry: Any = None
) -> list[dict[str, Any]]:
    """The candidates grouped by answer under the fuser's answer type (equivalent answers share
    a cluster), largest first; empty for a fuser that reads no answer type.

    Each cluster: ``{"answer": key, "models": [...], "votes": n}``.
    """
    answers = getattr(fuser, "answers", None)
    if not isinstance(answers, AnswerType):
        if not isinstance(fuser.options, AnswerOptions):
            return []
        answers = fuser.options.answer_type(registry)
    if not candidates:
        return []
    clusters: dict[str, dict[str, Any]] = {}
    for key, candidate in zip(answers.vote_keys([c.text for c in candidates]), candidates, strict=True):
        cluster = clusters.setdefault(key, {"answer": key, "models": [], "votes": 0})
        cluster["models"].append(candidate.model)
        cluster["votes"] += 1
    return sorted(clusters.values(), key=lambda c: -int(c["votes"]))


class FuseNode(Node["FuseNode.Options"]):
    """Fuse the candidates with the ``fusionsdk.fusers`` plugin named by ``strategy``.

    With ``response_format`` (a JSON Schema) the answer is structured: unless another
    ``strategy`` is named, the candidates are parsed and voted on field by field
    (``field_vote``), and the fused answer must validate against the schema.

    Example:
        ``fuse: {kind: fuse, strategy: majority_vote, options: {extract: number}}``
    """

    class Options(PluginOptions):
        """Fuse options.

        Attributes:
            strategy: A ``fusionsdk.fusers`` plugin name (or ``distribution:name``).
            options: The strategy's own options.
            source: Fuse the candidates of this node (default: the latest node that produced any).
            response_format: JSON Schema (or OpenAI ``response_format``) of the answer.
        """

        strategy: str = "majority_vote"
        options: dict[str, Any] = Field(default_factory=dict)
        source: str | None = None
        response_format: dict[str, Any] | None = None

        @model_validator(mode="after")
        def _structured_default(self) -> FuseNode.Options:
            if self.response_format is not None:
                try:  # a bad schema fails at compile time
                    ResponseFormat.of(self.response_format)
                except BadRequest as err:
                    raise ValueError(err.message) from None
                if "strategy" not in self.model_fields_set:
                    self.strategy = "field_vote"
                    self.options = {"json_schema": self.response_format, **self.options}
            return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        opts: FuseNode.Options = self.options
        self.fuser: Fuser | None = None
        self._format = ResponseFormat.of(opts.response_format) if opts.response_format else None
        if self._context is not None:
            self.fuser = build_model_plugin(self, PluginKind.FUSERS, opts.strategy, opts.options)

    async def run(self, state: Mapping[str, Any]) -> dict[str, Any]:
        from langgraph.config import get_stream_writer

        opts: FuseNode.Options = self.options
        assert self.fuser is not None
        records = state.get("candidates") or []
        needed = self.fuser.needs_candidates or bool(records)
        candidates = to_candidates(records, opts.source) if needed else []
        result = await self.fuser.fuse(
            str(state.get("task", "")),
            candidates,
            self.context.fusion_context(self.name, state),
        )
        if self._format is not None:
            try:
                self._format.parse(result.text)
            except ValueError as err:
                raise GraphError(
                    f"fuse node '{self.name}': the fused answer does not match response_format: {err}"
                ) from None
        get_stream_writer()({"type": "answer", "node": self.name, "text": result.text})
        decision: dict[str, Any] = {
            "node": self.name,
            "type": "fuse",
            "strategy": opts.strategy,
            "winner": result.winner,
            "scores": dict(result.scores),
            "reason": result.reason,
        }
        for key, value in result.details.items():  # rounds, aggregator layers, clusters, ...
            decision.setdefault(key, value)
        if "clusters" not in decision and candidates:
            clusters = answer_clusters(self.fuser, candidates, self.context.registry)
            if clusters:
                decision["clusters"] = clusters
        return {
            "answer": result.text,
            "decisions": [decision],
            "usage": dict(result.usage),
            "cost_usd": result.cost_usd,
        }

"""``fuse``: a fusion-strategy plugin turns the candidates into one answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, model_validator

from fusionsdk.errors import BadRequest, GraphError
from fusionsdk.fusion.base import Fuser
from fusionsdk.graph.base import Node
from fusionsdk.graph.nodes._common import build_model_plugin, to_candidates
from fusionsdk.plugin import PluginOptions
from fusionsdk.providers.structured import ResponseFormat
from fusionsdk.registry import PluginKind

__all__ = ["FuseNode"]


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
        decision = {
            "node": self.name,
            "type": "fuse",
            "strategy": opts.strategy,
            "winner": result.winner,
            "scores": dict(result.scores),
            "reason": result.reason,
        }
        for key, value in result.details.items():  # rounds, aggregator layers, ...
            decision.setdefault(key, value)
        return {
            "answer": result.text,
            "decisions": [decision],
            "usage": dict(result.usage),
            "cost_usd": result.cost_usd,
        }

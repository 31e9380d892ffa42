"""``fuse``: a fusion-strategy plugin turns the candidates into one answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from fusionsdk.fusion.base import Fuser
from fusionsdk.graph.base import Node
from fusionsdk.graph.nodes._common import build_model_plugin, to_candidates
from fusionsdk.plugin import PluginOptions
from fusionsdk.registry import PluginKind

__all__ = ["FuseNode"]


class FuseNode(Node["FuseNode.Options"]):
    """Fuse the candidates with the ``fusionsdk.fusers`` plugin named by ``strategy``.

    Example:
        ``fuse: {kind: fuse, strategy: majority_vote, options: {extract: number}}``
    """

    class Options(PluginOptions):
        """Fuse options.

        Attributes:
            strategy: A ``fusionsdk.fusers`` plugin name (or ``distribution:name``).
            options: The strategy's own options.
            source: Fuse the candidates of this node (default: the latest node that produced any).
        """

        strategy: str = "majority_vote"
        options: dict[str, Any] = Field(default_factory=dict)
        source: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        opts: FuseNode.Options = self.options
        self.fuser: Fuser | None = None
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

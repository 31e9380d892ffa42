"""``arbitrate``: measure disagreement among the candidates and resolve it with an arbiter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from fusionsdk.arbiters.base import Arbiter
from fusionsdk.graph.base import Node
from fusionsdk.graph.nodes._common import build_model_plugin, to_candidates
from fusionsdk.plugin import PluginOptions
from fusionsdk.registry import PluginKind

__all__ = ["ArbitrateNode"]


class ArbitrateNode(Node["ArbitrateNode.Options"]):
    """Resolve conflicts among the candidates with the ``fusionsdk.arbiters`` plugin ``arbiter``.

    The models the arbiter names (:meth:`Arbiter.referenced_models`) are checked against the
    config's models when the graph compiles. The decision records the conflict measures and the
    arbiter's details (debate rounds, ladder steps); the answer is streamed as an ``answer`` event.

    Example:
        ``arbitrate: {kind: arbitrate, arbiter: judge, options: {judge: gemma, threshold: 0.6}}``
    """

    class Options(PluginOptions):
        """Arbitrate options.

        Attributes:
            arbiter: A ``fusionsdk.arbiters`` plugin name.
            options: The arbiter's own options.
            source: Consider the candidates of this node (default: the latest node that produced any).
        """

        arbiter: str = "judge"
        options: dict[str, Any] = Field(default_factory=dict)
        source: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        opts: ArbitrateNode.Options = self.options
        self.arbiter: Arbiter | None = None
        if self._context is not None:
            self.arbiter = build_model_plugin(self, PluginKind.ARBITERS, opts.arbiter, opts.options)

    async def run(self, state: Mapping[str, Any]) -> dict[str, Any]:
        from langgraph.config import get_stream_writer

        opts: ArbitrateNode.Options = self.options
        assert self.arbiter is not None
        candidates = to_candidates(state.get("candidates") or [], opts.source)
        conflict = self.arbiter.detect(candidates)
        result = await self.arbiter.resolve(
            str(state.get("task", "")), candidates, self.context.fusion_context(self.name, state)
        )
        get_stream_writer()({"type": "answer", "node": self.name, "text": result.text})
        decision: dict[str, Any] = {
            "node": self.name,
            "type": "arbitrate",
            "arbiter": opts.arbiter,
            "agreement": conflict.agreement,
            "conflicted": conflict.conflicted,
            "winner": result.winner,
            "reason": result.reason,
        }
        if conflict.entropy is not None:
            decision["entropy"] = conflict.entropy
        if conflict.dispersion is not None:
            decision["dispersion"] = conflict.dispersion
        details = dict(result.details)
        after = details.pop("agreement", None)
        if after is not None and after != conflict.agreement:
            decision["agreement_after"] = after
        for key, value in details.items():  # debate rounds, ladder steps, ...
            decision.setdefault(key, value)
        return {
            "answer": result.text,
            "decisions": [decision],
            "usage": dict(result.usage),
            "cost_usd": result.cost_usd,
        }

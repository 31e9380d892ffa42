"""``arbitrate``: measure disagreement among the candidates and resolve it with an arbiter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from fusionsdk.arbiters.base import Arbiter
from fusionsdk.graph.base import Node
from fusionsdk.graph.nodes._common import to_candidates
from fusionsdk.plugin import PluginOptions
from fusionsdk.registry import PluginKind

__all__ = ["ArbitrateNode"]


class ArbitrateNode(Node):
    """Resolve conflicts among the candidates with the ``fusionsdk.arbiters`` plugin ``arbiter``.

    Example:
        ``arbitrate: {kind: arbitrate, arbiter: judge, options: {judge: gemma, threshold: 0.6}}``
    """

    model_refs = ("options.judge",)

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
        opts: ArbitrateNode.Options = self.options  # type: ignore[assignment]
        self.arbiter: Arbiter | None = None
        if self._context is not None:
            from fusionsdk.config.validation import validate_model

            arbiter_cls = self.context.registry.get(PluginKind.ARBITERS, opts.arbiter)
            self.arbiter = arbiter_cls(
                validate_model(arbiter_cls.Options, opts.options, f"nodes.{self.name}.options")
            )

    async def run(self, state: Mapping[str, Any]) -> dict[str, Any]:
        opts: ArbitrateNode.Options = self.options  # type: ignore[assignment]
        assert self.arbiter is not None
        candidates = to_candidates(state.get("candidates") or [], opts.source)
        conflict = self.arbiter.detect(candidates)
        result = await self.arbiter.resolve(
            str(state.get("task", "")),
            candidates,
            self.context.fusion_context(self.name, state.get("metadata") or {}),
        )
        decision = {
            "node": self.name,
            "type": "arbitrate",
            "arbiter": opts.arbiter,
            "agreement": conflict.agreement,
            "conflicted": conflict.conflicted,
            "winner": result.winner,
            "reason": result.reason,
        }
        return {
            "answer": result.text,
            "decisions": [decision],
            "usage": dict(result.usage),
            "cost_usd": result.cost_usd,
        }

"""``router``: a routing strategy picks the next node; the compiler adds the conditional edges."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from fusionsdk.errors import GraphError
from fusionsdk.graph.base import Node
from fusionsdk.graph.nodes._common import build_router
from fusionsdk.plugin import PluginOptions
from fusionsdk.routing.base import Router, RouteRequest

__all__ = ["RouterNode"]


class RouterNode(Node["RouterNode.Options"]):
    """Route the task to one of ``targets`` (nodes, or ``END``) with a ``fusionsdk.routers``
    plugin. Without ``targets``, the strategy's declared targets are used.

    Example::

        route:
          kind: router
          strategy: rules
          options:
            routes: [{target: panel, min_length: 80}]
            default: solo
    """

    class Options(PluginOptions):
        """Router node options.

        Attributes:
            strategy: A ``fusionsdk.routers`` plugin name.
            options: The strategy's own options.
            targets: The nodes it may choose (default: what the strategy declares).
        """

        strategy: str = "rules"
        options: dict[str, Any] = Field(default_factory=dict)
        targets: list[str] = Field(default_factory=list)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.router: Router[Any] | None = None
        if self._context is not None:
            self.router = build_router(self, self.options.strategy, self.options.options, "options")

    def route_targets(self) -> list[str]:
        if self.options.targets:
            return list(self.options.targets)
        return self.router.declared_targets() if self.router is not None else []

    async def run(self, state: Mapping[str, Any]) -> dict[str, Any]:
        assert self.router is not None
        targets = self.route_targets()
        decision = await self.router.route(
            RouteRequest(str(state.get("task", "")), state.get("metadata") or {}), targets
        )
        if decision.target not in targets:
            raise GraphError(f"router '{self.name}' chose '{decision.target}', not one of {targets}")
        record = {
            "node": self.name,
            "type": "route",
            "target": decision.target,
            "reason": decision.reason,
            "scores": dict(decision.scores),
        }
        return {"route": decision.target, "decisions": [record]}

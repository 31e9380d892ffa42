"""The router contract (plugins of ``fusionsdk.routers``).

A router picks, for one request, which of the allowed targets (models or nodes) handles it, and
says why. Every decision lands in the trace.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fusionsdk.plugin import OptionsT, PluginBase

__all__ = ["RouteDecision", "RouteRequest", "Router"]


@dataclass(frozen=True)
class RouteRequest:
    """What a router sees: the task text and its metadata (sensitivity, language, ids)."""

    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RouteDecision:
    """The chosen target, the reason, and the score of each target considered."""

    target: str
    reason: str
    scores: Mapping[str, float] = field(default_factory=dict)


class Router(PluginBase[OptionsT], ABC):
    """Base class of routing strategies.

    Attributes:
        deterministic: Whether the same request and targets always get the same decision (the
            conformance kit checks it when True; load-aware routers set it False).
    """

    deterministic: ClassVar[bool] = True

    def declared_targets(self) -> list[str]:
        """Targets the strategy's options name (used when a router node lists none)."""
        return []

    def bind(self, models: Mapping[str, Any]) -> None:
        """Receive the graph's models by name (:class:`~fusionsdk.providers.model.Model`), once,
        from the node that owns the router. Routers that read model state (locality, calls in
        flight, latency, breaker, metrics endpoint) keep them; others ignore them."""

    @abstractmethod
    async def route(self, request: RouteRequest, targets: Sequence[str]) -> RouteDecision:
        """Pick one of ``targets`` for ``request``.

        Raises:
            FusionError: No target fits (e.g. a sensitive request and no local model).
        """

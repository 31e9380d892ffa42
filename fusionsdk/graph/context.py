"""What nodes can reach at run time: the models, the memories, the registry, the budget."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fusionsdk.config.graph import BudgetSpec
from fusionsdk.errors import BudgetExceeded
from fusionsdk.fusion.base import FusionContext
from fusionsdk.providers.hub import ModelHub
from fusionsdk.providers.model import Model
from fusionsdk.registry import Registry

if TYPE_CHECKING:
    from fusionsdk.memory.base import MemoryStore
    from fusionsdk.memory.hub import MemoryHub

__all__ = ["NodeContext"]


@dataclass(frozen=True)
class NodeContext:
    """Shared by every node of one compiled graph.

    Attributes:
        hub: The config's models.
        registry: Where node, fuser, arbiter, router and tool plugins come from.
        budget: The run budget.
        base_dir: Folder of the config file, for relative paths in it.
        memories: The config's memory stores (opened on first use), shared by every node.
    """

    hub: ModelHub
    registry: Registry
    budget: BudgetSpec
    base_dir: Path = Path(".")
    memories: MemoryHub | None = None

    def model(self, name: str) -> Model:
        """The model ``name`` (ConfigError listing the known ones otherwise)."""
        return self.hub[name]

    def memory(self, name: str) -> MemoryStore:
        """The memory store ``name``, opened on first use (ConfigError if there is none)."""
        from fusionsdk.errors import ConfigError

        if self.memories is None:
            raise ConfigError(f"unknown memory '{name}' (known: none: add a 'memory:' section)")
        return self.memories[name]

    def fusion_context(self, node: str, state: Mapping[str, Any]) -> FusionContext:
        """What fusers and arbiters of ``node`` get: the models, a stream writer that emits the
        fused answer's text as ``token`` events, the run metadata, and a budget check against
        the run's spending so far."""
        from langgraph.config import get_stream_writer

        def check_budget(cost_usd: float, tokens: int) -> None:
            self.check_budget(state, extra_cost=cost_usd, extra_tokens=tokens)

        metadata = state.get("metadata") or {}
        try:
            write = get_stream_writer()
        except RuntimeError:  # called outside a graph run
            return FusionContext(models=self.hub, metadata=metadata, check_budget=check_budget)
        return FusionContext(
            models=self.hub,
            emit=lambda text: write({"type": "token", "node": node, "text": text}),
            discard=lambda: write({"type": "discard", "node": node}),
            metadata=metadata,
            check_budget=check_budget,
        )

    def check_budget(
        self, state: Mapping[str, Any], *, extra_cost: float = 0.0, extra_tokens: int = 0
    ) -> None:
        """Raise BudgetExceeded if the run, plus an estimated next step, is over a limit."""
        estimate = bool(extra_cost or extra_tokens)
        cost = float(state.get("cost_usd", 0.0)) + extra_cost
        tokens = int((state.get("usage") or {}).get("total_tokens", 0)) + extra_tokens
        if self.budget.max_cost_usd is not None and cost > self.budget.max_cost_usd:
            raise BudgetExceeded("max_cost_usd", cost, self.budget.max_cost_usd, estimate=estimate)
        if self.budget.max_tokens is not None and tokens > self.budget.max_tokens:
            raise BudgetExceeded("max_tokens", tokens, self.budget.max_tokens, estimate=estimate)
        started = state.get("started_at")
        if self.budget.max_wall_s is not None and started is not None:
            elapsed = time.time() - float(started)
            if elapsed > self.budget.max_wall_s:
                raise BudgetExceeded("max_wall_s", elapsed, self.budget.max_wall_s)

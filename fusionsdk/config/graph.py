"""Graph parts of a config: nodes, edges and the run budget."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["END", "START", "BudgetSpec", "NodeSpec"]

START = "START"
END = "END"


class NodeSpec(BaseModel):
    """One node: its ``kind`` (a ``fusionsdk.nodes`` plugin) and that kind's own fields.

    The fields besides ``kind`` are validated by the node kind's ``Options`` when the graph is
    compiled, so a typo fails with its path (``nodes.panel.quorm: unknown field``).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str

    @property
    def fields(self) -> dict[str, Any]:
        """The kind-specific fields."""
        return dict(self.model_extra or {})


class BudgetSpec(BaseModel):
    """Limits of one run. Checked before each fan-out from an estimate, and after every node."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_cost_usd: float | None = Field(None, gt=0)
    max_tokens: int | None = Field(None, gt=0)
    max_wall_s: float | None = Field(None, gt=0)

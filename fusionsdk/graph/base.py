"""The node contract (plugins of ``fusionsdk.nodes``).

A node is one step of a graph: it reads the run state and returns an update to it. The graph
compiler wraps nodes as LangGraph nodes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from fusionsdk.plugin import PluginBase

__all__ = ["Node"]


class Node(PluginBase, ABC):
    """Base class of graph node kinds."""

    @abstractmethod
    async def run(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Return the state update this node makes."""

"""The node contract (plugins of ``fusionsdk.nodes``).

A node kind is one step of a graph. In YAML a node is ``{kind: <plugin name>, ...fields}``; the
fields are validated by the kind's ``Options``. At compile time each node is built with its
name and a :class:`~fusionsdk.graph.context.NodeContext` (models, registry, budget); at run
time :meth:`Node.run` reads the state and returns an update, which the state's reducers merge.

Example:
    A node that upper-cases the answer::

        class Shout(Node):
            async def run(self, state):
                return {"answer": state.get("answer", "").upper()}
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fusionsdk.plugin import OptionsT, PluginBase, PluginOptions

if TYPE_CHECKING:
    from fusionsdk.graph.context import NodeContext
    from fusionsdk.registry import Registry

__all__ = ["Node"]


class Node(PluginBase[OptionsT], ABC):
    """Base class of graph node kinds.

    Attributes:
        model_refs: Fields that name models (see :attr:`PluginBase.model_refs
            <fusionsdk.plugin.PluginBase.model_refs>`); the compiler checks them.
        name: The node's name in the graph.
        context: What the node may use at run time.
    """

    def __init__(
        self,
        options: PluginOptions | dict[str, Any] | None = None,
        *,
        name: str = "",
        context: NodeContext | None = None,
        registry: Registry | None = None,
    ) -> None:
        super().__init__(options, registry=registry or (context.registry if context else None))
        self.name = name
        self._context = context

    @property
    def context(self) -> NodeContext:
        """The run-time context (set by the compiler)."""
        if self._context is None:
            from fusionsdk.errors import GraphError

            raise GraphError(f"node '{self.name}' was not compiled into a graph")
        return self._context

    def route_targets(self) -> list[str]:
        """Nodes this node may route to (routers override); the compiler adds conditional edges."""
        return []

    @abstractmethod
    async def run(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Return the state update this node makes."""

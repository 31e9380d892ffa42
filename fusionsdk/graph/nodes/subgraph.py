"""``subgraph``: run another graph config as one step; its answer, usage and cost roll up."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fusionsdk.errors import ConfigError
from fusionsdk.graph.base import Node
from fusionsdk.plugin import PluginOptions

__all__ = ["MAX_SUBGRAPH_DEPTH", "SubgraphNode"]

#: How deeply subgraphs may nest.
MAX_SUBGRAPH_DEPTH = 16


class SubgraphNode(Node["SubgraphNode.Options"]):
    """Compile the graph in ``config`` (a path relative to this config's folder) and run it on
    the task (or on the current answer with ``input: answer``).

    Example:
        ``deep: {kind: subgraph, config: ./debate.yaml}``
    """

    class Options(PluginOptions):
        """Subgraph options.

        Attributes:
            config: Path of the inner graph's config file.
            input: What the inner graph receives: the ``task`` or the current ``answer``.
        """

        config: Path
        input: str = "task"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.graph: Any = None
        if self._context is not None:
            from fusionsdk.graph.compiler import COMPILING, compile_file

            opts: SubgraphNode.Options = self.options
            path = opts.config if opts.config.is_absolute() else self.context.base_dir / opts.config
            outer = COMPILING.get()
            here = str(path.resolve())
            where = f"nodes.{self.name}.config"
            if here in outer:
                chain = " -> ".join(Path(p).name for p in (*outer, here))
                raise ConfigError(f"a subgraph that includes itself never ends: {chain}", path=where)
            if len(outer) >= MAX_SUBGRAPH_DEPTH:
                raise ConfigError(f"subgraphs nested deeper than {MAX_SUBGRAPH_DEPTH} levels", path=where)
            self.graph = compile_file(path, registry=self.context.registry)

    async def run(self, state: Mapping[str, Any]) -> dict[str, Any]:
        opts: SubgraphNode.Options = self.options
        text = str(state.get("answer" if opts.input == "answer" else "task", ""))
        result = await self.graph.arun(text, metadata=dict(state.get("metadata") or {}))
        decision = {"node": self.name, "type": "subgraph", "config": str(opts.config), "trace": result.trace}
        update: dict[str, Any] = {
            "answer": result.answer,
            "usage": result.usage,
            "cost_usd": result.cost_usd,
            "decisions": [decision],
        }
        if result.sensitive:  # what the inner graph met keeps this thread sensitive too
            from fusionsdk.graph.nodes.retrieve import mark_sensitive

            update["metadata"] = mark_sensitive(state.get("metadata"), "subgraph")
        return update

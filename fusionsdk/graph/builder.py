"""Build a graph config in Python (notebooks) and write any config back to YAML.

Example:
    >>> from fusionsdk.graph.builder import GraphBuilder
    >>> config = (
    ...     GraphBuilder()
    ...     .model("smol", provider="llamacpp", model="smollm2-135m-instruct")
    ...     .model("gemma", provider="llamacpp", model="gemma3-270m")
    ...     .node("panel", "panel", models=["smol", "gemma"])
    ...     .node("fuse", "fuse", strategy="majority_vote")
    ...     .edge("START", "panel").edge("panel", "fuse").edge("fuse", "END")
    ...     .build()
    ... )
    >>> sorted(config.nodes)
    ['fuse', 'panel']
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from fusionsdk.config.file import FusionConfig, parse_config

if TYPE_CHECKING:
    from fusionsdk.graph.run import Graph
    from fusionsdk.registry import Registry

__all__ = ["GraphBuilder", "config_to_data", "config_to_yaml"]


class GraphBuilder:
    """Collects models, nodes, edges and a budget; :meth:`build` validates like a YAML file.

    Every method returns the builder, so calls chain.
    """

    def __init__(self) -> None:
        self._data: dict[str, Any] = {"version": 1, "models": {}, "nodes": {}, "edges": []}

    def model(self, name: str, *, provider: str, **fields: Any) -> GraphBuilder:
        """Add model ``name`` (the same fields as under ``models:`` in YAML)."""
        self._data["models"][name] = {"provider": provider, **fields}
        return self

    def node(self, name: str, kind: str, **fields: Any) -> GraphBuilder:
        """Add node ``name`` of ``kind`` with that kind's fields."""
        self._data["nodes"][name] = {"kind": kind, **fields}
        return self

    def edge(self, source: str, target: str) -> GraphBuilder:
        """Add an edge; ``START`` and ``END`` are the graph's ends."""
        self._data["edges"].append([source, target])
        return self

    def budget(self, **limits: Any) -> GraphBuilder:
        """Set ``max_cost_usd``, ``max_tokens`` and/or ``max_wall_s``."""
        self._data["budget"] = limits
        return self

    def build(self) -> FusionConfig:
        """The validated config (ConfigError with paths otherwise)."""
        return parse_config(copy.deepcopy(self._data), source="builder")

    def compile(self, registry: Registry | None = None) -> Graph:
        """Build and compile in one step."""
        from fusionsdk.graph.compiler import compile_config

        return compile_config(self.build(), registry=registry)


def config_to_data(config: FusionConfig) -> dict[str, Any]:
    """The config as plain data, without defaults, in the shape YAML files use."""
    data = config.model_dump(mode="json", exclude_defaults=True)
    data["version"] = config.version
    for spec in data.get("models", {}).values():
        spec.pop("name", None)
    if "edges" in data:
        data["edges"] = [list(edge) for edge in data["edges"]]
    return data


def config_to_yaml(config: FusionConfig) -> str:
    """The config as YAML; loading it back gives an equal config."""
    import yaml

    return yaml.safe_dump(config_to_data(config), sort_keys=False)

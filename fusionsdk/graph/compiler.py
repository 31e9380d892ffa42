"""Compile a validated config into a LangGraph ``StateGraph`` wrapped as a :class:`Graph`.

Every check that needs the registry happens here, before anything runs, and every error names
its config path: unknown node kinds, bad node fields, references to unknown models, router
targets that are not nodes, nodes with no way out.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from fusionsdk.config.file import FusionConfig, load_config, parse_config
from fusionsdk.config.graph import END, START
from fusionsdk.errors import ConfigError, FusionError, PluginError
from fusionsdk.graph.base import Node
from fusionsdk.graph.context import NodeContext
from fusionsdk.graph.run import Graph
from fusionsdk.graph.state import RunState
from fusionsdk.plugin import check_models
from fusionsdk.providers.hub import ModelHub
from fusionsdk.registry import PluginKind, Registry, default_registry

__all__ = ["build_nodes", "compile_config", "compile_file"]

NodeFn = Callable[[RunState], Awaitable[dict[str, Any]]]


def build_nodes(config: FusionConfig, context: NodeContext) -> dict[str, Node]:
    """Instantiate every node with validated options, checking model references."""
    nodes: dict[str, Node] = {}
    for name, spec in config.nodes.items():
        where = f"nodes.{name}"
        plan = context.registry.plan(
            PluginKind.NODES, spec.kind, spec.fields, path=where, name_path=f"{where}.kind"
        )
        check_models(plan.build(name=name), config.models, where)  # options only: refs first
        try:
            nodes[name] = plan.build(name=name, context=context)
        except PluginError as err:
            raise ConfigError(str(err), path=where) from None
    return nodes


def _traced(name: str, kind: str, node: Node, context: NodeContext) -> NodeFn:
    """Wrap a node: budget check before, a trace entry after."""

    async def step(state: RunState) -> dict[str, Any]:
        context.check_budget(state)
        started = time.perf_counter()
        update = await node.run(state)
        entry: dict[str, Any] = {
            "node": name,
            "kind": kind,
            "latency_s": round(time.perf_counter() - started, 6),
            "models": [c["model"] for c in update.get("candidates", [])],
            "usage": update.get("usage", {}),
            "cost_usd": update.get("cost_usd", 0.0),
        }
        fallbacks = [
            {"model": c["model"], "fallback_from": c["fallback_from"], "reason": c.get("fallback_reason")}
            for c in update.get("candidates", [])
            if c.get("fallback_from")
        ]
        if fallbacks:  # a fallback answered for a model of this node: say so
            entry["fallbacks"] = fallbacks
        if update.get("decisions"):
            entry["decisions"] = update["decisions"]
        return {**update, "trace": [entry]}

    return step


def _wire(builder: Any, config: FusionConfig, nodes: Mapping[str, Node]) -> None:
    ends = {START: "__start__", END: "__end__"}
    for source, target in config.edges:
        builder.add_edge(ends.get(source, source), ends.get(target, target))
    outgoing = {source for source, _ in config.edges}
    for name, node in nodes.items():
        targets = node.route_targets()
        if targets:
            for i, target in enumerate(targets):
                if target not in nodes and target != END:
                    raise ConfigError(
                        f"router target '{target}' is not a node (known: {', '.join(sorted(nodes))}, END)",
                        path=f"nodes.{name}.targets[{i}]",
                    )
            mapping = {t: ends.get(t, t) for t in targets}
            builder.add_conditional_edges(name, lambda state: state["route"], mapping)
        elif name not in outgoing:
            raise ConfigError(
                f"node '{name}' has no outgoing edge: add [{name}, END] or [{name}, <next>]", path="edges"
            )


def compile_config(
    config: FusionConfig | dict[str, Any],
    *,
    registry: Registry | None = None,
    base_dir: Path | None = None,
) -> Graph:
    """Compile a config (validated, or raw data) into a runnable :class:`Graph`.

    Raises:
        ConfigError: Any problem, with its path.
    """
    from langgraph.graph import StateGraph

    if not isinstance(config, FusionConfig):
        config = parse_config(config)
    if not config.nodes:
        raise ConfigError("the config has no nodes to run", path="nodes")
    registry = registry or default_registry()
    from fusionsdk.memory.hub import MemoryHub

    base = base_dir or Path(".")
    memories = MemoryHub(config.memory, registry, base)  # checked now, opened on first use
    context = NodeContext(ModelHub(config, registry), registry, config.budget, base, memories)
    nodes = build_nodes(config, context)
    builder = StateGraph(RunState)
    for name, node in nodes.items():
        step = _traced(name, config.nodes[name].kind, node, context)
        builder.add_node(name, step)  # type: ignore[call-overload]  # its overloads miss async callables
    _wire(builder, config, nodes)
    try:
        builder.validate()
    except (ValueError, FusionError) as err:
        raise ConfigError(f"invalid graph: {err}", path="edges") from None
    return Graph(builder, config, context)


def compile_file(path: str | Path, *, registry: Registry | None = None) -> Graph:
    """Load and compile a YAML config file; relative paths inside resolve against its folder."""
    file = Path(path)
    return compile_config(load_config(file), registry=registry, base_dir=file.resolve().parent)

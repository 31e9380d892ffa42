"""Compile a validated config into a LangGraph ``StateGraph`` wrapped as a :class:`Graph`.

Every check that needs the registry happens here, before anything runs, and every error names
its config path: unknown node kinds, bad node fields, references to unknown models, router
targets that are not nodes, nodes with no way out.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, cast

from fusionsdk.config.file import FusionConfig, load_config, parse_config
from fusionsdk.config.graph import END, START
from fusionsdk.errors import ConfigError, FusionError, PluginError
from fusionsdk.graph.base import Node
from fusionsdk.graph.checks import check_cycles
from fusionsdk.graph.context import NodeContext
from fusionsdk.graph.run import Graph
from fusionsdk.graph.state import RunState, run_metadata, thread_privacy
from fusionsdk.plugin import check_models
from fusionsdk.providers import telemetry
from fusionsdk.providers.hub import ModelHub
from fusionsdk.providers.privacy_scope import privacy_scope
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
        except ConfigError as err:
            if err.path and err.path.startswith(("nodes.", "models.", "memory.", "edges")):
                raise
            inner = f"{where}.{err.path}" if err.path else where
            raise ConfigError(err.message, path=inner) from None
    return nodes


def _span(name: str, kind: str) -> tuple[str, dict[str, Any]]:
    """A node's OpenTelemetry span: ``invoke_agent`` for agents (GenAI conventions)."""
    attributes: dict[str, Any] = {"fusionsdk.node.name": name, "fusionsdk.node.kind": kind}
    if kind == "agent":
        attributes |= {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name}
        return telemetry.span_name("invoke_agent", name), attributes
    return telemetry.span_name(kind, name), attributes


def _decision_events(span: Any, decisions: list[dict[str, Any]]) -> None:
    """Router, panel, fusion and arbiter decisions as span events (reasons only with content
    capture on: a fuser's reason can quote an answer)."""
    if span is None or not decisions:  # no tracer: skip the settings read
        return
    content = telemetry.capture_content()
    for decision in decisions:
        attributes = {k: v for k, v in decision.items() if k not in ("node", "type", "reason")}
        if content:
            attributes["reason"] = decision.get("reason")
        telemetry.event(f"fusionsdk.{decision.get('type', 'decision')}", attributes, span)


def _traced(name: str, kind: str, node: Node, context: NodeContext) -> NodeFn:
    """Wrap a node: budget check before, a trace entry (and span) after, and the thread's
    privacy around it: the node sees metadata marked ``sensitive`` when its thread is, runs in a
    privacy scope that refuses hosted models and embedders then, and whatever sensitive data the
    step meets (a detector finding, a sensitive memory, a sensitive subgraph) marks the thread
    for good."""
    span_name, attributes = _span(name, kind)

    async def step(state: RunState) -> dict[str, Any]:
        context.check_budget(state)
        with telemetry.span(span_name, attributes) as span:
            update = await _run_node(state, span)
        return update

    async def _run_node(state: RunState, span: Any) -> dict[str, Any]:
        started = time.perf_counter()
        sensitive, kinds = thread_privacy(state)
        view = cast(RunState, {**state, "metadata": run_metadata(state)})
        with privacy_scope(sensitive, kinds, context.hub.privacy) as scope:
            update = await node.run(view)
        marked = update.get("metadata")
        if isinstance(marked, dict) and marked.get("sensitive") is True:
            scope.mark(marked.get("sensitive_kinds") or ["flag"])
        if scope.sensitive and not (state.get("privacy") or {}).get("sensitive"):
            update = {**update, "privacy": {"sensitive": True, "kinds": list(scope.kinds)}}
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
            if span is not None:
                _decision_events(span, update["decisions"])
        calls = [r for r in update.get("tool_results", []) if "call_id" in r]
        if calls:  # what a tool-calling agent asked for, and what came of it
            entry["tool_calls"] = [
                {"tool": r["tool"], "arguments": r["arguments"], "error": r["error"]} for r in calls
            ]
        usage = entry["usage"] or {}
        telemetry.set_attributes(
            span,
            {
                "gen_ai.usage.input_tokens": usage.get("prompt_tokens"),
                "gen_ai.usage.output_tokens": usage.get("completion_tokens"),
                "fusionsdk.cost_usd": entry["cost_usd"],
            },
        )
        return {**update, "trace": [entry]}

    return step


def _chosen_by(router: str) -> Callable[[Mapping[str, Any]], Awaitable[str]]:
    """The edge function of router node ``router``: the target it chose this time (its own
    latest decision, so routers on parallel branches do not read each other's choice). A
    coroutine function, so LangGraph runs it on the event loop (a plain function would be
    handed to a worker thread on every run). Its state is typed ``Mapping``: LangGraph would
    read a ``RunState`` hint as a schema of its own, with reducer channels."""

    async def chosen(state: Mapping[str, Any]) -> str:
        for decision in reversed(state.get("decisions") or []):
            if decision.get("node") == router and decision.get("type") == "route":
                return str(decision["target"])
        return state["route"]

    return chosen


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
            builder.add_conditional_edges(name, _chosen_by(name), mapping)
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

    from fusionsdk.graph.channels import state_schema

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
    schema = state_schema()  # RunState as LangGraph keeps it: given to every node and edge too
    builder: Any = StateGraph(schema)
    for name, node in nodes.items():
        builder.add_node(name, _traced(name, config.nodes[name].kind, node, context), input_schema=schema)
    _wire(builder, config, nodes)
    check_cycles(
        config.edges, {name: node.route_targets() for name, node in nodes.items() if node.route_targets()}
    )
    try:
        builder.validate()
    except (ValueError, FusionError) as err:
        raise ConfigError(f"invalid graph: {err}", path="edges") from None
    return Graph(builder, config, context)


#: The config files being compiled, outermost first (subgraph nodes refuse one met again).
COMPILING: ContextVar[tuple[str, ...]] = ContextVar("fusionsdk_compiling", default=())


def compile_file(path: str | Path, *, registry: Registry | None = None) -> Graph:
    """Load and compile a YAML config file; relative paths inside resolve against its folder."""
    file = Path(path)
    token = COMPILING.set((*COMPILING.get(), str(file.resolve())))
    try:
        graph = compile_config(load_config(file), registry=registry, base_dir=file.resolve().parent)
    finally:
        COMPILING.reset(token)
    graph.name = file.stem
    return graph

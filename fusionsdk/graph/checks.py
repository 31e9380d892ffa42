"""Checks of a graph's shape at compile time: loops that can never end.

A fixed edge always runs again, so a cycle of fixed edges alone never ends (LangGraph would stop
it after ``recursion_limit`` steps with an untyped error). A cycle is fine only when a router in
it may choose a target outside it (or ``END``): that choice is its exit. Both problems are
reported with the cycle's path, before anything runs.

Example:
    >>> check_cycles([("START", "a"), ("a", "b"), ("b", "a")], {})
    Traceback (most recent call last):
    ...
    fusionsdk.errors.ConfigError: edges: a cycle of fixed edges never ends: a -> b -> a; ...
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from fusionsdk.config.graph import END, START
from fusionsdk.errors import ConfigError

__all__ = ["check_cycles"]


def _find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a node path (first node repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in graph:
        if state.get(root):
            continue
        path: list[str] = []
        stack: list[tuple[str, Iterable[str]]] = [(root, iter(graph.get(root, ())))]
        state[root] = 1
        path.append(root)
        while stack:
            node, children = stack[-1]
            child = next(iter(children), None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            if state.get(child) == 1:
                return [*path[path.index(child) :], child]
            if not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(graph.get(child, ()))))
    return None


def _reachable(graph: Mapping[str, Sequence[str]], start: str) -> set[str]:
    """Nodes reachable from ``start`` by one edge or more (``start`` only if on a cycle)."""
    seen: set[str] = set(graph.get(start, ()))
    todo = list(seen)
    while todo:
        for child in graph.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def check_cycles(edges: Sequence[tuple[str, str]], routes: Mapping[str, Sequence[str]]) -> None:
    """Refuse cycles that cannot end.

    Args:
        edges: The config's fixed ``[from, to]`` edges.
        routes: Each router node's possible targets.

    Raises:
        ConfigError: At ``edges``, naming the cycle's path.
    """
    fixed: dict[str, list[str]] = {}
    for source, target in edges:
        if source != START and target != END:
            fixed.setdefault(source, []).append(target)
    cycle = _find_cycle(fixed)
    if cycle is not None:
        raise ConfigError(
            f"a cycle of fixed edges never ends: {' -> '.join(cycle)}; "
            "make one of its steps a router with a target outside the cycle",
            path="edges",
        )
    full: dict[str, list[str]] = {name: list(targets) for name, targets in fixed.items()}
    for router, targets in routes.items():
        full.setdefault(router, []).extend(t for t in targets if t != END)
    reach = {node: _reachable(full, node) for node in full}
    for node in sorted(full):
        if node not in reach[node]:
            continue
        loop = {other for other in reach[node] if node in reach.get(other, ())}
        exits = [r for r in loop if r in routes and any(t == END or t not in loop for t in routes[r])]
        if not exits:
            path = _find_cycle({n: [t for t in full.get(n, ()) if t in loop] for n in sorted(loop)})
            shown = " -> ".join(path or sorted(loop))
            raise ConfigError(
                f"a cycle with no way out: {shown}; give one of its routers a target outside it (or END)",
                path="edges",
            )

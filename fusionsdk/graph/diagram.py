"""Draw a graph as a self-contained SVG, with no JavaScript and no network (notebooks show it
offline, where a Mermaid diagram needs Mermaid's script from a CDN).

Nodes are laid out in layers by their distance from the start; plain edges are solid, routed
(conditional) ones dashed; an edge back to an earlier layer bends around the side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

__all__ = ["svg"]

_W, _H, _GAP_X, _GAP_Y, _PAD = 150, 36, 30, 56, 20


def _layers(nodes: Sequence[str], edges: Sequence[tuple[str, str, bool]]) -> dict[str, int]:
    """Each node's layer: the length of the shortest path from the first node (BFS)."""
    outgoing: dict[str, list[str]] = {n: [] for n in nodes}
    for source, target, _ in edges:
        outgoing.setdefault(source, []).append(target)
    layer = {nodes[0]: 0} if nodes else {}
    queue = list(layer)
    while queue:
        node = queue.pop(0)
        for target in outgoing.get(node, []):
            if target not in layer:
                layer[target] = layer[node] + 1
                queue.append(target)
    deepest = max(layer.values(), default=0)
    for node in nodes:  # unreachable ones go last
        layer.setdefault(node, deepest + 1)
    return layer


def svg(
    nodes: Sequence[str],
    edges: Sequence[tuple[str, str, bool]],
    labels: Mapping[str, str] | None = None,
) -> str:
    """An SVG drawing of a directed graph.

    Args:
        nodes: Node ids, the start first.
        edges: ``(source, target, conditional)`` triples.
        labels: Text shown for a node (default: its id).

    Example:
        >>> svg(["start", "end"], [("start", "end", False)]).startswith("<svg")
        True
    """
    labels = labels or {}
    layer = _layers(nodes, edges)
    rows: dict[int, list[str]] = {}
    for node in nodes:
        rows.setdefault(layer[node], []).append(node)
    widest = max((len(r) for r in rows.values()), default=1)
    width = _PAD * 2 + widest * _W + (widest - 1) * _GAP_X + 60
    height = _PAD * 2 + len(rows) * _H + (len(rows) - 1) * _GAP_Y
    where: dict[str, tuple[float, float]] = {}
    for depth, row in sorted(rows.items()):
        span = len(row) * _W + (len(row) - 1) * _GAP_X
        left = (width - 60 - span) / 2
        for i, node in enumerate(row):
            where[node] = (left + i * (_W + _GAP_X) + _W / 2, _PAD + depth * (_H + _GAP_Y) + _H / 2)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="13">',
        "<defs><marker id='arrow' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='7' "
        "markerHeight='7' orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z' fill='#555'/>"
        "</marker></defs>",
    ]
    for source, target, conditional in edges:
        (x1, y1), (x2, y2) = where[source], where[target]
        dash = ' stroke-dasharray="5,4"' if conditional else ""
        if y2 > y1:
            path = f"M{x1:.0f},{y1 + _H / 2:.0f} L{x2:.0f},{y2 - _H / 2:.0f}"
        else:  # back or sideways: around the right-hand side
            side = width - 30
            curve = f"C{side:.0f},{y1:.0f} {side:.0f},{y2:.0f} {x2 + _W / 2:.0f},{y2:.0f}"
            path = f"M{x1 + _W / 2:.0f},{y1:.0f} {curve}"
        parts.append(f'<path d="{path}" fill="none" stroke="#555"{dash} marker-end="url(#arrow)"/>')
    for node in nodes:
        x, y = where[node]
        end = node in ("__start__", "__end__")
        fill, radius = ("#eee", _H / 2) if end else ("#e8f0fe", 6)
        text = escape(labels.get(node, node.strip("_") if end else node))
        parts.append(
            f'<rect x="{x - _W / 2:.0f}" y="{y - _H / 2:.0f}" width="{_W}" height="{_H}" rx="{radius:.0f}" '
            f'fill="{fill}" stroke="#4a6fa5"/>'
            f'<text x="{x:.0f}" y="{y + 4:.0f}" text-anchor="middle">{text}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)

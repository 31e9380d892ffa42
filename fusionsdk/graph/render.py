"""Notebook rendering: a graph as an inline SVG diagram with a table of its nodes, and a run
result as the path it took with a table of its steps. Plain HTML and SVG, no script and no
CDN, so it renders offline, in exported HTML and on GitHub alike.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["graph_html", "result_html", "svg_diagram"]

_BOX_W, _BOX_H, _GAP_X, _GAP_Y, _PAD = 150, 40, 30, 46, 12
_STYLE = "font-family:system-ui,sans-serif;font-size:13px;border-collapse:collapse;margin-top:6px"
_CELL = "border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top"
_ENDS = {"__start__": "START", "__end__": "END"}


def _levels(nodes: Sequence[str], edges: Sequence[tuple[str, str, bool]]) -> dict[str, int]:
    """Each node's row: its shortest distance from the first node (cycles are fine)."""
    level = {nodes[0]: 0} if nodes else {}
    frontier = list(level)
    while frontier:
        following = []
        for source in frontier:
            for edge_source, target, _ in edges:
                if edge_source == source and target not in level:
                    level[target] = level[source] + 1
                    following.append(target)
        frontier = following
    deepest = max(level.values(), default=0)
    for name in nodes:  # unreachable nodes go below the rest
        level.setdefault(name, deepest + 1)
    return level


def svg_diagram(
    nodes: Sequence[str],
    edges: Sequence[tuple[str, str, bool]],
    labels: Mapping[str, str] | None = None,
) -> str:
    """An SVG of ``nodes`` in rows by distance from the first, with ``edges`` as arrows
    (``(source, target, conditional)``; conditional edges dashed)."""
    labels = labels or {}
    level = _levels(nodes, edges)
    rows: dict[int, list[str]] = {}
    for name in nodes:
        rows.setdefault(level[name], []).append(name)
    widest = max((len(r) for r in rows.values()), default=1)
    width = widest * (_BOX_W + _GAP_X) - _GAP_X + 2 * _PAD
    height = len(rows) * (_BOX_H + _GAP_Y) - _GAP_Y + 2 * _PAD
    where: dict[str, tuple[float, float]] = {}
    for row, names in rows.items():
        span = len(names) * (_BOX_W + _GAP_X) - _GAP_X
        left = (width - span) / 2
        for i, name in enumerate(names):
            where[name] = (left + i * (_BOX_W + _GAP_X), _PAD + row * (_BOX_H + _GAP_Y))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="graph diagram">',
        '<defs><marker id="fsdk-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/>'
        "</marker></defs>",
    ]
    for source, target, conditional in edges:
        if source not in where or target not in where:
            continue
        (sx, sy), (tx, ty) = where[source], where[target]
        down = ty > sy
        x1, y1 = sx + _BOX_W / 2, sy + (_BOX_H if down else 0)
        x2, y2 = tx + _BOX_W / 2, ty + (0 if down else _BOX_H)
        dash = ' stroke-dasharray="5,4"' if conditional else ""
        parts.append(
            f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" stroke="#555" '
            f'stroke-width="1.4"{dash} marker-end="url(#fsdk-arrow)"/>'
        )
    for name in nodes:
        x, y = where[name]
        end = name in ("START", "END")
        fill, radius = ("#eee", 20) if end else ("#e8f0fe", 6)
        parts.append(
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{_BOX_W}" height="{_BOX_H}" rx="{radius}" '
            f'fill="{fill}" stroke="#4a6fa5"/>'
        )
        text = escape(labels.get(name, name))
        parts.append(
            f'<text x="{x + _BOX_W / 2:.0f}" y="{y + _BOX_H / 2 + 4:.0f}" text-anchor="middle" '
            f'font-family="system-ui,sans-serif" font-size="12">{text}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = "".join(f'<th style="{_CELL}">{escape(str(h))}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{escape(str(c))}</td>' for c in row) + "</tr>" for row in rows
    )
    return f'<table style="{_STYLE}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def graph_html(graph: Any) -> str:
    """A compiled graph: its diagram (conditional edges dashed) and a table of its nodes."""
    drawn = graph._builder.compile().get_graph()
    names = [_ENDS.get(n, n) for n in drawn.nodes]
    edges = [
        (_ENDS.get(e.source, e.source), _ENDS.get(e.target, e.target), bool(e.conditional))
        for e in drawn.edges
    ]
    specs = graph.config.nodes
    labels = {name: f"{name} ({spec.kind})" for name, spec in specs.items()}
    rows = []
    for name, spec in specs.items():
        fields = spec.fields
        models = fields.get("models") or ([fields["model"]] if fields.get("model") else [])
        detail = fields.get("strategy") or fields.get("tool") or ""
        rows.append((name, spec.kind, ", ".join(models), detail))
    return (
        f'<div class="fusionsdk-graph">{svg_diagram(names, edges, labels)}'
        f"{_table(('node', 'kind', 'models', 'strategy / tool'), rows)}</div>"
    )


def _decisions(entry: Mapping[str, Any]) -> str:
    parts = []
    for decision in entry.get("decisions") or ():
        kind = decision.get("type", "")
        chosen = decision.get("target") or decision.get("winner") or decision.get("answered") or ""
        parts.append(f"{kind}: {chosen}" if chosen else str(kind))
    for call in entry.get("tool_calls") or ():
        parts.append(f"tool {call['tool']}" + (" (error)" if call.get("error") else ""))
    return "; ".join(parts)


def result_html(result: Any) -> str:
    """A run result: the answer, the path the run took (as a diagram) and one row per step."""
    steps = [e for e in result.trace if e.get("node") != "START"]
    path = ["START", *(e["node"] for e in steps), "END" if not result.interrupted else "paused"]
    edges = [(a, b, False) for a, b in itertools.pairwise(path)]
    rows = [
        (
            e["node"],
            e.get("kind", ""),
            ", ".join(e.get("models") or ()),
            f"{e.get('latency_s', 0.0):.3f}",
            (e.get("usage") or {}).get("total_tokens", 0),
            f"{e.get('cost_usd') or 0.0:.6f}",
            _decisions(e),
        )
        for e in result.trace
    ]
    summary = (
        f"{result.usage.get('total_tokens', 0)} tokens, ${result.cost_usd:.6f}, thread {result.thread_id}"
    )
    answer = escape(result.answer) if result.answer else "<i>no answer (paused)</i>"
    return (
        '<div class="fusionsdk-result">'
        f'<div><b>Answer:</b> {answer}</div><div style="color:#666">{escape(summary)}</div>'
        f"{svg_diagram(list(dict.fromkeys(path)), edges)}"
        f"{_table(('node', 'kind', 'models', 'latency s', 'tokens', 'cost $', 'decisions'), rows)}</div>"
    )

"""A self-contained HTML report with inline SVG plots (no plotting library, no network)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from fusionsdk.eval.harness import EvalReport
from fusionsdk.eval.metrics import CostPoint, pareto_frontier
from fusionsdk.eval.sweep import SweepResult

__all__ = ["bars_svg", "heatmap_svg", "render_html", "scatter_svg"]

_W, _H, _PAD = 640, 360, 56


def _scale(value: float, low: float, high: float, size: float) -> float:
    return (value - low) / (high - low) * size if high > low else size / 2


#: A text label's box: left, bottom (SVG text baseline), width, height.
_Box = tuple[float, float, float, float]
_CHAR_W, _LINE_H = 5.6, 11.0


def _overlaps(a: _Box, b: _Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] - a[3] < b[1] and b[1] - b[3] < a[1]


def _free_spot(text: str, x: float, y: float, placed: list[_Box]) -> tuple[float, float] | None:
    """Where a point's label fits without covering another label (tried beside the point,
    then above and below it, then on its left), or None when every spot is taken."""
    width = _CHAR_W * len(text)
    for dx, dy in (
        (6, -6),
        (6, 12),
        (6, -18),
        (6, 24),
        (-6 - width, -6),
        (-6 - width, 12),
        (6, -30),
        (6, 36),
    ):
        box = (x + dx, y + dy, width, _LINE_H)
        inside = box[0] >= 0 and box[0] + width <= _W and box[1] - _LINE_H >= 0 and box[1] <= _H
        if inside and not any(_overlaps(box, other) for other in placed):
            placed.append(box)
            return box[0], box[1]
    return None


def scatter_svg(points: dict[str, CostPoint], frontier: Sequence[CostPoint], title: str) -> str:
    """Labelled (cost, accuracy) points with the frontier drawn through them."""
    costs = [c for c, _ in points.values()] or [0.0]
    accs = [a for _, a in points.values()] or [0.0]
    cmin, cmax = min(costs), max(costs)
    amin, amax = min([*accs, 1.0]) - 0.02, 1.0

    def xy(cost: float, acc: float) -> tuple[float, float]:
        x = _PAD + _scale(cost, cmin, cmax, _W - 2 * _PAD)
        return x, _H - _PAD - _scale(acc, amin, amax, _H - 2 * _PAD)

    parts = [
        f'<svg width="{_W}" height="{_H}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{_W / 2}" y="20" text-anchor="middle" font-weight="bold">{html.escape(title)}</text>',
        f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#333"/>',
        f'<line x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{_H - _PAD}" stroke="#333"/>',
        f'<text x="{_W / 2}" y="{_H - 12}" text-anchor="middle">cost (USD) {cmin:.4g} to {cmax:.4g}</text>',
        f'<text x="14" y="{_H / 2}" transform="rotate(-90 14 {_H / 2})" text-anchor="middle">'
        f"accuracy {amin:.2f} to {amax:.2f}</text>",
    ]
    if len(frontier) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(c, a) for c, a in frontier))
        parts.append(f'<polyline points="{path}" fill="none" stroke="#d62728" stroke-width="2"/>')
    placed: list[_Box] = []
    for label, (cost, acc) in points.items():
        x, y = xy(cost, acc)
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#1f77b4"><title>{html.escape(label)}: '
            f"{acc:.3f} at ${cost:.4g}</title></circle>"
        )
        spot = _free_spot(label[:24], x, y, placed)
        if spot is not None:  # crowded points keep their name in the tooltip only
            parts.append(
                f'<text x="{spot[0]:.1f}" y="{spot[1]:.1f}" font-size="10">{html.escape(label[:24])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def bars_svg(report: EvalReport) -> str:
    """Accuracy per model as horizontal bars, best first."""
    models = sorted(report.per_model, key=lambda m: -report.per_model[m]["accuracy"])
    height = 22 * len(models) + 40
    parts = [f'<svg width="{_W}" height="{height}" role="img" aria-label="accuracy per model">']
    for i, model in enumerate(models):
        acc = report.per_model[model]["accuracy"]
        y = 20 + 22 * i
        parts.append(
            f'<text x="230" y="{y + 14}" text-anchor="end" font-size="12">{html.escape(model[:34])}</text>'
        )
        parts.append(f'<rect x="236" y="{y}" width="{acc * 340:.1f}" height="16" fill="#2ca02c"/>')
        parts.append(f'<text x="{240 + acc * 340:.1f}" y="{y + 13}" font-size="11">{acc:.3f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def heatmap_svg(report: EvalReport) -> str:
    """Pairwise agreement between models (both right or both wrong) as a heatmap."""
    table = report.agreement()
    models = sorted(table)
    cell = max(8, min(28, 520 // max(len(models), 1)))
    size = 200 + cell * len(models)
    parts = [f'<svg width="{size}" height="{size}" role="img" aria-label="agreement between models">']
    for i, a in enumerate(models):
        parts.append(
            f'<text x="196" y="{200 + cell * i + cell * 0.7:.1f}" text-anchor="end" font-size="10">'
            f"{html.escape(a[:30])}</text>"
        )
        for j, b in enumerate(models):
            share = table[a][b]
            shade = int(255 - share * 200)
            parts.append(
                f'<rect x="{200 + cell * j}" y="{200 + cell * i}" width="{cell}" height="{cell}" '
                f'fill="rgb({shade},{shade},255)"><title>{html.escape(a)} / {html.escape(b)}: '
                f"{share:.2f}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def render_html(
    report: EvalReport, *, title: str = "fusionsdk evaluation", sweep: SweepResult | None = None
) -> str:
    """The report as one HTML page: headline figures, cost-accuracy plot with the Pareto
    frontier, accuracy per model, and the agreement heatmap."""
    points = {m: (v["cost_usd"], v["accuracy"]) for m, v in report.per_model.items()}
    points["graph"] = (report.cost_usd, report.accuracy)
    curve = pareto_frontier(list(points.values()))
    if sweep is not None:
        for value, (cost, acc) in zip(sweep.values, sweep.points, strict=True):
            points[f"{sweep.parameter}={value}"] = (cost, acc)
        curve = pareto_frontier(list(points.values()))
    low, high = report.ci95
    rows = "".join(
        f"<tr><td>{html.escape(m)}</td><td>{v['accuracy']:.3f}</td><td>${v['cost_usd']:.4f}</td>"
        f"<td>{int(v['answered'])}</td></tr>"
        for m, v in sorted(report.per_model.items(), key=lambda kv: -kv[1]["accuracy"])
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto}}
td,th{{padding:2px 10px;text-align:left}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<p><b>accuracy</b> {report.accuracy:.4f} (95% CI {low:.4f} to {high:.4f}) over {report.n} rows ·
<b>oracle</b> {report.oracle_accuracy:.4f} · <b>cost</b> ${report.cost_usd:.4f} ·
<b>tokens</b> {report.tokens} · <b>latency</b> p50 {report.latency_p50_s:.3f}s,
p95 {report.latency_p95_s:.3f}s · <b>errors</b> {report.errors}</p>
<h2>Cost against accuracy</h2>{scatter_svg(points, curve, "cost vs accuracy (red: Pareto frontier)")}
<h2>Accuracy per model</h2>{bars_svg(report)}
<table><tr><th>model</th><th>accuracy</th><th>cost</th><th>answered</th></tr>{rows}</table>
<h2>Agreement between models</h2>
<p>Share of rows where both were right or both wrong.</p>{heatmap_svg(report)}
</body></html>
"""

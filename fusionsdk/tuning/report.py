"""The tune report: terminal lines and an HTML page with the cost/accuracy frontier.

Both read :meth:`fusionsdk.tuning.tune.TuneResult.as_dict`. The HTML page is self-contained
(an inline SVG scatter of every policy's cross-validated cost ratio and accuracy, the frontier
drawn through them, the chosen policy and the best single model marked; then the test figures).
"""

from __future__ import annotations

import html
from typing import Any

from fusionsdk.eval.metrics import pareto_frontier

__all__ = ["render_html", "summary_lines", "test_line"]


def _pct(x: float) -> str:
    return f"{x:.2%}"


def test_line(label: str, figures: dict[str, Any]) -> str:
    """One policy's test figures in one line."""
    low, high = figures["ci95"]
    ratio = "n/a" if figures.get("cost_ratio") is None else f"{figures['cost_ratio']:.2f}x"
    test = figures["mcnemar"]
    return (
        f"{label}: {_pct(figures['accuracy'])} (95% CI {_pct(low)}-{_pct(high)}, n={figures['n']}) · "
        f"${figures['cost_usd']:.4f} ({ratio} the best single model) · McNemar p={test['p_value']:.3g} "
        f"({test['a_only']} vs {test['b_only']} discordant, {test['test']})"
    )


def _answer_words(report: dict[str, Any]) -> str:
    name = report.get("answer", "text")
    options = report.get("answer_options") or {}
    extra = ", ".join(f"{k}={v}" for k, v in options.items())
    return f"{name} ({extra})" if extra else str(name)


def summary_lines(report: dict[str, Any]) -> list[str]:
    """What ``fusionsdk tune`` prints after its tables."""
    chosen, single = report["chosen"], report["best_single"]
    lines = [
        f"{report['searched']} policies cross-validated ({report['folds']} folds) on "
        f"{report['n_train']} train questions; figures below on the {report['n_test']} held-out ones "
        f"(split seed {report['seed']}).",
        f"answers compared as: {_answer_words(report)}",
        f"selection rule: {report.get('selection', {}).get('text', '')}",
        f"outcome: {report['rule']}",
        f"chosen: {chosen['label']} (CV {_pct(chosen['cv_accuracy'])} vs best single "
        f"{_pct(single['cv_accuracy'])}, gain {chosen['cv_gain'] * 100:+.2f} pt, margin "
        f"{chosen['cv_margin'] * 100:.2f} pt)",
        test_line("tuned on test", report["test"]),
        test_line(f"best single ({single['model']}) on test", report["best_single_test"]),
    ]
    if not report["beaten"]:
        lines.append("no combination beat the best single model on train: the tuned graph is that model")
    return lines


def _scatter(candidates: list[dict[str, Any]], chosen: str, single: str) -> str:
    points = [(c["cv_cost_ratio"] or 0.0, c["cv_accuracy"], c["policy"]) for c in candidates]
    if not points:
        return ""
    width, height, pad = 640, 360, 40
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x_hi, y_lo, y_hi = max(xs) or 1.0, min(ys), max(ys)
    y_span = (y_hi - y_lo) or 1.0

    def at(x: float, y: float) -> tuple[float, float]:
        return pad + (width - 2 * pad) * x / x_hi, height - pad - (height - 2 * pad) * (y - y_lo) / y_span

    dots = []
    for x, y, label in points:
        cx, cy = at(x, y)
        colour = "#d62728" if label == chosen else "#1f77b4" if label == single else "#999"
        size = 6 if label in (chosen, single) else 3
        dots.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{size}" fill="{colour}">'
            f"<title>{html.escape(label)}: {_pct(y)} at {x:.2f}x</title></circle>"
        )
    line = " ".join(
        "{:.1f},{:.1f}".format(*at(x, y)) for x, y in pareto_frontier([(p[0], p[1]) for p in points])
    )
    return (
        f'<svg width="{width}" height="{height}" style="border:1px solid #ddd">'
        f'<polyline points="{line}" fill="none" stroke="#2ca02c"/>{"".join(dots)}'
        f'<text x="{pad}" y="{height - 8}">cost vs best single (CV, 0 to {x_hi:.1f}x)</text>'
        f'<text x="4" y="16">accuracy (CV, {_pct(y_lo)} to {_pct(y_hi)})</text></svg>'
    )


def render_html(report: dict[str, Any], title: str = "fusionsdk tune") -> str:
    """A self-contained HTML page of the report."""
    rows = "".join(
        f"<tr><td>{html.escape(f['family'])}</td><td>{html.escape(f['label'])}</td>"
        f"<td>{_pct(f['cv_accuracy'])}</td><td>{(f['cv_cost_ratio'] or 0):.2f}x</td>"
        f"<td>{_pct(f['test']['accuracy'])}</td><td>{(f['test']['cost_ratio'] or 0):.2f}x</td>"
        f"<td>{f['test']['mcnemar']['p_value']:.3g}</td></tr>"
        for f in report["families"]
    )
    lines = "".join(f"<p>{html.escape(line)}</p>" for line in summary_lines(report))
    scatter = _scatter(report["candidates"], report["chosen"]["policy"], report["best_single"]["policy"])
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body style='font-family:sans-serif'><h1>{html.escape(title)}</h1>{lines}"
        f"<h2>Cost/accuracy frontier (cross-validation on train)</h2>{scatter}"
        "<p>Red: chosen; blue: best single model; green: the frontier.</p>"
        "<h2>Best of each family (chosen on train; test figures for information)</h2>"
        "<table border='1' cellpadding='4'><tr><th>family</th><th>policy</th><th>CV accuracy</th>"
        "<th>CV cost ratio</th><th>test accuracy</th><th>test cost ratio</th><th>McNemar p</th></tr>"
        f"{rows}</table></body></html>"
    )

"""GSM8K on 42 real models' recorded answers: single models, majority vote of all, oracle.

Builds a graph with one replay model per model in the file, a panel of all of them and a
majority vote over their final numbers, runs ``fusionsdk.eval`` over all 1,319 questions with the
``numeric`` scorer, and writes the report's plots to ``docs/img/``.

    python benchmarks/gsm8k_replay.py [PATH/TO/gsm8k.jsonl.gz]

Reference figures (the replay README, simple final-number extractor): best single model about
96.4%, majority vote of all 42 about 96.8%, oracle about 99.5%.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

from _common import REPLAY_DATA, require_replay_data

from fusionsdk.eval.harness import EvalReport, evaluate
from fusionsdk.eval.metrics import pareto_frontier
from fusionsdk.eval.report import bars_svg, heatmap_svg, render_html, scatter_svg
from fusionsdk.graph.builder import GraphBuilder
from fusionsdk.providers.replay import load_replay
from fusionsdk.registry import default_registry

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = REPLAY_DATA


def model_key(name: str) -> str:
    """A config-safe name for a replayed model id (``Llama-3.1-405B-Inst@sambanova``)."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name)


def build(dataset: Path) -> tuple[GraphBuilder, dict[str, str]]:
    data = load_replay(str(dataset))
    builder = GraphBuilder()
    names = {}
    for model in data.models:
        names[model_key(model)] = model
        builder.model(model_key(model), provider="replay", model=model, options={"dataset": str(dataset)})
    builder.node("panel", "panel", models=list(names), quorum=1)
    builder.node("vote", "fuse", strategy="majority_vote", options={"extract": "number"})
    builder.edge("START", "panel").edge("panel", "vote").edge("vote", "END")
    return builder, names


def run(dataset: Path) -> tuple[EvalReport, float]:
    builder, _ = build(dataset)
    graph = builder.compile()
    scorer = default_registry().get("scorers", "numeric")()
    started = time.perf_counter()
    report = asyncio.run(evaluate(graph, load_replay(str(dataset)).rows, scorer, concurrency=32))
    return report, time.perf_counter() - started


def main(dataset: Path = DEFAULT, json_path: Path | None = None) -> str:
    report, seconds = run(dataset)
    best_name, best = max(report.per_model.items(), key=lambda kv: kv[1]["accuracy"])
    img = ROOT / "docs" / "img"
    img.mkdir(parents=True, exist_ok=True)
    points = {m: (v["cost_usd"], v["accuracy"]) for m, v in report.per_model.items()}
    points["majority of 42"] = (report.cost_usd, report.accuracy)
    (img / "gsm8k-cost-accuracy.svg").write_text(
        scatter_svg(points, pareto_frontier(list(points.values())), "GSM8K: cost vs accuracy (red: frontier)")
    )
    (img / "gsm8k-accuracy.svg").write_text(bars_svg(report))
    (img / "gsm8k-agreement.svg").write_text(heatmap_svg(report))
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "gsm8k-report.html").write_text(
        render_html(report, title="GSM8K replay")
    )
    top = sorted(report.per_model.items(), key=lambda kv: -kv[1]["accuracy"])[:5]
    if json_path is not None:
        json_path.write_text(
            json.dumps(
                {
                    "questions": report.n,
                    "models": len(report.per_model),
                    "seconds": seconds,
                    "best_model": best_name,
                    "best_accuracy": best["accuracy"],
                    "vote_accuracy": report.accuracy,
                    "vote_ci95": list(report.ci95),
                    "oracle_accuracy": report.oracle_accuracy,
                    "panel_cost_usd": report.cost_usd,
                },
                indent=2,
            )
        )
    lines = [
        f"{report.n} questions, {len(report.per_model)} models, scorer `numeric`, run in {seconds:.1f} s.",
        "",
        "| figure | measured | reference |",
        "|---|---|---|",
        f"| best single model ({best_name}) | {best['accuracy']:.2%} | about 96.4% |",
        f"| majority vote of all {len(report.per_model)} models | {report.accuracy:.2%} "
        f"(95% CI {report.ci95[0]:.2%} to {report.ci95[1]:.2%}) | about 96.8% |",
        f"| oracle (some model right) | {report.oracle_accuracy:.2%} | about 99.5% |",
        f"| cost of the all-model panel | ${report.cost_usd:.2f} | |",
        "",
        "Top five single models: "
        + ", ".join(f"{m} {v['accuracy']:.2%} (${v['cost_usd']:.2f})" for m, v in top)
        + ".",
        "",
        "![cost vs accuracy](img/gsm8k-cost-accuracy.svg)",
        "",
        "![accuracy per model](img/gsm8k-accuracy.svg)",
        "",
        "![agreement between models](img/gsm8k-agreement.svg)",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT, help="The replay file.")
    parser.add_argument("--json", type=Path, help="Also write the headline figures to this JSON file.")
    options = parser.parse_args()
    print(main(require_replay_data(options.dataset), options.json))

"""GSM8K fusion: learned weighted votes and panels against the best single model, held out.

Evaluates a panel of all 42 replayed models once over the 1,319 questions with ``fusionsdk.eval``
(``numeric`` scorer), which gives each model's right/wrong and cost per question. For each seed,
the questions are split 50/50 (``split_rows``); weights (``fit_weights``: log-odds of each model's
train accuracy, integer bonus fitted on train) and panels of at most 5 models (``select_panel``:
the most accurate, and the most accurate costing at most 3x the best single model) are learned
on TRAIN only and measured on TEST in memory. For the main seed, every configuration then runs
as a real graph through ``evaluate`` on the test half, ``weighted_vote`` reading the fitted
weights file, so the reported figures are measured by the SDK.

    python benchmarks/gsm8k_fusion.py [PATH/TO/gsm8k.jsonl.gz] [--seed 0] [--seeds 10] [--json OUT]

Prints a Markdown section (about 45 s on 2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from fusionsdk.eval.harness import EvalReport, evaluate, split_rows
from fusionsdk.fusion.weights_file import write_weights
from fusionsdk.graph.builder import GraphBuilder
from fusionsdk.providers.replay import ReplayRow, load_replay
from fusionsdk.registry import default_registry
from fusionsdk.tuning.fusion_weights import fit_weights, select_panel
from fusionsdk.tuning.stats import mcnemar
from fusionsdk.tuning.vote_table import VoteTable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPLAY_DATA, require_replay_data
from gsm8k_replay import model_key  # the sibling script, found wherever this one is run from

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = REPLAY_DATA
MAX_PANEL = 5
BUDGET = 3.0  # the cheap panel costs at most this many times the best single model


def graph_for(dataset: Path, names: dict[str, str], panel: list[str], strategy: str, options: dict[str, Any]):
    """A panel of replayed models (config names) fused by ``strategy``."""
    builder = GraphBuilder()
    for key in panel:
        builder.model(key, provider="replay", model=names[key], options={"dataset": str(dataset)})
    builder.node("panel", "panel", models=panel, quorum=1)
    builder.node("fuse", "fuse", strategy=strategy, options=options)
    return builder.edge("START", "panel").edge("panel", "fuse").edge("fuse", "END").compile()


def run(graph: Any, rows: list[ReplayRow]) -> EvalReport:
    scorer = default_registry().get("scorers", "numeric")()
    return asyncio.run(evaluate(graph, rows, scorer, concurrency=32))


def learn(table: VoteTable, train: set[str]) -> dict[str, Any]:
    """Fit on the train questions; each configuration as (members, fuser, test accuracy, test cost)."""
    tr, te = table.subset(train), table.subset({r.id for r in table.rows} - train)
    fitted = fit_weights(tr, extract="number")
    records_tr, records_te = tr.records(), te.records()

    def share(record: tuple[int, int]) -> float:
        return record[0] / sum(record)

    single = max(tr.models, key=lambda m: (share(records_tr[m]), -tr.cost([m])))
    on_test = max(te.models, key=lambda m: share(records_te[m]))
    panel = select_panel(tr, fitted, max_size=MAX_PANEL)
    cheap = select_panel(tr, fitted, max_size=MAX_PANEL, max_cost_usd=BUDGET * tr.cost([single]))
    everyone, bonus = list(table.models), fitted.integer_bonus

    def vote(members: list[str], weights: dict[str, float], integer_bonus: float = bonus) -> float:
        return te.accuracy(weights, members, integer_bonus)

    members = {
        "single": ([single], "single", share(records_te[single])),
        "majority": (everyone, "majority", vote(everyone, {}, 0.0)),
        "weighted": (everyone, "weighted", vote(everyone, fitted.weights)),
        "panel": (list(panel.models), "weighted", vote(list(panel.models), fitted.weights)),
        "cheap": (list(cheap.models), "weighted", vote(list(cheap.models), fitted.weights)),
    }
    return {
        "fitted": fitted,
        "single": single,
        "configs": {k: (m, kind, accuracy, te.cost(m)) for k, (m, kind, accuracy) in members.items()},
        "on_test": (on_test, share(records_te[on_test]), te.cost([on_test])),
        "no_bonus": vote(everyone, fitted.weights, 0.0),
    }


def labels(learned: dict[str, Any]) -> dict[str, str]:
    """What each configuration is called in the tables."""
    count = len(learned["configs"]["majority"][0])
    return {
        "single": f"best single model on train ({learned['single']})",
        "majority": f"majority vote of all {count}",
        "weighted": f"weighted vote of all {count}, learned weights",
        "panel": f"best learned panel of at most {MAX_PANEL} (weighted vote)",
        "cheap": f"best learned panel of at most {MAX_PANEL} costing at most {BUDGET:g}x the single model",
    }


def confirm(
    dataset: Path, rows: list[ReplayRow], names: dict[str, str], learned: dict[str, Any]
) -> dict[str, Any]:
    """Run each configuration as a graph on the test rows; the SDK's accuracy and cost."""
    fitted, out, scores = learned["fitted"], {}, {}
    with tempfile.TemporaryDirectory() as folder:
        weights = Path(folder) / "weights.json"
        write_weights(weights, fitted.to_weights_data())
        fusers = {
            "single": ("majority_vote", {}),
            "majority": ("majority_vote", {"extract": "number"}),
            "weighted": ("weighted_vote", {"weights_file": str(weights)}),
        }
        for key, (members, kind, *_) in learned["configs"].items():
            report = run(graph_for(dataset, names, members, *fusers[kind]), rows)
            scores[key] = {r.id: r.score >= 0.5 for r in report.rows}
            out[key] = {
                "accuracy": report.accuracy,
                "ci95": report.ci95,
                "cost_usd": report.cost_usd,
                "n": report.n,
                "errors": report.errors,
                "models": members,
            }
    ids = sorted(scores["single"])
    base = np.array([scores["single"][i] for i in ids])
    for key, by_id in scores.items():
        out[key]["mcnemar"] = mcnemar(np.array([by_id.get(i, False) for i in ids]), base)
    return out


def main(dataset: Path, seed: int, seeds: int) -> tuple[str, dict[str, Any]]:
    started = time.perf_counter()
    data = load_replay(str(dataset))
    names = {model_key(m): m for m in data.models}
    report = run(graph_for(dataset, names, list(names), "majority_vote", {"extract": "number"}), data.rows)
    collected = time.perf_counter() - started
    answers = {r.id: {model_key(m): text for m, text in r.outputs.items()} for r in data.rows}
    table = VoteTable.from_report(report, answers, "number", list(names))
    by_seed = {
        s: learn(table, {r.id for r in split_rows(data.rows, "train", s)})
        for s in sorted({seed, *range(seeds)})
    }
    measured = confirm(dataset, split_rows(data.rows, "test", seed), names, by_seed[seed])
    seconds = time.perf_counter() - started
    text = render(by_seed, measured, seed, collected, seconds, len(data.rows))
    return text, {
        "seed": seed,
        "measured": measured,
        "seconds": seconds,
        "seeds": {s: {key: c[2] for key, c in r["configs"].items()} for s, r in by_seed.items()},
    }


def render(
    by_seed: dict[int, Any], measured: dict[str, Any], seed: int, collected: float, seconds: float, n: int
) -> str:
    learned = by_seed[seed]
    fitted = learned["fitted"]
    single_cost = measured["single"]["cost_usd"]
    names = labels(learned)
    lines = [
        "## GSM8K: learned fusion against the best single model",
        "",
        f"{n} questions, 42 replayed models, scorer `numeric`. Split 50/50 with seed {seed}; weights "
        f"(log-odds of each model's accuracy, integer bonus {fitted.integer_bonus:g}) and panels fitted on "
        f"the {fitted.n} train questions only; every figure below is measured on the {n - fitted.n} held-out "
        "test questions by `evaluate` running the configuration as a graph.",
        "",
        "| configuration | test accuracy (95% CI) | test cost (USD) | cost vs best single "
        "| McNemar p vs best single | in-memory estimate |",
        "|---|---|---|---|---|---|",
    ]
    for key, figures in measured.items():
        low, high = figures["ci95"]
        ratio = figures["cost_usd"] / single_cost if single_cost else float("nan")
        lines.append(
            f"| {names[key]} | {figures['accuracy']:.2%} ({low:.1%} to {high:.1%}) | "
            f"${figures['cost_usd']:.2f} | {ratio:.1f}x | {figures['mcnemar']['p_value']:.3g} "
            f"({figures['mcnemar']['a_only']} vs {figures['mcnemar']['b_only']}) | "
            f"{learned['configs'][key][2]:.2%} |"
        )
    name, accuracy, cost = learned["on_test"]
    lines += [
        f"| for reference (picked on test, not a result): the best single model on test ({name}) | "
        f"{accuracy:.2%} | ${cost:.2f} | | | |",
        "",
        "Selection rule: none here; every row is a fixed procedure fitted on the train half and all of "
        "them are shown. Choosing among them on train (cross-validation, a margin against the best "
        "single model, a cost budget) is `fusionsdk tune`'s job: see the tune section.",
        "",
    ]
    for key in ("panel", "cheap"):
        lines.append(f"- {names[key]}: {', '.join(measured[key]['models'])}")
    keys = list(learned["configs"])
    short = [
        "single (train-chosen)",
        "majority",
        "weighted",
        f"panel <= {MAX_PANEL}",
        f"panel <= {BUDGET:g}x cost",
    ]
    lines += [
        "",
        "All seeds, test accuracy (in memory from the same per-question results; the last column is "
        "the weighted vote without the integer bonus):",
        "",
        "| seed | " + " | ".join(short) + " | best single on test | weighted, no bonus |",
        "|---" * (len(short) + 3) + "|",
    ]
    for s, result in by_seed.items():
        cells = [f"{result['configs'][k][2]:.2%}" for k in keys] + [
            f"{result['on_test'][1]:.2%}",
            f"{result['no_bonus']:.2%}",
        ]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    means = [statistics.mean(r["configs"][k][2] for r in by_seed.values()) for k in keys]
    means += [
        statistics.mean(r["on_test"][1] for r in by_seed.values()),
        statistics.mean(r["no_bonus"] for r in by_seed.values()),
    ]
    lines.append("| mean | " + " | ".join(f"{m:.2%}" for m in means) + " |")
    lines += [
        "",
        f"Per-question results from one `evaluate` of all models over all questions ({collected:.0f} s); "
        f"total {seconds:.0f} s.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("dataset", nargs="?", type=Path, default=DEFAULT)
    cli.add_argument("--seed", type=int, default=0, help="The split confirmed with real graphs.")
    cli.add_argument("--seeds", type=int, default=10, help="Also report seeds 0..N-1 in memory.")
    cli.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    args = cli.parse_args()
    text, figures = main(require_replay_data(args.dataset), args.seed, args.seeds)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))

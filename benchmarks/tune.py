"""``fusionsdk tune`` on GSM8K: where one model dominates, and where models are close.

Evaluates the 42 replayed GSM8K models once (``fusionsdk.tuning.outcomes.collect_outcomes``,
``numeric`` scorer), splits the questions 50/50 as ``fusionsdk eval --split ... --seed S`` does,
and runs the tune procedure (``fusionsdk.tuning.tune.tune_outcomes``: 5-fold cross-validation
inside the train half, the selection rule of ``fusionsdk.tuning.search``) on three panels, all
chosen on the train half:

- *one model dominates*: the best single model on train plus the 5 most accurate models whose
  train accuracy is below 85% (a strong model and weak ones);
- *close models*: the 7 most accurate models on train;
- *all 42 models, budget 30%*: at most 30% of the best single model's cost.

Every figure in the tables is on the test half: accuracy with its Wilson 95% interval, cost
relative to the best single model (chosen on train), and McNemar's paired test against it. The
plain votes and the learned vote of each panel are shown beside the tuned choice for comparison
(fitted on train like everything else; they are not what tune picked unless it says so).

A second task follows: the committed CRUXEval subset (``tests/data/cruxeval/``, 48 questions,
5 models, scorer ``python_literal``), all 5 models, no budget; 24 train questions make its
figures indicative only.

    python benchmarks/tune.py [PATH/TO/gsm8k.jsonl.gz] [--seed 0] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from fusionsdk.eval.harness import split_rows
from fusionsdk.graph.builder import GraphBuilder
from fusionsdk.providers.replay import load_replay
from fusionsdk.registry import default_registry
from fusionsdk.tuning.outcomes import Outcomes, collect_outcomes
from fusionsdk.tuning.policies import VotePolicy
from fusionsdk.tuning.report import test_line
from fusionsdk.tuning.stats import accuracy_figures, mcnemar
from fusionsdk.tuning.tune import TuneResult, tune_outcomes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gsm8k_replay import model_key  # the sibling script, found wherever this one is run from

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared" / "data" / "replay" / "gsm8k.jsonl.gz"
CRUXEVAL = ROOT / "tests" / "data" / "cruxeval" / "cruxeval_subset.jsonl"


def outcomes_of(dataset: Path, scorer: str = "numeric", answer: str = "number") -> tuple[Outcomes, list[Any]]:
    """Every model's answer to every question, from one evaluation."""
    data = load_replay(str(dataset))
    builder = GraphBuilder()
    for name in data.models:
        builder.model(model_key(name), provider="replay", model=name, options={"dataset": str(dataset)})
    builder.node("answer", "agent", model=model_key(data.models[0]))
    config = builder.edge("START", "answer").edge("answer", "END").build()
    reader = default_registry().get("scorers", scorer)()
    outcomes = asyncio.run(collect_outcomes(config, data.rows, reader, answer=answer, concurrency=32))
    return outcomes, data.rows


def cruxeval(seed: int) -> tuple[list[str], dict[str, Any]]:
    """The same procedure on the committed CRUXEval subset: all 5 models, no budget."""
    outcomes, rows = outcomes_of(CRUXEVAL, scorer="python_literal", answer="python_literal")
    train = [r.id for r in split_rows(rows, "train", seed)]
    test = [r.id for r in split_rows(rows, "test", seed)]
    section, report = regime(
        "CRUXEval output prediction: the committed subset, all 5 models",
        outcomes,
        train,
        test,
        None,
        seed,
        learned=False,
    )
    intro = [
        f"{len(outcomes)} questions, 5 replayed models (abridged replies, see "
        "`tests/data/cruxeval/README.md`), scorer `python_literal`, split seed "
        f"{seed} ({len(train)} train, {len(test)} test). `tune` compares answers as the scorer "
        "does, as Python values (`python_literal`, its default for this scorer), so `'abc'` and "
        '`"abc"` agree in votes and cascades; `learned_vote` reads only the older four answer '
        "types, so it is not searched here. 24 train questions make the margin wide: these "
        "figures are indicative only.",
        "",
    ]
    return section[:2] + intro + section[2:], report


def comparison(
    panel: Outcomes, train: list[str], test: list[str], result: TuneResult, learned: bool = True
) -> list[str]:
    """Test lines of the plain votes and (with ``learned``) the learned vote of the whole panel."""
    fit_on, run_on = panel.take(train), panel.take(test)
    base_right, base_cost = result.single.run(run_on)
    lines = []
    for policy in (
        VotePolicy(None, "majority"),
        VotePolicy(None, "log_odds"),
        *([VotePolicy(None, "learned", 1.0)] if learned else []),
    ):
        right, cost = policy.fit(fit_on).run(run_on)
        figures = accuracy_figures(right, cost)
        figures["cost_ratio"] = figures["cost_usd"] / float(base_cost.sum())
        figures["mcnemar"] = mcnemar(right, base_right)
        lines.append(_row(f"{policy.label} (for comparison)", figures))
    return lines


def _row(label: str, f: dict[str, Any]) -> str:
    low, high = f["ci95"]
    p = f["mcnemar"]
    return (
        f"| {label} | {f['accuracy']:.2%} ({low:.1%} to {high:.1%}) | {f['cost_ratio']:.2f}x | "
        f"{p['p_value']:.3g} ({p['a_only']} vs {p['b_only']}) |"
    )


def regime(
    title: str,
    panel: Outcomes,
    train: list[str],
    test: list[str],
    budget: float | None,
    seed: int,
    learned: bool = True,
) -> tuple[list[str], dict[str, Any]]:
    started = time.perf_counter()
    result = tune_outcomes(panel, train, test, budget_share=budget, seed=seed, learned_votes=learned)
    report = result.as_dict()
    lines = [
        f"### {title}",
        "",
        f"Panel ({len(panel.models)}): " + ", ".join(f"`{m}`" for m in panel.models) + ".",
        "",
        "| policy (test half) | accuracy (95% CI) | cost vs best single | McNemar p vs best single |",
        "|---|---|---|---|",
        _row(f"best single model on train (`{result.single.label}`)", result.single_test),
        _row(f"**tuned**: {result.winner.label}", result.test),
        *comparison(panel, train, test, result, learned),
        "",
        f"Selection rule: {result.choice.selection['text']}.",
        "",
        f"Outcome: {result.choice.rule}. Chosen on cross-validation: "
        f"{report['chosen']['cv_accuracy']:.2%} against the best single model's "
        f"{report['best_single']['cv_accuracy']:.2%} (gain {report['chosen']['cv_gain'] * 100:+.2f} pt, "
        f"margin {report['chosen']['cv_margin'] * 100:.2f} pt); {report['searched']} policies searched "
        f"in {time.perf_counter() - started:.0f} s.",
        "",
        f"- {test_line('tuned', result.test)}",
        "",
    ]
    return lines, report


def main(dataset: Path, seed: int) -> tuple[str, dict[str, Any]]:
    if not dataset.exists():
        raise SystemExit(
            f"GSM8K replay data not found at {dataset}: this benchmark needs ../shared/data/replay/"
        )
    started = time.perf_counter()
    outcomes, rows = outcomes_of(dataset)
    collected = time.perf_counter() - started
    train = [r.id for r in split_rows(rows, "train", seed)]
    test = [r.id for r in split_rows(rows, "test", seed)]
    on_train = outcomes.take(train)
    order = sorted(outcomes.models, key=lambda m: (-on_train.accuracy(m), on_train.total_cost(m)))
    weak = [m for m in order if on_train.accuracy(m) < 0.85][:5]
    panels = {
        "One model dominates: the best single model and 5 weaker ones": (order[:1] + weak, None),
        "Close models: the 7 most accurate on train": (order[:7], None),
        "All 42 models, at most 30% of the best single model's cost": (order, 0.3),
    }
    lines = [
        "## fusionsdk tune on GSM8K: chosen on train, measured on test",
        "",
        f"{len(outcomes)} questions, 42 replayed models, scorer `numeric`, split seed {seed} "
        f"({len(train)} train, {len(test)} test). Every choice is made on the train half by 5-fold "
        "cross-validation; nothing is fitted on the test half. Costs are the replayed models' list "
        "prices; *cost vs best single* divides by the test cost of the model most accurate on train.",
        "",
    ]
    figures: dict[str, Any] = {"seed": seed, "regimes": {}}
    for title, (models, budget) in panels.items():
        section, report = regime(title, outcomes.select(models), train, test, budget, seed)
        lines += section
        figures["regimes"][title] = report
    section, figures["cruxeval"] = cruxeval(seed)
    lines += section
    lines.append(
        f"Evaluating the 42 models once took {collected:.0f} s; total {time.perf_counter() - started:.0f} s."
    )
    return "\n".join(lines), figures


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("dataset", nargs="?", type=Path, default=DEFAULT)
    cli.add_argument("--seed", type=int, default=0)
    cli.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    args = cli.parse_args()
    text, data = main(args.dataset, args.seed)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(data, indent=2, default=str))

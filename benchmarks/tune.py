"""``fusionsdk tune`` on GSM8K: where models are close, where one model dominates, under a budget.

Runs ``fusionsdk tune``'s procedure on user configs of the GSM8K replay file (42 real models'
recorded answers to the 1,319 test questions, ``numeric`` scorer, answers compared as
``number``, the scorer's own answer type, as the CLI does): every model of a config is evaluated
once (:func:`fusionsdk.tuning.outcomes.collect_outcomes`, through the config's replay models);
the questions are split 50/50 as ``fusionsdk eval --split ... --seed S`` splits them, and
:func:`fusionsdk.tuning.tune.tune_outcomes` chooses on the train half (5-fold cross-validation
inside it, the selection rule of :mod:`fusionsdk.tuning.search`) and measures on the test half.
The cases, none chosen by looking at the test half:

- *close models*: ``benchmarks/configs/gsm8k_small_open.yaml``, the 8 small open-weight models
  of the file (at most 12B parameters; a rule that reads no accuracy), without a budget and with
  ``--budget-share 3``;
- *one model dominates*: ``benchmarks/configs/gsm8k_strong_plus_small.yaml``, gpt-4o with the
  same 8 small models;
- *all 42 models, budget 30%*: at most 30% of the best single model's cost;
- a second task: ``examples/cruxeval.yaml`` on the committed CRUXEval subset
  (``tests/data/cruxeval/``, 48 questions, 5 models, scorer ``python_literal``).

For split seed ``--seed`` (default 0), each case gets a table on the test half: the best single
model (chosen on train), the tuned choice, and for comparison the plain and learned votes of the
whole panel (fitted on train), each with accuracy and its Wilson 95% interval, cost relative to
the best single model and McNemar's paired test against it. Then the same procedure on split
seeds 0 to ``--seeds - 1`` (default 10): how often the choice beats the best single model on
the test half, by how much, how often significantly, and at what cost (a target met by one lucky
split is not met).

    python benchmarks/tune.py [PATH/TO/gsm8k.jsonl.gz] [--seed 0] [--seeds 10] [--json OUT]
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

import yaml

from fusionsdk.config.file import load_config
from fusionsdk.eval.harness import split_rows
from fusionsdk.graph.builder import GraphBuilder
from fusionsdk.providers.replay import load_replay
from fusionsdk.registry import default_registry
from fusionsdk.tuning.answer_spec import scorer_answer
from fusionsdk.tuning.outcomes import Outcomes, collect_outcomes
from fusionsdk.tuning.policies import VotePolicy
from fusionsdk.tuning.report import test_line
from fusionsdk.tuning.stats import accuracy_figures, mcnemar
from fusionsdk.tuning.tune import TuneResult, tune_outcomes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gsm8k_replay import model_key  # the sibling script, found wherever this one is run from

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared" / "data" / "replay" / "gsm8k.jsonl.gz"
CONFIGS = ROOT / "benchmarks" / "configs"
CRUXEVAL = ROOT / "tests" / "data" / "cruxeval" / "cruxeval_subset.jsonl"
CRUX_CONFIG = ROOT / "examples" / "cruxeval.yaml"

#: (title, config file, budget share) of the GSM8K user configs.
CASES = (
    ("Close models: the 8 small open-weight models (`gsm8k_small_open.yaml`)", "gsm8k_small_open.yaml", None),
    (
        "Close models, at most 3 times the best single model's cost (`gsm8k_small_open.yaml`, budget 3)",
        "gsm8k_small_open.yaml",
        3.0,
    ),
    (
        "One model dominates: gpt-4o and the 8 small open-weight models (`gsm8k_strong_plus_small.yaml`)",
        "gsm8k_strong_plus_small.yaml",
        None,
    ),
)


def _quiet(_: Any) -> None:
    """No progress output."""


def config_outcomes(config_file: Path, dataset: Path, scorer_name: str) -> tuple[Outcomes, list[Any], str]:
    """Every model of ``config_file`` on ``dataset`` (its replay models read ``dataset``), answers
    read with the scorer's own answer type, as ``fusionsdk tune`` does. Returns the outcomes, the
    rows and the answer type's name."""
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    for spec in data["models"].values():
        if spec.get("provider") == "replay":
            spec.setdefault("options", {})["dataset"] = str(dataset)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / config_file.name
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        config = load_config(path)
    rows = load_replay(str(dataset)).rows
    scorer = default_registry().get("scorers", scorer_name)()
    answer = scorer_answer(scorer)
    outcomes = asyncio.run(
        collect_outcomes(config, rows, scorer, answer=answer, concurrency=32, on_row=_quiet)
    )
    return outcomes, rows, answer.name


def all_models(dataset: Path) -> Outcomes:
    """The 42 replayed models, every answer read as ``number``."""
    data = load_replay(str(dataset))
    builder = GraphBuilder()
    for name in data.models:
        builder.model(model_key(name), provider="replay", model=name, options={"dataset": str(dataset)})
    builder.node("answer", "agent", model=model_key(data.models[0]))
    config = builder.edge("START", "answer").edge("answer", "END").build()
    reader = default_registry().get("scorers", "numeric")()
    return asyncio.run(collect_outcomes(config, data.rows, reader, answer="number", concurrency=32))


def halves(rows: list[Any], seed: int) -> tuple[list[str], list[str]]:
    """The train and test ids of ``fusionsdk eval --split train|test --seed seed``."""
    return [r.id for r in split_rows(rows, "train", seed)], [r.id for r in split_rows(rows, "test", seed)]


def _row(label: str, f: dict[str, Any]) -> str:
    low, high = f["ci95"]
    p = f["mcnemar"]
    return (
        f"| {label} | {f['accuracy']:.2%} ({low:.1%} to {high:.1%}) | {f['cost_ratio']:.2f}x | "
        f"{p['p_value']:.3g} ({p['a_only']} vs {p['b_only']}) |"
    )


def comparison(panel: Outcomes, train: list[str], test: list[str], result: TuneResult) -> list[str]:
    """Test lines of the plain votes and the learned vote of the whole panel (fitted on train)."""
    fit_on, run_on = panel.take(train), panel.take(test)
    base_right, base_cost = result.single.run(run_on)
    lines = []
    for policy in (
        VotePolicy(None, "majority"),
        VotePolicy(None, "log_odds"),
        VotePolicy(None, "learned", 1.0),
    ):
        right, cost = policy.fit(fit_on).run(run_on)
        figures = accuracy_figures(right, cost)
        figures["cost_ratio"] = figures["cost_usd"] / float(base_cost.sum())
        figures["mcnemar"] = mcnemar(right, base_right)
        lines.append(_row(f"{policy.label} (for comparison)", figures))
    return lines


def detail(
    title: str, panel: Outcomes, rows: list[Any], budget: float | None, seed: int
) -> tuple[list[str], dict[str, Any], TuneResult]:
    """The table of one case on split seed ``seed`` (and the result, reused by :func:`robustness`)."""
    started = time.perf_counter()
    train, test = halves(rows, seed)
    result = tune_outcomes(panel, train, test, budget_share=budget, seed=seed)
    report = result.as_dict()
    on_train = panel.take(train)
    listing = ", ".join(
        f"`{m}` {on_train.accuracy(m):.1%}" for m in sorted(panel.models, key=on_train.accuracy)[::-1]
    )
    lines = [
        f"### {title}",
        "",
        f"Panel ({len(panel.models)}), with each model's train accuracy (split seed {seed}): {listing}.",
        "",
        "| policy (test half) | accuracy (95% CI) | cost vs best single | McNemar p vs best single |",
        "|---|---|---|---|",
        _row(f"best single model on train (`{result.single.label}`)", result.single_test),
        _row(f"**tuned**: {result.winner.label}", result.test),
        *comparison(panel, train, test, result),
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
    return lines, report, result


def robustness(
    panel: Outcomes, rows: list[Any], budget: float | None, seeds: int, known: dict[int, TuneResult]
) -> tuple[list[str], dict[str, Any]]:
    """The same procedure on split seeds ``0 .. seeds - 1`` (``known``: results already computed,
    by seed): a line per seed and a summary."""
    lines = [
        f"Split seeds 0 to {seeds - 1} (each a fresh 50/50 split; the choice made on its train half, "
        "measured on its test half):",
        "",
        "| seed | best single (train) | its test accuracy | tuned choice | test accuracy | gain "
        "| cost vs best single | McNemar p |",
        "|---|---|---|---|---|---|---|---|",
    ]
    per_seed = []
    for seed in range(seeds):
        train, test = halves(rows, seed)
        result = known.get(seed) or tune_outcomes(panel, train, test, budget_share=budget, seed=seed)
        gain = result.test["accuracy"] - result.single_test["accuracy"]
        p = result.test["mcnemar"]["p_value"]
        per_seed.append(
            {
                "seed": seed,
                "best_single": result.single.label,
                "best_single_accuracy": result.single_test["accuracy"],
                "chosen": result.winner.label,
                "family": result.winner.family,
                "beaten_on_train": result.choice.beaten,
                "accuracy": result.test["accuracy"],
                "gain": gain,
                "cost_ratio": result.test["cost_ratio"],
                "p_value": p,
            }
        )
        lines.append(
            f"| {seed} | `{result.single.label}` | {result.single_test['accuracy']:.2%} | "
            f"{result.winner.label} | {result.test['accuracy']:.2%} | {gain * 100:+.2f} pt | "
            f"{result.test['cost_ratio']:.2f}x | {p:.3g} |"
        )
    gains = [s["gain"] * 100 for s in per_seed]
    ratios = [s["cost_ratio"] for s in per_seed]
    summary = {
        "seeds": seeds,
        "combination_chosen": sum(s["family"] != "single" for s in per_seed),
        "better_on_test": sum(s["gain"] > 0 for s in per_seed),
        "worse_on_test": sum(s["gain"] < 0 for s in per_seed),
        "significant_better": sum(s["gain"] > 0 and s["p_value"] < 0.05 for s in per_seed),
        "significant_worse": sum(s["gain"] < 0 and s["p_value"] < 0.05 for s in per_seed),
        "gain_pt_mean": statistics.mean(gains),
        "gain_pt_sd": statistics.stdev(gains) if len(gains) > 1 else 0.0,
        "gain_pt_min": min(gains),
        "gain_pt_max": max(gains),
        "cost_ratio_min": min(ratios),
        "cost_ratio_max": max(ratios),
        "per_seed": per_seed,
    }
    lines += [
        "",
        f"Over the {seeds} splits: a combination was chosen on {summary['combination_chosen']}; the "
        f"choice scored above the best single model on the test half on {summary['better_on_test']} "
        f"(significantly, McNemar p < 0.05, on {summary['significant_better']}) and below it on "
        f"{summary['worse_on_test']} (significantly on {summary['significant_worse']}); gain "
        f"{summary['gain_pt_mean']:+.2f} pt on average (standard deviation {summary['gain_pt_sd']:.2f}, "
        f"from {summary['gain_pt_min']:+.2f} to {summary['gain_pt_max']:+.2f}), at "
        f"{summary['cost_ratio_min']:.2f}x to {summary['cost_ratio_max']:.2f}x the best single model's cost.",
        "",
    ]
    return lines, summary


def case(
    title: str, panel: Outcomes, rows: list[Any], budget: float | None, seed: int, seeds: int
) -> tuple[list[str], dict[str, Any]]:
    lines, report, result = detail(title, panel, rows, budget, seed)
    more, summary = robustness(panel, rows, budget, seeds, {seed: result})
    return lines + more, {"seed": report, "seeds": summary}


def main(dataset: Path, seed: int, seeds: int) -> tuple[str, dict[str, Any]]:
    if not dataset.exists():
        raise SystemExit(
            f"GSM8K replay data not found at {dataset}: this benchmark needs ../shared/data/replay/"
        )
    started = time.perf_counter()
    lines = [
        "## fusionsdk tune on GSM8K: chosen on train, measured on test",
        "",
        f"GSM8K replay file: 1,319 questions, 42 real models, scorer `numeric`, answers compared as "
        f"`number`; split seed {seed} in the tables. Every choice is made on the train half by 5-fold "
        "cross-validation; nothing is fitted on the test half. Costs are the replayed models' list "
        "prices; *cost vs best single* divides by the test cost of the model most accurate on train. "
        f"Each case is then run on split seeds 0 to {seeds - 1}.",
        "",
    ]
    figures: dict[str, Any] = {"seed": seed, "seeds": seeds, "cases": {}}
    for title, name, budget in CASES:
        outcomes, rows, _ = config_outcomes(CONFIGS / name, dataset, "numeric")
        section, figures["cases"][title] = case(title, outcomes, rows, budget, seed, seeds)
        lines += section
    everything = all_models(dataset)
    rows = load_replay(str(dataset)).rows
    title = "All 42 models, at most 30% of the best single model's cost"
    section, figures["cases"][title] = case(title, everything, rows, 0.3, seed, seeds)
    lines += section
    crux, crux_rows, answer = config_outcomes(CRUX_CONFIG, CRUXEVAL, "python_literal")
    title = "A second task: CRUXEval output prediction, all 5 models (`examples/cruxeval.yaml`)"
    section, figures["cases"][title] = case(title, crux, crux_rows, None, seed, seeds)
    intro = [
        f"{len(crux)} questions, 5 replayed models (abridged replies, see "
        f"`tests/data/cruxeval/README.md`), scorer `python_literal`, answers compared as `{answer}` "
        "(so `'abc'` and `\"abc\"` agree in votes, cascades and the learned vote); 24 train "
        "questions per split make the margin wide: these figures are indicative only.",
        "",
    ]
    lines += section[:2] + intro + section[2:]
    lines.append(f"Total {time.perf_counter() - started:.0f} s.")
    return "\n".join(lines), figures


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("dataset", nargs="?", type=Path, default=DEFAULT)
    cli.add_argument("--seed", type=int, default=0, help="The split seed of the detailed tables.")
    cli.add_argument("--seeds", type=int, default=10, help="Robustness: split seeds 0 .. N-1.")
    cli.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    args = cli.parse_args()
    text, data = main(args.dataset, args.seed, args.seeds)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(data, indent=2, default=str))

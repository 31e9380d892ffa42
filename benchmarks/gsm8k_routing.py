"""GSM8K routing: cascades and learned routers against the best single model, held out.

Evaluates a panel of all 42 replayed models once over the 1,319 questions with ``fusionsdk.eval``
(``numeric`` scorer), which gives each model's right/wrong, cost and final number on every
question. The questions are split 50/50 (``split_rows``, seed 0). On TRAIN only:

- the best single model (the most accurate) and the weak model (the cheapest at least 90% right);
- the cascade, by ``fusionsdk cascade fit``'s code (``fusionsdk.tuning.tune.tune_outcomes`` with
  the single and cascade families, budget 30% of the best single model's cost): cheap models
  first, accepted when enough of the answers so far agree on the number (the ``cascade`` node's
  ``agreement`` rule), else the strong ones; chain, threshold and answers needed chosen by 5-fold
  cross-validation inside the train half, with the rule ``fusionsdk.tuning.search.choose`` states
  (the page prints the rule that was applied);
- the learned routers (``knn``, ``logistic``, ``mlp``, ``mf``) fitted on the train questions'
  embeddings (``fit_router_model``), between the weak and the best single model (as RouteLLM) and
  over the cheap models and the strong ones.

On TEST: the chosen configurations run as real graphs through ``evaluate`` (figures measured by
the SDK), the cascade's threshold is swept with ``fusionsdk.eval.sweep.sweep``; the learned
routers' threshold and cost-weight curves are computed in memory with the router's own decision
rule (``fusionsdk.routing.learned.choose``) and the matched-cost point is confirmed as a graph.
Random routing (weak and strong mixed at rates 0..1) and the oracle (the cheapest right model)
are computed from the same per-question results. APGR (weak = the weak model, strong = the best
single model) and AIQ come from :mod:`fusionsdk.eval.metrics`.

The whole procedure is also run for seeds 0..9 in memory (choices on each train half, figures on
its test half).

    python benchmarks/gsm8k_routing.py [PATH/TO/gsm8k.jsonl.gz] [--seed 0] [--seeds 10]
        [--embedder NAME] [--json OUT]

Prints a Markdown section (a few minutes on 2 cores, most of it in evaluations and embeddings).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fusionsdk.answers import normalize_answer
from fusionsdk.eval.harness import EvalReport, evaluate, split_rows
from fusionsdk.eval.metrics import aiq, apgr, pareto_frontier
from fusionsdk.eval.sweep import sweep
from fusionsdk.graph.builder import GraphBuilder
from fusionsdk.providers.replay import ReplayRow, load_replay
from fusionsdk.registry import default_registry
from fusionsdk.routing.embedding import default_embedder, embed_unit, shared_embedder
from fusionsdk.routing.learned import choose
from fusionsdk.routing.router_file import write_router_model
from fusionsdk.tuning.outcomes import Outcomes as Table
from fusionsdk.tuning.outcomes import outcomes_from_results
from fusionsdk.tuning.policies import Chain
from fusionsdk.tuning.router_training import TrainingSet, fit_router_model
from fusionsdk.tuning.stats import mcnemar
from fusionsdk.tuning.tune import TuneResult, tune_outcomes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPLAY_DATA, require_replay_data
from gsm8k_replay import model_key  # the sibling script, found wherever this one is run from

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = REPLAY_DATA
FINALS, BUDGET, REASONABLE = 3, 0.30, 0.90
THRESHOLDS = (0.5, 0.67, 0.75, 1.0)
METHODS = ("knn", "logistic", "mlp", "mf")


@dataclass(frozen=True)
class Outcomes:
    """Every model's result on some questions: right, cost (USD) and answer key."""

    ids: list[str]
    questions: list[str]
    models: list[str]
    right: np.ndarray
    cost: np.ndarray
    keys: list[list[str]]
    table: Table

    def take(self, ids: set[str]) -> Outcomes:
        rows = [i for i, row_id in enumerate(self.ids) if row_id in ids]
        return Outcomes(
            [self.ids[i] for i in rows],
            [self.questions[i] for i in rows],
            self.models,
            self.right[rows],
            self.cost[rows],
            [self.keys[i] for i in rows],
            self.table.rows(rows),
        )

    def point(self, model: str) -> tuple[float, float]:
        j = self.models.index(model)
        return float(self.cost[:, j].sum()), float(self.right[:, j].mean())


def run(graph: Any, rows: list[ReplayRow]) -> EvalReport:
    scorer = default_registry().get("scorers", "numeric")()
    return asyncio.run(evaluate(graph, rows, scorer, concurrency=32))


def builder_for(dataset: Path, names: dict[str, str], models: list[str]) -> GraphBuilder:
    builder = GraphBuilder()
    for key in models:
        builder.model(key, provider="replay", model=names[key], options={"dataset": str(dataset)})
    return builder


def collect(dataset: Path, names: dict[str, str], rows: list[ReplayRow]) -> tuple[Outcomes, EvalReport]:
    """One evaluation of every model on every question (a panel of all, majority vote)."""
    models = list(names)
    builder = builder_for(dataset, names, models).node("panel", "panel", models=models, quorum=1)
    builder.node("vote", "fuse", strategy="majority_vote", options={"extract": "number"})
    report = run(builder.edge("START", "panel").edge("panel", "vote").edge("vote", "END").compile(), rows)
    by_id = {r.id: r for r in rows}
    results = [r for r in report.rows if r.error is None]
    right = np.array([[r.model_scores.get(m, 0.0) >= 0.5 for m in models] for r in results])
    cost = np.array([[r.model_costs.get(m, 0.0) for m in models] for r in results])
    keys = [
        [normalize_answer(by_id[r.id].outputs.get(names[m], ""), "number") for m in models] for r in results
    ]
    questions = [by_id[r.id].question for r in results]
    table = outcomes_from_results(results, rows, models, "number")
    return Outcomes([r.id for r in results], questions, models, right, cost, keys, table), report


# -- cascades ---------------------------------------------------------------------------------------

#: A cascade: its models in order, the agreement threshold and the fewest answers to accept.
Cascade = tuple[list[str], float, int]


def simulate(data: Outcomes, config: Cascade) -> tuple[float, float]:
    """(cost, accuracy) of a cascade on recorded answers, as the ``cascade`` node answers
    (:class:`fusionsdk.tuning.policies.Chain`, what ``fusionsdk cascade fit`` simulates)."""
    right, cost = Chain("cascade", "", list(config[0]), config[1], config[2]).run(data.table)
    return float(cost.sum()), float(right.mean())


def as_cascade(fitted: Any) -> Cascade:
    """A fitted policy as (models, threshold, min answers): a single model is a one-step chain."""
    if isinstance(fitted, Chain):
        return (list(fitted.models), fitted.threshold, fitted.least)
    return ([fitted.model], 1.0, 1)


def choose_cascade(train: Outcomes, test: Outcomes, seed: int) -> tuple[Cascade, TuneResult]:
    """The ``fusionsdk cascade fit`` choice on train (cross-validated, within ``BUDGET`` of the
    best single model's cost; the rule is ``fusionsdk.tuning.search.choose``'s)."""
    result = tune_outcomes(
        _joined(train, test),
        train.ids,
        test.ids,
        budget_share=BUDGET,
        seed=seed,
        families=("single", "cascade"),
    )
    return as_cascade(result.winner), result


def _joined(train: Outcomes, test: Outcomes) -> Table:
    a, b = train.table, test.table
    return Table(
        a.ids + b.ids,
        a.questions + b.questions,
        a.models,
        np.vstack([a.right, b.right]),
        np.vstack([a.cost, b.cost]),
        a.keys + b.keys,
    )


def by_seed(everything: Outcomes, rows: list[ReplayRow], seeds: int) -> list[dict[str, Any]]:
    """The whole procedure (choices on train, figures on test) for seeds 0..N-1, in memory."""
    out = []
    for seed in range(seeds):
        train_ids = {r.id for r in split_rows(rows, "train", seed)}
        train, test = everything.take(train_ids), everything.take(set(everything.ids) - train_ids)
        single = best_single(train)
        config, _ = choose_cascade(train, test, seed)
        cost, accuracy = simulate(test, config)
        single_cost, single_accuracy = test.point(single)
        out.append(
            {
                "seed": seed,
                "single": single,
                "single_accuracy": single_accuracy,
                "accuracy": accuracy,
                "cost_ratio": cost / single_cost,
                "config": config,
            }
        )
    return out


def best_single(train: Outcomes) -> str:
    """The most accurate model on train (the cheaper on a tie)."""
    return max(train.models, key=lambda m: (train.point(m)[1], -train.point(m)[0]))


# -- learned routers --------------------------------------------------------------------------------


def learned_points(
    fit: Any, x_test: np.ndarray, test: Outcomes, targets: list[str]
) -> list[tuple[str, float, float]]:
    """(setting, cost, accuracy) on test for thresholds and cost weights over ``targets``."""
    model = fit.model
    predicted = model.predictor.predict(x_test)
    columns = {t: model.models.index(t) for t in targets}
    settings = [("threshold", float(t)) for t in np.round(np.linspace(0.5, 1.0, 51), 3)]
    settings += [("utility", float(w)) for w in (0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0)]
    points = []
    for decision, value in settings:
        right, spent = 0, 0.0
        for i in range(len(test.ids)):
            scores = {t: float(predicted[i, c]) for t, c in columns.items()}
            target, _ = choose(scores, model.costs, decision, threshold=value, cost_weight=value)  # type: ignore[arg-type]
            j = test.models.index(target)
            right += bool(test.right[i, j])
            spent += test.cost[i, j]
        points.append((f"{decision}={value:g}", spent, right / len(test.ids)))
    return points


def oracle(test: Outcomes, models: list[str]) -> tuple[float, float]:
    """(cost, accuracy) of asking, per question, only the cheapest of ``models`` that is right."""
    columns = [test.models.index(m) for m in models]
    cost = test.cost[:, columns]
    right = test.right[:, columns]
    spent = np.where(right.any(axis=1), np.where(right, cost, np.inf).min(axis=1), cost.min(axis=1))
    return float(spent.sum()), float(right.any(axis=1).mean())


# -- real graphs ------------------------------------------------------------------------------------


def single_graph(dataset: Path, names: dict[str, str], model: str) -> Any:
    builder = builder_for(dataset, names, [model]).node("answer", "agent", model=model)
    return builder.edge("START", "answer").edge("answer", "END")


def cascade_graph(dataset: Path, names: dict[str, str], config: Cascade) -> GraphBuilder:
    sequence, threshold, least = config
    builder = builder_for(dataset, names, sequence)
    accept = {"method": "agreement", "threshold": threshold, "min_answers": least, "extract": "number"}
    builder.node("answer", "cascade", models=sequence, accept=accept)
    return builder.edge("START", "answer").edge("answer", "END")


def learned_graph(
    dataset: Path, names: dict[str, str], targets: list[str], model_file: Path, setting: str
) -> Any:
    decision, value = setting.split("=")
    options = {
        "model_file": str(model_file),
        "decision": decision,
        "threshold" if decision == "threshold" else "cost_weight": float(value),
    }
    builder = builder_for(dataset, names, targets).node(
        "answer", "agent", router="learned", models=targets, router_options=options
    )
    return builder.edge("START", "answer").edge("answer", "END")


def measured(report: EvalReport) -> dict[str, Any]:
    return {
        "accuracy": report.accuracy,
        "ci95": list(report.ci95),
        "cost_usd": report.cost_usd,
        "errors": report.errors,
        "n": report.n,
        "route_share": report.route_share,
    }


# -- the benchmark ----------------------------------------------------------------------------------


def learn_all(
    train: Outcomes, test: Outcomes, embedder: str, seed: int, pairs: dict[str, list[str]]
) -> dict[str, Any]:
    """Fit each method on train; its held-out Brier (within train) and test curves per target set."""
    data = TrainingSet(train.questions, train.models, train.right.astype(float), train.cost)
    encoder = shared_embedder(embedder, registry=default_registry())
    x_train, x_test = embed_unit(encoder, train.questions), embed_unit(encoder, test.questions)
    out: dict[str, Any] = {}
    for method in METHODS:
        started = time.perf_counter()
        fit = fit_router_model(data, method=method, embedder=embedder, seed=seed, embeddings=x_train)
        out[method] = {
            "fit": fit,
            "seconds": time.perf_counter() - started,
            "curves": {name: learned_points(fit, x_test, test, targets) for name, targets in pairs.items()},
        }
    return out


def main(dataset: Path, seed: int, seeds: int, embedder: str | None) -> tuple[str, dict[str, Any]]:
    started = time.perf_counter()
    data = load_replay(str(dataset))
    names = {model_key(m): m for m in data.models}
    everything, _ = collect(dataset, names, data.rows)
    collected = time.perf_counter() - started
    train_ids = {r.id for r in split_rows(data.rows, "train", seed)}
    train, test = everything.take(train_ids), everything.take(set(everything.ids) - train_ids)
    test_rows = split_rows(data.rows, "test", seed)

    # Chosen on train only.
    single = best_single(train)
    weak = min((m for m in train.models if train.point(m)[1] >= REASONABLE), key=lambda m: train.point(m)[0])
    chosen, tuned = choose_cascade(train, test, seed)
    family = [(as_cascade(s.policy.fit(train.table)), s) for s in tuned.choice.scored]
    family = [(config, *simulate(test, config)) for config, _ in family]
    embedder = embedder or default_embedder(default_registry())
    strong = sorted(train.models, key=lambda m: (-train.point(m)[1], train.point(m)[0]))[:FINALS]
    pairs = {"weak/strong": [weak, single], "cheap + strong": list(dict.fromkeys([*chosen[0], *strong]))}
    learned = learn_all(train, test, embedder, seed, pairs)
    best_method = min(METHODS, key=lambda m: learned[m]["fit"].brier)

    # Measured on test by the SDK.
    graphs = {
        "single": run(single_graph(dataset, names, single).compile(), test_rows),
        "weak": run(single_graph(dataset, names, weak).compile(), test_rows),
        "cascade": run(cascade_graph(dataset, names, chosen).compile(), test_rows),
    }
    scorer = default_registry().get("scorers", "numeric")()
    swept = {
        least: asyncio.run(
            sweep(
                cascade_graph(dataset, names, (chosen[0], chosen[1], least)).build(),
                "nodes.answer.accept.threshold",
                list(THRESHOLDS),
                test_rows,
                scorer,
                concurrency=32,
            )
        )
        for least in (2, 3)
    }
    curve = learned[best_method]["curves"]["weak/strong"]
    matched = min(curve, key=lambda p: abs(p[1] - graphs["cascade"].cost_usd))
    with tempfile.TemporaryDirectory() as folder:
        model_file = Path(folder) / "router.json"
        write_router_model(model_file, learned[best_method]["fit"].model)
        graph = learned_graph(dataset, names, [weak, single], model_file, matched[0]).compile()
        graphs["learned"] = run(graph, test_rows)
    seeds_table = by_seed(everything, data.rows, seeds)
    context = {
        "n": len(everything.ids),
        "train": len(train.ids),
        "n_test": len(test.ids),
        "seed": seed,
        "single": single,
        "weak": weak,
        "weak_pt": test.point(weak),
        "strong_pt": test.point(single),
        "chosen": chosen,
        "tuned": tuned,
        "chosen_test": simulate(test, chosen),
        "single_train": train.point(single),
        "family": family,
        "learned": learned,
        "best_method": best_method,
        "matched": matched,
        "graphs": graphs,
        "swept": swept,
        "embedder": embedder,
        "collected": collected,
        "oracle_all": oracle(test, test.models),
        "oracle_pair": oracle(test, [weak, single]),
        "test_best": max(test.models, key=lambda m: test.point(m)[1]),
        "test": test,
        "seeds": seeds_table,
        "seconds": time.perf_counter() - started,
    }
    return render(context), figures(context)


def p_vs(report: EvalReport, single: EvalReport) -> str:
    """McNemar's p of ``report`` against ``single`` (same questions), with the discordant counts."""
    base = {r.id: r.score >= 0.5 for r in single.rows}
    ids = [r.id for r in report.rows if r.id in base]
    mine = {r.id: r.score >= 0.5 for r in report.rows}
    test = mcnemar(np.array([mine[i] for i in ids]), np.array([base[i] for i in ids]))
    return f"{test['p_value']:.3g} ({test['a_only']} vs {test['b_only']})"


def _pct(x: float) -> str:
    return f"{x:.2%}"


def _chain(config: Cascade) -> str:
    sequence, threshold, least = config
    return " → ".join(sequence) + f" (accepted once {least}+ answers and ≥ {threshold:.0%} of them agree)"


def _short(config: Cascade) -> str:
    return " → ".join(m.split("-Instruct")[0] for m in config[0]) + f" ≥{config[1]:g}/{config[2]}"


def render(c: dict[str, Any]) -> str:
    weak_pt, strong_pt, graphs = c["weak_pt"], c["strong_pt"], c["graphs"]
    single_report, cascade_report = graphs["single"], graphs["cascade"]
    base = single_report.cost_usd

    def gap(points: list[tuple[float, float]]) -> str:
        try:
            return f"{apgr(points, weak_pt, strong_pt):.3f}"
        except ValueError:
            return "n/a"

    def area(points: list[tuple[float, float]]) -> str:
        return f"{aiq([*points, weak_pt, strong_pt]):.4f}"

    def row(label: str, report: EvalReport, note: str = "") -> str:
        low, high = report.ci95
        return (
            f"| {label} | {_pct(report.accuracy)} ({low:.1%} to {high:.1%}) | ${report.cost_usd:.4f} | "
            f"{report.cost_usd / base:.1%} | {p_vs(report, single_report)} | {note} |"
        )

    def shares(report: EvalReport) -> str:
        ordered = sorted(report.route_share.items(), key=lambda kv: -kv[1])
        return ", ".join(f"{m} {s:.0%}" for m, s in ordered)

    rate = min(1.0, max(0.0, (cascade_report.cost_usd - weak_pt[0]) / (strong_pt[0] - weak_pt[0])))
    random_acc = weak_pt[1] + rate * (strong_pt[1] - weak_pt[1])
    met = cascade_report.accuracy >= single_report.accuracy and cascade_report.cost_usd <= BUDGET * base
    test, best_test, method = c["test"], c["test_best"], c["best_method"]
    tuned = c["tuned"].as_dict()
    chosen_cv, single_cv = tuned["chosen"], tuned["best_single"]
    agree = abs(c["chosen_test"][1] - cascade_report.accuracy) < 1e-9
    same = "the same as" if agree and abs(c["chosen_test"][0] - cascade_report.cost_usd) < 1e-6 else "unlike"
    lines = [
        "## GSM8K: cascades and learned routers against the best single model",
        "",
        f"{c['n']} questions, 42 replayed models, scorer `numeric`. Split 50/50 with seed {c['seed']} "
        f"({c['train']} train, {c['n_test']} test questions). Every choice (the best single model, the weak "
        "model, the cascade, the learned routers) is made on the train questions; the rows below are "
        "measured on the test questions by `evaluate` running each configuration as a graph. Embeddings "
        f"of the learned routers: `{c['embedder']}`.",
        "",
        "| configuration | test accuracy (95% CI) | test cost (USD) | cost vs best single "
        "| McNemar p vs best single | answered by |",
        "|---|---|---|---|---|---|",
        row(f"best single model on train ({c['single']})", single_report),
        row(
            f"weak model: the cheapest at least {REASONABLE:.0%} right on train ({c['weak']})", graphs["weak"]
        ),
        row(f"**cascade** chosen on train: {_chain(c['chosen'])}", cascade_report, shares(cascade_report)),
        row(
            f"learned router ({method}, weak/strong, {c['matched'][0]}), at about the cascade's cost",
            graphs["learned"],
            shares(graphs["learned"]),
        ),
        f"| random weak/strong mix at the cascade's cost (expected) | {_pct(random_acc)} | "
        f"${cascade_report.cost_usd:.4f} | {cascade_report.cost_usd / base:.1%} | | strong {rate:.0%} |",
        f"| oracle: the cheapest right model of all 42, per question | {_pct(c['oracle_all'][1])} | "
        f"${c['oracle_all'][0]:.4f} | {c['oracle_all'][0] / base:.1%} | | |",
        f"| oracle: the weak model if right, else the strong one | {_pct(c['oracle_pair'][1])} | "
        f"${c['oracle_pair'][0]:.4f} | {c['oracle_pair'][0] / base:.1%} | | |",
        f"| for reference (picked on test, not a result): the best single model on test ({best_test}) | "
        f"{_pct(test.point(best_test)[1])} | "
        f"${test.point(best_test)[0]:.4f} | {test.point(best_test)[0] / base:.1%} | | |",
        "",
        f"Target: at least the best single model's test accuracy ({_pct(single_report.accuracy)}) at no "
        f"more than {BUDGET:.0%} of its cost: **{'met' if met else 'missed'}**: the cascade reaches "
        f"{_pct(cascade_report.accuracy)} at {cascade_report.cost_usd / base:.1%} of the cost "
        f"({1 - cascade_report.cost_usd / base:.0%} saved; RouteLLM reports 35% saved at 95% of GPT-4's "
        f"quality). Chosen by `fusionsdk cascade fit` (`fusionsdk.tuning`, {tuned['folds']}-fold "
        f"cross-validation inside the train half, {tuned['searched']} policies: single models and "
        f"cascades). Rule applied: {tuned['rule']}. On cross-validation it reached "
        f"{_pct(chosen_cv['cv_accuracy'])} (best single model {_pct(single_cv['cv_accuracy'])}) at "
        f"{chosen_cv['cv_cost_ratio']:.1%} of the best single model's cost. Simulated on test in memory: "
        f"{_pct(c['chosen_test'][1])} at ${c['chosen_test'][0]:.4f} ({same} the graph's figures).",
        "",
        "### The cascade's threshold, swept (test, real graphs through `fusionsdk.eval.sweep`)",
        "",
        f"Models {' → '.join(c['chosen'][0])}; accepted once the answers so far number at least "
        "`min_answers` and the leading one's share reaches the threshold.",
        "",
        "| threshold | min answers | accuracy | cost (USD) | cost vs best single | on the frontier |",
        "|---|---|---|---|---|---|",
    ]
    sweep_points = [p for result in c["swept"].values() for p in result.points]
    frontier = pareto_frontier(sweep_points)
    for least, result in c["swept"].items():
        for value, (cost, acc) in zip(result.values, result.points, strict=True):
            on = "yes" if (cost, acc) in frontier else ""
            lines.append(f"| {value:g} | {least} | {_pct(acc)} | ${cost:.4f} | {cost / base:.1%} | {on} |")
    lines += [
        "",
        f"APGR {gap(sweep_points)}, AIQ {area(sweep_points)} (the weak and strong models as anchors).",
        "",
    ]
    family_points = [(f[1], f[2]) for f in c["family"]]
    lines += [
        f"### All {len(c['family'])} cascades searched, on test (in memory)",
        "",
        "Their Pareto frontier: what the family can reach (picking among them on test would be optimistic).",
        "",
        "| cascade | accuracy | cost vs best single |",
        "|---|---|---|",
    ]
    for cost, acc in pareto_frontier(family_points):
        config = next(f[0] for f in c["family"] if (f[1], f[2]) == (cost, acc))
        lines.append(f"| {_short(config)} | {_pct(acc)} | {cost / base:.1%} |")
    lines += ["", f"APGR {gap(family_points)}, AIQ {area(family_points)}.", ""]
    lines += _learned_section(c, base, gap, area)
    random_points = [
        ((1 - r) * weak_pt[0] + r * strong_pt[0], (1 - r) * weak_pt[1] + r * strong_pt[1])
        for r in np.linspace(0, 1, 11)
    ]
    best_pair = [(p[1], p[2]) for p in c["learned"][method]["curves"]["weak/strong"]]
    lines += [
        "### APGR and AIQ side by side (test)",
        "",
        "| router | APGR | AIQ |",
        "|---|---|---|",
        f"| cascade, threshold sweep (real graphs) | {gap(sweep_points)} | {area(sweep_points)} |",
        f"| cascades, envelope of the search | {gap(family_points)} | {area(family_points)} |",
        f"| learned {method}, weak/strong | {gap(best_pair)} | {area(best_pair)} |",
        f"| random weak/strong mix | {gap(random_points)} | {area(random_points)} |",
        f"| oracle, weak if right else strong | {gap([c['oracle_pair']])} | {area([c['oracle_pair']])} |",
        "",
    ]
    lines += _seeds_section(c["seeds"])
    lines += [
        "",
        f"Per-question results of all 42 models from one `evaluate` ({c['collected']:.0f} s); total "
        f"{c['seconds']:.0f} s.",
    ]
    return "\n".join(lines)


def _learned_section(c: dict[str, Any], base: float, gap: Any, area: Any) -> list[str]:
    learned, method = c["learned"], c["best_method"]
    lines = [
        "### Learned routers (fitted on train, curves on test in memory)",
        "",
        "Each predicts every model's chance of being right from the question's embedding; the curves "
        "sweep the threshold (0.5 to 1) and the cost weight (0 to 2) with the router's own decision rule. "
        "Held-out Brier: 20% of the train questions held out, lower is better; a router learned something "
        "from the text only where it beats predicting each model's success rate.",
        "",
        "| method | held-out Brier | success rates alone | fit (s) | APGR weak/strong | AIQ weak/strong "
        "| APGR cheap + strong | AIQ cheap + strong | best accuracy at ≤ 30% cost |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in METHODS:
        entry = learned[name]
        fit = entry["fit"]
        pair = [(p[1], p[2]) for p in entry["curves"]["weak/strong"]]
        multi = [(p[1], p[2]) for p in entry["curves"]["cheap + strong"]]
        cheap = [a for cost, a in pair + multi if cost <= BUDGET * base]
        lines.append(
            f"| {name} | {fit.brier:.4f} | {fit.brier_prior:.4f} | {entry['seconds']:.1f} | {gap(pair)} "
            f"| {area(pair)} | {gap(multi)} | {area(multi)} | {_pct(max(cheap)) if cheap else 'n/a'} |"
        )
    lines += [
        "",
        f"Frontier of the {method} router between {c['weak']} and {c['single']}:",
        "",
        "| setting | accuracy | cost vs best single |",
        "|---|---|---|",
    ]
    curve = learned[method]["curves"]["weak/strong"]
    for cost, acc in pareto_frontier([(p[1], p[2]) for p in curve]):
        setting = next(p[0] for p in curve if (p[1], p[2]) == (cost, acc))
        lines.append(f"| {setting} | {_pct(acc)} | {cost / base:.1%} |")
    return [*lines, ""]


def _seeds_section(seeds: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"### The procedure on {len(seeds)} splits (in memory)",
        "",
        "For each seed: the best single model and the cascade chosen on its train half, both measured on "
        "its test half.",
        "",
        "| seed | best single on train | its test accuracy | cascade test accuracy | difference "
        "| cascade cost vs single | cascade |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in seeds:
        lines.append(
            f"| {s['seed']} | {s['single']} | {_pct(s['single_accuracy'])} | {_pct(s['accuracy'])} | "
            f"{(s['accuracy'] - s['single_accuracy']) * 100:+.2f} pt | {s['cost_ratio']:.1%} | "
            f"{_short(s['config'])} |"
        )
    diffs = [s["accuracy"] - s["single_accuracy"] for s in seeds]
    ratios = [s["cost_ratio"] for s in seeds]
    lines += [
        f"| mean | | {_pct(float(np.mean([s['single_accuracy'] for s in seeds])))} | "
        f"{_pct(float(np.mean([s['accuracy'] for s in seeds])))} | {np.mean(diffs) * 100:+.2f} pt | "
        f"{np.mean(ratios):.1%} | |",
        "",
        f"The cascade matched or beat the best single model on {sum(d >= 0 for d in diffs)} of {len(seeds)} "
        f"splits, at {min(ratios):.0%} to {max(ratios):.0%} of its cost.",
    ]
    return lines


def figures(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "seed": c["seed"],
        "embedder": c["embedder"],
        "single": c["single"],
        "weak": c["weak"],
        "cascade": {"models": c["chosen"][0], "threshold": c["chosen"][1], "min_answers": c["chosen"][2]},
        "seeds": [{**s, "config": list(s["config"])} for s in c["seeds"]],
        "measured": {k: measured(v) for k, v in c["graphs"].items()},
        "sweep": {least: result.as_dict() for least, result in c["swept"].items()},
        "learned": {
            m: {"brier": e["fit"].brier, "brier_prior": e["fit"].brier_prior, "curves": e["curves"]}
            for m, e in c["learned"].items()
        },
        "oracle_all": c["oracle_all"],
        "oracle_pair": c["oracle_pair"],
        "seconds": c["seconds"],
    }


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("dataset", nargs="?", type=Path, default=DEFAULT)
    cli.add_argument("--seed", type=int, default=0, help="The split confirmed with real graphs.")
    cli.add_argument(
        "--seeds", type=int, default=10, help="Also run the procedure for seeds 0..N-1 in memory."
    )
    cli.add_argument("--embedder", help="Embedder of the learned routers (default: minilm, else hashing).")
    cli.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    args = cli.parse_args()
    text, data = main(require_replay_data(args.dataset), args.seed, args.seeds, args.embedder)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(data, indent=2, default=str))

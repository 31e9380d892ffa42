"""Learning vote weights and panels from evaluations of the committed GSM8K subset."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from fusionsdk.config.file import load_config
from fusionsdk.errors import ConfigError
from fusionsdk.eval.harness import EvalReport, evaluate
from fusionsdk.eval.scorers.numeric import NumericScorer
from fusionsdk.fusion.weights_file import WeightsData, write_weights
from fusionsdk.graph import compile_file
from fusionsdk.graph.builder import GraphBuilder
from fusionsdk.providers.replay import load_replay
from fusionsdk.tuning.fusion_fit import fit_config, panel_of
from fusionsdk.tuning.fusion_weights import fit_weights, select_panel
from fusionsdk.tuning.vote_table import VoteTable

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "replay.yaml"
DATA = ROOT / "tests" / "data" / "gsm8k_subset.jsonl"
ROWS = load_replay(str(DATA)).rows
RECORDED = load_replay(str(DATA)).models  # 9 models
SCORER = NumericScorer()


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the example's dataset path is relative to the repository


@pytest.fixture(scope="module")
def table() -> VoteTable:
    return VoteTable.from_replay(ROWS, SCORER, "number")


@pytest.fixture(scope="module")
def report() -> EvalReport:
    from fusionsdk._sync import run_sync

    return run_sync(evaluate(compile_file(EXAMPLE), ROWS, SCORER))


def graph(models: list[str], strategy: str, options: dict[str, object]) -> object:
    builder = GraphBuilder()
    for model in models:
        builder.model(model.replace(".", "_"), provider="replay", model=model, options={"dataset": str(DATA)})
    names = [m.replace(".", "_") for m in models]
    builder.node("panel", "panel", models=names).node("vote", "fuse", strategy=strategy, options=options)
    return builder.edge("START", "panel").edge("panel", "vote").edge("vote", "END").compile()


def test_table_counts_match_a_direct_count(table: VoteTable) -> None:
    assert len(table.rows) == 40 and set(table.models) == set(RECORDED) and table.exact
    for model in RECORDED:
        right = sum(SCORER.score(r.outputs[model], r.answer) for r in ROWS if model in r.outputs)
        assert table.records()[model][0] == right
    assert table.cost() == 0.0  # replay rows carry no costs


def test_weights_are_smoothed_log_odds(table: VoteTable) -> None:
    fitted = fit_weights(table, smoothing=2.0, integer_bonus=0.0)
    for model, (right, wrong) in table.records().items():
        assert fitted.weights[model] == pytest.approx(max(0.0, math.log((right + 2) / (wrong + 2))))
    assert fitted.n == 40 and 0 < fitted.majority_accuracy <= 1 and fitted.integer_bonus == 0.0
    assert fit_weights(ROWS, scorer=SCORER).weights == fit_weights(table).weights


async def test_the_simulated_vote_is_what_the_sdk_measures(table: VoteTable, tmp_path: Path) -> None:
    fitted = fit_weights(table)
    path = tmp_path / "w.json"
    keyed = {m.replace(".", "_"): w for m, w in fitted.weights.items()}  # config names
    write_weights(path, WeightsData(keyed, settings={"extract": "number", "integer_bonus": 0.5}))
    measured = await evaluate(graph(RECORDED, "weighted_vote", {"weights_file": str(path)}), ROWS, SCORER)
    assert measured.accuracy == pytest.approx(table.accuracy(fitted.weights, RECORDED, integer_bonus=0.5))


async def test_a_report_gives_the_same_weights_and_costs(table: VoteTable, report: EvalReport) -> None:
    config = load_config(EXAMPLE)
    names = {name: spec.model for name, spec in config.models.items()}
    from_report = fit_weights(report)
    direct = fit_weights(table)
    assert {name: from_report.weights[name] for name in names} == {
        n: direct.weights[m] for n, m in names.items()
    }
    pooled = VoteTable.from_report(report)
    assert not pooled.exact and pooled.cost() == pytest.approx(report.cost_usd)
    answers = {r.id: {n: r.outputs[m] for n, m in names.items()} for r in ROWS}
    exact = VoteTable.from_report(report, answers, "number", list(names))
    assert exact.exact and exact.models == tuple(names)
    weights = from_report.weights
    assert pooled.accuracy(weights) <= exact.accuracy(weights)  # pooling wrong answers is pessimistic
    assert exact.accuracy(dict.fromkeys(names, 1.0)) == pytest.approx(report.accuracy)


def test_unknown_answers_are_pooled_pessimistically() -> None:
    from fusionsdk.eval.harness import RowResult

    row = RowResult(
        "q", "", 1.0, 0.0, 0, 0.0, model_scores={"a": 1.0, "b": 1.0, "c": 0.0, "d": 0.0, "e": 0.0}
    )
    table = VoteTable.from_report([row], {"q": {"a": "The answer is 18."}}, "number")
    assert table.rows[0].answers == {
        "a": "18",
        "b": "18",
        "c": "\x00wrong",
        "d": "\x00wrong",
        "e": "\x00wrong",
    }
    assert not table.exact and table.accuracy({}) == 0.0  # three wrong answers outvote two right ones
    assert table.accuracy({"a": 2.0, "b": 2.0}) == 1.0


def test_panels_of_one_are_the_best_single_model(table: VoteTable) -> None:
    fitted = fit_weights(table)
    best = select_panel(table, fitted, max_size=1)
    records = table.records()
    assert len(best.models) == 1 and best.accuracy == max(r / (r + w) for r, w in records.values())


def test_exhaustive_search_beats_or_ties_greedy_and_respects_the_size(table: VoteTable) -> None:
    fitted = fit_weights(table)
    exhaustive = select_panel(table, fitted, max_size=3, top_n=9)
    greedy = select_panel(table, fitted, max_size=3, method="greedy")
    assert len(exhaustive.models) <= 3 and len(greedy.models) <= 3
    assert exhaustive.accuracy >= greedy.accuracy
    assert exhaustive.accuracy == table.accuracy(fitted.weights, exhaustive.models, fitted.integer_bonus)
    assert 0 < exhaustive.searched <= sum(math.comb(9, k) for k in (1, 2, 3))


def test_ties_go_to_the_cheaper_panel_and_budgets_hold(report: EvalReport) -> None:
    fitted = fit_weights(report)
    cheapest = min(report.per_model, key=lambda m: report.per_model[m]["cost_usd"])
    budget = report.per_model[cheapest]["cost_usd"] * 2.5
    chosen = select_panel(report, fitted, max_size=3, max_cost_usd=budget)
    assert chosen.cost_usd <= budget
    free = select_panel(report, fitted, max_size=3)
    assert free.accuracy >= chosen.accuracy
    same = [p for p in (chosen, free) if p.accuracy == free.accuracy]
    assert min(p.cost_usd for p in same) == free.cost_usd  # the cheapest of the most accurate
    with pytest.raises(ConfigError, match="max_cost_usd"):
        select_panel(report, fitted, max_cost_usd=0.0)


def test_bad_arguments_are_config_errors(table: VoteTable) -> None:
    fitted = fit_weights(table)
    with pytest.raises(ConfigError, match="scorer"):
        fit_weights(ROWS)
    with pytest.raises(ConfigError, match="nothing to learn from"):
        fit_weights([])
    with pytest.raises(ConfigError, match="smoothing"):
        fit_weights(table, smoothing=0)
    with pytest.raises(ConfigError, match="integer_bonus"):
        fit_weights(table, integer_bonus=-1)
    with pytest.raises(ConfigError, match="max_size"):
        select_panel(table, fitted, max_size=0)
    with pytest.raises(ConfigError, match="method"):
        select_panel(table, fitted, method="random")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"models\.x: model 'nope' has no recorded answers"):
        VoteTable.from_replay(ROWS, SCORER, models={"x": "nope"})


def test_subset_and_an_empty_table(table: VoteTable) -> None:
    ids = [r.id for r in ROWS[:10]]
    assert [r.id for r in table.subset(ids).rows] == ids
    with pytest.raises(ConfigError, match="no model answered"):
        table.subset([])


async def test_fit_config_evaluates_the_panel_and_writes_figures(tmp_path: Path) -> None:
    fit = await fit_config(load_config(EXAMPLE), ROWS, SCORER, max_panel=2)
    assert fit.panel_node == "panel" and fit.table.exact and fit.fitted.extract == "number"
    assert fit.panel is not None and 1 <= len(fit.panel.models) <= 2
    data = fit.weights_data(seed=1).to_json()
    assert data["panel"] == list(fit.panel.models) and data["seed"] == 1
    assert data["cost_usd"] == pytest.approx(fit.report.cost_usd)
    assert data["best_single"]["accuracy"] == max(m["accuracy"] for m in fit.report.per_model.values())


def test_panel_of_names_the_problem() -> None:
    config = load_config(EXAMPLE)
    assert panel_of(config) == ("panel", ["gpt4o", "llama405b", "sonnet", "flash", "mini"])
    with pytest.raises(ConfigError, match="panel: 'vote' is not a panel node"):
        panel_of(config, "vote")
    no_panel = GraphBuilder().model("m", provider="fake").node("a", "agent", model="m")
    with pytest.raises(ConfigError, match="nodes: the config has no panel node"):
        panel_of(no_panel.edge("START", "a").edge("a", "END").build())


async def test_fit_config_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="max_panel"):
        await fit_config(load_config(EXAMPLE), ROWS, SCORER, max_panel=0)
    with pytest.raises(
        ConfigError, match="extract: must be one of text, number, choice, json_field, .*math.*got .roman."
    ):
        await fit_config(load_config(EXAMPLE), ROWS, SCORER, extract="roman")

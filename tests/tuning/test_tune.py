"""fusionsdk tune: policies simulate what their graphs do, the selection rule is honest, and the
written config reproduces the report with ``fusionsdk eval``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from fusionsdk.cli.app import build_app
from fusionsdk.config.file import load_config
from fusionsdk.eval.harness import evaluate, split_rows
from fusionsdk.graph.compiler import compile_config
from fusionsdk.providers.replay import load_replay
from fusionsdk.registry import default_registry
from fusionsdk.tuning.outcomes import Outcomes, collect_outcomes
from fusionsdk.tuning.policies import BestSingle, CascadePolicy, VotePolicy
from fusionsdk.tuning.router_policy import RouterPolicy, write_router_files
from fusionsdk.tuning.stats import mcnemar
from fusionsdk.tuning.tune import tune_outcomes, tuned_data

DATA = Path(__file__).resolve().parents[1] / "data" / "gsm8k_subset.jsonl"


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = load_replay(str(DATA)).rows
    models = {
        f"m{i}": {"provider": "replay", "model": m, "options": {"dataset": str(DATA)}}
        for i, m in enumerate(rows[0].outputs)
    }
    data = {
        "version": 1,
        "models": models,
        "nodes": {"answer": {"kind": "agent", "model": "m0"}},
        "edges": [["START", "answer"], ["answer", "END"]],
    }
    path = tmp_path_factory.mktemp("tune") / "models.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def outcomes(config_file: Path) -> Outcomes:
    scorer = default_registry().get("scorers", "numeric")()
    rows = load_replay(str(DATA)).rows
    return asyncio.run(collect_outcomes(load_config(config_file), rows, scorer, answer="number"))


@pytest.mark.parametrize(
    "policy",
    [
        BestSingle(),
        VotePolicy(5, "majority"),
        VotePolicy(None, "log_odds"),
        VotePolicy(5, "learned", 1.0),
        CascadePolicy(2, 1, 0.67, 2, 0.3),
        CascadePolicy(3, 2, 1.0, 3, 0.1),
        RouterPolicy(0.75, 0.15),
    ],
    ids=lambda p: p.label,
)
def test_written_graph_answers_as_simulated(
    policy: object, config_file: Path, outcomes: Outcomes, tmp_path: Path
) -> None:
    rows = load_replay(str(DATA)).rows
    train, test = split_rows(rows, "train", 0), split_rows(rows, "test", 0)
    fitted = policy.fit(outcomes.take({r.id for r in train}))  # type: ignore[attr-defined]
    right, cost = fitted.run(outcomes.take({r.id for r in test}))
    data = tuned_data(load_config(config_file), fitted, "number")
    write_router_files(data, fitted, tmp_path / "tuned.yaml")
    scorer = default_registry().get("scorers", "numeric")()
    report = asyncio.run(evaluate(compile_config(data), test, scorer))
    assert report.accuracy == pytest.approx(right.mean())
    assert report.cost_usd == pytest.approx(cost.sum())


def _synthetic(n: int, strong: float, weak: float, weak_models: int, seed: int = 1) -> Outcomes:
    """A strong model and weak ones whose wrong answers coincide (one shared wrong answer)."""
    rng = np.random.default_rng(seed)
    models = ["strong", *(f"weak{i}" for i in range(weak_models))]
    right = np.column_stack([rng.random(n) < strong, *(rng.random(n) < weak for _ in range(weak_models))])
    keys: list[list[str | None]] = [["1" if ok else "2" for ok in row] for row in right]
    cost = np.tile([10.0, *([1.0] * weak_models)], (n, 1))
    ids = [f"q{i}" for i in range(n)]
    return Outcomes(ids, ids, models, right, cost, keys)


def test_dominant_model_is_kept_where_votes_fall_below_it() -> None:
    data = _synthetic(600, 0.9, 0.55, 6)
    ids = data.ids
    result = tune_outcomes(data, ids[:300], ids[300:], families=("single", "fusion"))
    majority = VotePolicy(None, "majority").fit(data.take(ids[:300])).run(data.take(ids[300:]))[0]
    assert majority.mean() < result.single_test["accuracy"]  # the plain vote falls below
    assert result.test["accuracy"] >= result.single_test["accuracy"] - 0.02
    learned = VotePolicy(None, "learned", 1.0).fit(data.take(ids[:300])).run(data.take(ids[300:]))[0]
    assert learned.mean() >= result.single_test["accuracy"]


def test_close_models_are_fused_when_that_wins() -> None:
    rng = np.random.default_rng(3)
    n, models = 800, [f"m{i}" for i in range(5)]
    right = rng.random((n, 5)) < 0.7
    keys: list[list[str | None]] = [[("1" if ok else str(rng.integers(2, 9))) for ok in row] for row in right]
    ids = [f"q{i}" for i in range(n)]
    data = Outcomes(ids, ids, models, right, np.ones((n, 5)), keys)
    result = tune_outcomes(data, ids[:400], ids[400:], families=("single", "fusion"))
    assert result.choice.beaten and result.winner.family == "fusion"
    assert result.test["accuracy"] > result.single_test["accuracy"]
    assert result.test["mcnemar"]["p_value"] < 0.05


def test_nothing_beats_identical_models() -> None:
    data = _synthetic(200, 0.8, 0.8, 0)
    result = tune_outcomes(data, data.ids[:100], data.ids[100:])
    assert not result.choice.beaten and "kept it" in result.choice.rule


def test_mcnemar_exact_and_chi_square() -> None:
    a = np.array([True] * 10 + [False] * 2 + [True] * 50)
    b = np.array([False] * 10 + [True] * 2 + [True] * 50)
    exact = mcnemar(a, b)
    assert exact["test"] == "exact binomial" and exact["p_value"] == pytest.approx(0.0386, abs=1e-3)
    big = mcnemar(np.array([True] * 30 + [False] * 10), np.array([False] * 30 + [True] * 10))
    assert big["test"] == "chi-square" and big["p_value"] == pytest.approx(0.00268, abs=1e-4)


def test_cli_tune_report_reproduces_with_eval(config_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "tuned.yaml"
    args = ["tune", str(config_file), "-d", str(DATA), "-s", "numeric", "--out", str(out), "--json"]
    result = runner.invoke(build_app(), [*args, "--report", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    checked = runner.invoke(
        build_app(), ["eval", str(out), "-d", str(DATA), "-s", "numeric", "--split", "test", "--json"]
    )
    assert checked.exit_code == 0, checked.output
    measured = json.loads(checked.stdout)
    assert measured["accuracy"] == pytest.approx(report["test"]["accuracy"])
    assert measured["cost_usd"] == pytest.approx(report["test"]["cost_usd"])
    assert "<svg" in (tmp_path / "r.html").read_text()


def test_cascade_fit_refuses_the_test_half(config_file: Path, tmp_path: Path) -> None:
    args = ["cascade", "fit", str(config_file), "-d", str(DATA), "-s", "numeric", "--split", "test"]
    result = CliRunner().invoke(build_app(), [*args, "--out", str(tmp_path / "c.yaml")])
    assert result.exit_code != 0 and "train half only" in str(result.exception)

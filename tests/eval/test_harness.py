"""Evaluating graphs of replayed models: accuracy, per-model figures, oracle, sweeps, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fusionsdk.answers import normalize_answer
from fusionsdk.config.file import load_config
from fusionsdk.errors import ConfigError
from fusionsdk.eval.base import Scorer
from fusionsdk.eval.harness import evaluate, split_rows
from fusionsdk.eval.report import render_html
from fusionsdk.eval.sweep import set_path, sweep
from fusionsdk.graph import compile_file
from fusionsdk.providers.replay import load_replay

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "replay.yaml"
ROWS = load_replay(str(ROOT / "tests" / "data" / "gsm8k_subset.jsonl")).rows


class LastNumber(Scorer):
    """Right when the last numbers agree (a stand-in independent of the scorer plugins)."""

    def score(self, prediction: str, reference: str) -> float:
        return float(normalize_answer(prediction, "number") == normalize_answer(reference, "number"))


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the example's dataset path is relative to the repository


def expected_accuracy(model: str) -> float:
    scorer = LastNumber()
    return sum(scorer.score(r.outputs[model], r.answer) for r in ROWS) / len(ROWS)


async def test_eval_matches_a_direct_count() -> None:
    report = await evaluate(compile_file(EXAMPLE), ROWS, LastNumber(), concurrency=8)
    assert report.n == 40 and report.errors == 0
    assert report.per_model["gpt4o"]["accuracy"] == pytest.approx(expected_accuracy("gpt-4o-2024-08-06"))
    assert report.per_model["flash"]["accuracy"] == pytest.approx(expected_accuracy("gemini-1.5-flash"))
    assert report.oracle_accuracy >= max(v["accuracy"] for v in report.per_model.values())
    assert report.ci95[0] <= report.accuracy <= report.ci95[1]
    assert report.cost_usd == pytest.approx(sum(v["cost_usd"] for v in report.per_model.values()))
    assert sum(report.call_share.values()) == pytest.approx(1.0)
    json.dumps(report.as_dict(with_rows=True))


async def test_failed_rows_score_zero_and_are_counted() -> None:
    rows = [*ROWS[:3], type(ROWS[0])("missing", "A question nobody recorded?", "1", {})]
    report = await evaluate(compile_file(EXAMPLE), rows, LastNumber())
    assert report.errors == 1 and report.n == 4
    assert next(r for r in report.rows if r.id == "missing").error is not None


async def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="no rows"):
        await evaluate(compile_file(EXAMPLE), [], LastNumber())
    with pytest.raises(ConfigError, match="concurrency"):
        await evaluate(compile_file(EXAMPLE), ROWS, LastNumber(), concurrency=0)


def test_split_is_deterministic_and_disjoint() -> None:
    train, test = split_rows(ROWS, "train", seed=3), split_rows(ROWS, "test", seed=3)
    assert {r.id for r in train}.isdisjoint({r.id for r in test}) and len(train) + len(test) == 40
    assert [r.id for r in split_rows(ROWS, "train", seed=3)] == [r.id for r in train]
    assert [r.id for r in split_rows(ROWS, "train", seed=4)] != [r.id for r in train]
    with pytest.raises(ConfigError):
        split_rows(ROWS, "train", train_fraction=1.5)


async def test_sweep_panel_size_gives_a_curve() -> None:
    values: list[Any] = [
        ["flash"],
        ["flash", "mini", "gpt4o"],
        ["gpt4o", "llama405b", "sonnet", "flash", "mini"],
    ]
    result = await sweep(load_config(EXAMPLE), "nodes.panel.models", values, ROWS[:20], LastNumber())
    summary = result.as_dict()
    costs = [p["cost_usd"] for p in summary["points"]]
    assert costs == sorted(costs) and 0 < summary["aiq"] <= 1
    assert summary["frontier"]


def test_set_path_errors_name_the_path() -> None:
    data = {"nodes": {"panel": {"models": ["a"]}}}
    assert set_path(data, "nodes.panel.models[0]", "b")["nodes"]["panel"]["models"] == ["b"]
    assert data["nodes"]["panel"]["models"] == ["a"]
    with pytest.raises(ConfigError, match="at 'nodes.fuse'"):
        set_path(data, "nodes.fuse.strategy", "x")


async def test_html_report_has_the_three_plots(tmp_path: Path) -> None:
    report = await evaluate(compile_file(EXAMPLE), ROWS[:10], LastNumber())
    page = render_html(report, title="t")
    assert page.count("<svg") == 3 and "Pareto frontier" in page and "gpt4o" in page

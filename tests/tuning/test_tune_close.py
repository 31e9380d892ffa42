"""fusionsdk tune on a panel of close models (the committed GSM8K subset's small open-weight
models, ``examples/small_open.yaml``): every family is searched, learned votes included; the
choice follows the selection rule on the real cross-validation figures; the choice is made on the
train half only; and the written config reproduces the report with ``fusionsdk eval``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from fusionsdk.cli.app import build_app
from fusionsdk.eval.harness import split_rows
from fusionsdk.providers.replay import load_replay

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "small_open.yaml"
DATA = ROOT / "tests" / "data" / "gsm8k_subset.jsonl"
WRONG = '```json\n{\n    "reasoning": "(replaced)",\n    "answer": "-1"\n}\n```'


def _run(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(build_app(), [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _tune(config: Path, data: Path, out: Path, *extra: str) -> dict[str, Any]:
    return _run("tune", str(config), "-d", str(data), "-s", "numeric", "--out", str(out), *extra)


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the example's dataset paths are relative to the repository


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("close") / "tuned.yaml"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        return out, _tune(CONFIG, DATA, out, "--seed", "0", "--budget-share", "6")


def test_the_panel_is_close_and_every_family_is_searched(tuned: tuple[Path, dict[str, Any]]) -> None:
    _, report = tuned
    accuracies = sorted(m["accuracy"] for m in report["models_train"])
    assert len(accuracies) == 4 and accuracies[-1] - accuracies[1] <= 0.2  # three within 20 points
    labels = [c["policy"] for c in report["candidates"]]
    families = {c["family"] for c in report["candidates"]}
    assert families == {"single", "fusion", "cascade", "router"}
    assert "learned vote of all models, C=1" in labels and "majority vote of top 3" in labels
    assert report["answer"] == "number"


def test_the_choice_follows_the_rule_on_the_cross_validation_figures(
    tuned: tuple[Path, dict[str, Any]],
) -> None:
    """Within the budget, a policy replaces the best single model only if its cross-validated gain
    exceeds its margin; then the most accurate of those wins. Checked on the real figures."""
    _, report = tuned
    budget = report["budget_share"]
    affordable = [c for c in report["candidates"] if c["cv_cost_ratio"] <= budget + 1e-9]
    clearing = [c for c in affordable if c["cv_gain"] > c["cv_margin"]]
    assert [c for c in report["candidates"] if c["cv_gain"] > 0 and c["family"] == "fusion"]
    if clearing:
        assert report["beaten"] and report["chosen"]["cv_accuracy"] == max(c["cv_accuracy"] for c in clearing)
    else:  # 20 train questions: a 2-standard-error margin is wide
        assert not report["beaten"] and report["chosen"]["label"] == report["best_single"]["label"]
        assert "kept it" in report["rule"]
    margins = {c["policy"]: c["cv_margin"] for c in report["candidates"]}
    assert all(m >= 0.005 for m in margins.values())


def test_the_written_config_reproduces_the_report(tuned: tuple[Path, dict[str, Any]]) -> None:
    out, report = tuned
    measured = _run("eval", str(out), "-d", str(DATA), "-s", "numeric", "--split", "test", "--seed", "0")
    assert measured["accuracy"] == pytest.approx(report["test"]["accuracy"])
    assert measured["cost_usd"] == pytest.approx(report["test"]["cost_usd"])
    assert report["test"]["n"] == 20 and report["n_train"] == 20


def test_the_choice_ignores_the_test_half(tuned: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """Every test-half reply replaced by a wrong one: the cross-validation figures and the choice
    are unchanged (only the test figures move)."""
    _, report = tuned
    test_ids = {r.id for r in split_rows(load_replay(str(DATA)).rows, "test", 0)}
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        if row["id"] in test_ids:
            row["outputs"] = dict.fromkeys(row["outputs"], WRONG)
    data = tmp_path / DATA.name
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    shutil.copy(DATA.parent / "models.json", tmp_path / "models.json")
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    for spec in config["models"].values():
        spec["options"]["dataset"] = str(data)
    moved = tmp_path / "config.yaml"
    moved.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    again = _tune(moved, data, tmp_path / "tuned.yaml", "--seed", "0", "--budget-share", "6")
    assert again["chosen"] == report["chosen"]
    assert [c["cv_accuracy"] for c in again["candidates"]] == [c["cv_accuracy"] for c in report["candidates"]]
    assert again["test"]["accuracy"] == 0.0

"""``fusionsdk eval`` and ``fusionsdk sweep`` on the committed GSM8K subset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusionsdk.cli.app import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "replay.yaml")
DATA = str(ROOT / "tests" / "data" / "gsm8k_subset.jsonl")


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_eval_json_has_the_required_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", EXAMPLE, "--dataset", DATA, "--scorer", "numeric", "--json", "--ratings"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"accuracy", "n", "cost_usd", "per_model", "oracle_accuracy"} <= data.keys()
    assert data["n"] == 40 and 0.8 <= data["accuracy"] <= 1.0
    assert data["oracle_accuracy"] >= max(m["accuracy"] for m in data["per_model"].values())
    assert set(data["ratings"]["elo"]) == set(data["per_model"])


def test_eval_split_limit_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.html"
    args = ["eval", EXAMPLE, "-d", DATA, "-s", "numeric", "--split", "test", "--seed", "1", "--limit", "5"]
    assert main([*args, "--report", str(out)]) == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "n=5" in text
    assert out.read_text().count("<svg") == 3


def test_eval_bad_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", EXAMPLE, "-d", DATA, "-s", "nope"]) == 2
    assert "unknown scorers plugin 'nope'" in capsys.readouterr().err
    assert main(["eval", EXAMPLE, "-d", DATA, "-s", "numeric", "--split", "dev"]) == 2
    assert "--split must be train or test" in capsys.readouterr().err
    assert main(["eval", EXAMPLE, "-d", "missing.jsonl", "-s", "numeric"]) == 2
    assert "replay dataset not found" in capsys.readouterr().err


def test_sweep_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "sweep",
        EXAMPLE,
        "-d",
        DATA,
        "-s",
        "numeric",
        "--limit",
        "10",
        "--param",
        "nodes.panel.models",
        "--value",
        '["flash"]',
        "--value",
        '["flash", "mini", "gpt4o"]',
        "--json",
    ]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["points"]) == 2 and "aiq" in data and "frontier" in data


def test_sweep_bad_value(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["sweep", EXAMPLE, "-d", DATA, "--param", "nodes.panel.models", "--value", "[flash"]
    assert main(args) == 2
    assert "--value[0]: not JSON" in capsys.readouterr().err

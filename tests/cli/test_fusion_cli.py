"""``fusionsdk fusion fit`` on the committed GSM8K subset, and its weights file used by ``eval``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fusionsdk.cli.app import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "replay.yaml")
DATA = str(ROOT / "tests" / "data" / "gsm8k_subset.jsonl")


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def fit(out: Path, *extra: str) -> int:
    return main(["fusion", "fit", EXAMPLE, "-d", DATA, "-s", "numeric", "--out", str(out), *extra])


def test_fit_writes_the_weights_file_and_prints_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "weights.json"
    assert fit(out, "--max-panel", "2", "--split", "train", "--seed", "3") == 0
    text = capsys.readouterr().out
    assert "20 questions, 5 models, recorded answers" in text
    assert "weighted vote" in text and "best single" in text and "panel " in text and f"wrote {out}" in text
    data = json.loads(out.read_text())
    assert set(data["weights"]) == {"gpt4o", "llama405b", "sonnet", "flash", "mini"}
    assert 1 <= len(data["panel"]) <= 2 and data["split"] == "train" and data["seed"] == 3
    assert {
        "train_accuracy",
        "panel_accuracy",
        "panel_cost_usd",
        "cost_usd",
        "counts",
        "best_single",
    } <= data.keys()
    assert data["extract"] == "number"  # read from the config's fuse node


def test_a_budget_keeps_the_panel_cheap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "weights.json"
    assert fit(out, "--max-panel", "3", "--max-cost", "0.01", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["panel_cost_usd"] <= 0.01 and set(data["panel"]) <= {"flash", "mini"}


def test_fit_json_and_no_panel_search(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "weights.json"
    assert fit(out, "--json", "--limit", "10") == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert printed["panel"] == ["gpt4o", "llama405b", "sonnet", "flash", "mini"]
    assert printed["train_questions"] == 10


def test_the_weights_file_drives_a_weighted_vote_in_eval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "weights.json"
    assert fit(out, "--json") == 0
    fitted = json.loads(capsys.readouterr().out)
    config = yaml.safe_load(Path(EXAMPLE).read_text())
    config["nodes"]["vote"] = {
        "kind": "fuse",
        "strategy": "weighted_vote",
        "options": {"weights_file": str(out)},
    }
    weighted = tmp_path / "weighted.yaml"
    weighted.write_text(yaml.safe_dump(config))
    assert main(["eval", str(weighted), "-d", DATA, "-s", "numeric", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] == pytest.approx(fitted["train_accuracy"])  # simulation == SDK


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-panel", "0"], "--max-panel: must be at least 1"),
        (["--panel", "vote"], "--panel: 'vote' is not a panel node"),
        (["--extract", "roman"], "--answer: must be one of text, number"),
        (["--answer", "roman"], "--answer: must be one of text, number"),
        (["--answer", "number", "--answer-option", "bogus=1"], "--answer-option: bogus: unknown field"),
        (["--answer-option", "abs_tol=1"], "--answer-option: answer options need --answer"),
        (["--split", "dev"], "--split must be train or test"),
        (["--max-cost", "1"], "--max-cost: limits the panel search"),
        (["--max-panel", "2", "--max-cost", "0"], "--max-cost: no model costs 0.0 USD or less"),
        (["-s", "nope"], "unknown scorers plugin 'nope'"),
    ],
)
def test_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert fit(tmp_path / "w.json", *args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "w.json").exists()


def test_bad_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert fit(tmp_path / "missing" / "w.json") == 2
    assert "--out: cannot write a file" in capsys.readouterr().err
    assert main(["fusion", "fit", EXAMPLE, "-d", "missing.jsonl", "--out", str(tmp_path / "w.json")]) == 2
    assert "replay dataset not found" in capsys.readouterr().err
    assert (
        main(["fusion", "fit", str(tmp_path / "none.yaml"), "-d", DATA, "--out", str(tmp_path / "w.json")])
        == 2
    )
    assert "none.yaml" in capsys.readouterr().err


def test_a_config_without_a_panel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "models": {
                    "m": {"provider": "replay", "model": "gpt-4o-2024-08-06", "options": {"dataset": DATA}}
                },
                "nodes": {"ask": {"kind": "agent", "model": "m"}},
                "edges": [["START", "ask"], ["ask", "END"]],
            }
        )
    )
    assert main(["fusion", "fit", str(config), "-d", DATA, "--out", str(tmp_path / "w.json")]) == 2
    assert "nodes: the config has no panel node" in capsys.readouterr().err


def test_help_lists_fit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fusion", "--help"]) == 0
    assert "fit" in capsys.readouterr().out


def test_answer_takes_any_answer_type_and_its_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "weights.json"
    assert fit(out, "--answer", "math", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["answer"] == "math" and "extract" not in data  # extract names only the older four
    assert fit(out, "--answer", "number", "--answer-option", "abs_tol=0.5", "--json") == 0
    assert json.loads(capsys.readouterr().out)["extract"] == "number"
    assert fit(out, "--extract", "number", "--json") == 0  # the older name still works
    assert json.loads(capsys.readouterr().out)["extract"] == "number"

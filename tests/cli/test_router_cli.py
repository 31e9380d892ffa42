"""``fusionsdk router train``, ``fusionsdk routes fit`` and ``fusionsdk feedback``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from fusionsdk.cli.app import main
from fusionsdk.graph import compile_file
from fusionsdk.routing.router_file import read_router_model

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "replay.yaml")
DATA = str(ROOT / "tests" / "data" / "gsm8k_subset.jsonl")


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("FUSIONSDK_HOME", str(tmp_path / "home"))


def train(out: Path, *extra: str) -> int:
    return main(
        [
            "router",
            "train",
            EXAMPLE,
            "-d",
            DATA,
            "-s",
            "numeric",
            "--out",
            str(out),
            "--embedder",
            "hashing",
            *extra,
        ]
    )


def test_train_writes_the_model_file_and_prints_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "router.json"
    assert (
        train(out, "--split", "train", "--seed", "3", "--method", "logistic", "--setting", "epochs=50") == 0
    )
    text = capsys.readouterr().out
    assert "20 prompts, 5 models, logistic on hashing embeddings" in text and f"wrote {out}" in text
    model = read_router_model(out)
    assert model.method == "logistic" and model.predictor.settings["epochs"] == 50
    assert model.extra["split"] == "train" and model.extra["seed"] == 3 and model.extra["node"] == "panel"


def test_train_json_and_the_file_drives_a_learned_agent_in_eval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "router.json"
    assert train(out, "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert (
        summary["method"] == "knn"
        and summary["prompts"] == 40
        and set(summary["models"]) >= {"flash", "gpt4o"}
    )
    config = yaml.safe_load(Path(EXAMPLE).read_text())
    config["nodes"] = {
        "pick": {
            "kind": "agent",
            "router": "learned",
            "models": ["flash", "gpt4o"],
            "router_options": {"model_file": str(out), "threshold": 0.9},
        }
    }
    config["edges"] = [["START", "pick"], ["pick", "END"]]
    routed = tmp_path / "routed.yaml"
    routed.write_text(yaml.safe_dump(config))
    assert main(["eval", str(routed), "-d", DATA, "-s", "numeric", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["errors"] == 0 and set(report["route_share"]) <= {"flash", "gpt4o"}


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--method", "forest"], "--method: must be one of"),
        (["--setting", "k"], r"--setting\[0\]: expected NAME=NUMBER"),
        (["--setting", "depth=3"], "--setting: unknown knn setting 'depth'"),
        (["--node", "vote"], "--node: 'vote' is not a routed agent or a panel"),
        (["--scorer", "nope"], "--scorer"),
        (["--split", "middle"], "--split"),
        (["--feedback", "/no/such/log.jsonl"], "--feedback: feedback log not found"),
    ],
)
def test_train_bad_input_names_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], match: str
) -> None:
    assert train(tmp_path / "router.json", *extra) == 2
    assert re.search(match, capsys.readouterr().err)


def test_train_refuses_an_unwritable_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train(tmp_path / "missing" / "router.json") == 2
    assert "--out" in capsys.readouterr().err


def test_train_with_an_unknown_embedder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "router",
                "train",
                EXAMPLE,
                "-d",
                DATA,
                "--out",
                str(tmp_path / "r.json"),
                "--embedder",
                "nope",
                "--limit",
                "4",
            ]
        )
        == 2
    )
    assert "--embedder" in capsys.readouterr().err


def semantic_config(tmp_path: Path) -> Path:
    config = {
        "version": 1,
        "models": {"a": {"provider": "fake"}},
        "nodes": {
            "route": {
                "kind": "router",
                "strategy": "semantic",
                "options": {
                    "embedder": "hashing",
                    "default": "chat",
                    "routes": [
                        {"target": "maths", "utterances": ["add these numbers", "what is 15 percent of 80"]},
                        {"target": "code", "utterances": ["fix my python function", "write a sql query"]},
                    ],
                },
            },
            "maths": {"kind": "agent", "model": "a"},
            "code": {"kind": "agent", "model": "a"},
            "chat": {"kind": "agent", "model": "a"},
        },
        "edges": [["maths", "END"], ["code", "END"], ["chat", "END"], ["START", "route"]],
    }
    path = tmp_path / "semantic.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def examples(tmp_path: Path) -> Path:
    path = tmp_path / "examples.jsonl"
    lines = [
        ("add 17 and 25", "maths"),
        ("what is 20 percent of 150", "maths"),
        ("my python function fails", "code"),
        ("write a sql query for orders", "code"),
        ("tell me a joke", None),
        ("lovely weather today", None),
    ]
    path.write_text("".join(json.dumps({"text": t, "route": r}) + "\n" for t, r in lines))
    return path


def test_routes_fit_writes_a_routes_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, out = semantic_config(tmp_path), tmp_path / "routes.json"
    assert main(["routes", "fit", str(config), "-e", str(examples(tmp_path)), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "6 examples routed right" in text and "routes_file" in text
    data = json.loads(out.read_text())
    assert (
        data["embedder"] == "hashing" and data["fit"]["node"] == "route" and data["fit"]["accuracy"] >= 5 / 6
    )
    assert main(["routes", "fit", str(config), "-e", str(examples(tmp_path)), "-o", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["routes"][0]["target"] == "maths"
    fitted = yaml.safe_load(config.read_text())
    fitted["nodes"]["route"]["options"] = {"routes_file": str(out)}
    config.write_text(yaml.safe_dump(fitted))
    assert compile_file(config).run("add 3 and 4").decisions[0]["target"] == "maths"


def test_routes_fit_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, out = semantic_config(tmp_path), tmp_path / "routes.json"
    assert main(["routes", "fit", str(config), "-e", str(tmp_path / "none.jsonl"), "-o", str(out)]) == 2
    assert "--examples: cannot read" in capsys.readouterr().err
    assert main(["routes", "fit", EXAMPLE, "-e", str(examples(tmp_path)), "-o", str(out)]) == 2
    assert (
        "--node: name the node whose semantic router to fit (semantic routers: none)"
        in capsys.readouterr().err
    )
    assert (
        main(["routes", "fit", str(config), "-e", str(examples(tmp_path)), "-o", str(out), "--node", "x"])
        == 2
    )
    assert "--node: 'x' has no semantic router" in capsys.readouterr().err
    broken = yaml.safe_load(config.read_text())
    broken["nodes"]["route"]["options"]["threshold"] = 3
    config.write_text(yaml.safe_dump(broken))
    assert main(["routes", "fit", str(config), "-e", str(examples(tmp_path)), "-o", str(out)]) == 2
    assert "nodes.route.options.threshold" in capsys.readouterr().err


def test_feedback_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "router.json"
    assert train(out, "--json") == 0
    capsys.readouterr()
    config = yaml.safe_load(Path(EXAMPLE).read_text())
    config["nodes"] = {
        "pick": {
            "kind": "agent",
            "router": "learned",
            "models": ["flash", "gpt4o"],
            "router_options": {"model_file": str(out)},
        }
    }
    config["edges"] = [["START", "pick"], ["pick", "END"]]
    routed = tmp_path / "routed.yaml"
    routed.write_text(yaml.safe_dump(config))
    question = "Janet’s ducks lay 16 eggs per day."
    result = compile_file(routed).run(question, metadata={"row_id": "gsm8k-main-test-#0"})
    assert main(["feedback", result.thread_id, "1"]) == 0
    assert "routers updated: pick -> " in capsys.readouterr().out
    assert read_router_model(out).feedback == 1
    assert main(["feedback", result.thread_id, "1"]) == 1
    assert "awaiting feedback" in capsys.readouterr().err
    assert main(["feedback", result.thread_id, "2"]) == 2
    assert "score: must be a number from 0" in capsys.readouterr().err
    assert main(["feedback", "r", "1", "--log", str(tmp_path / "none.jsonl"), "--json"]) == 1

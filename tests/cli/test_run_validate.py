"""``fusionsdk run``, ``validate``, ``schema`` and ``graph``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusionsdk.cli.app import main

ROOT = Path(__file__).resolve().parents[2]

GRAPH = """\
version: 1
models:
  a: {provider: fake, options: {responses: ["42"]}}
  b: {provider: fake, options: {responses: ["42"]}}
nodes:
  panel: {kind: panel, models: [a, b]}
  fuse: {kind: fuse, strategy: majority_vote}
  review: {kind: human, question: "Ship it?"}
edges:
  - [START, panel]
  - [panel, fuse]
  - [fuse, review]
  - [review, END]
"""


@pytest.fixture
def graph_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "g.yaml"
    path.write_text(GRAPH)
    return path


def test_run_json_pauses_then_resumes_durably(graph_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(graph_file), "q", "--json", "--thread", "t9"]) == 0
    paused = json.loads(capsys.readouterr().out)
    assert paused["interrupted"]["question"] == "Ship it?" and paused["answer"] == "42"
    assert (graph_file.parent / ".fusionsdk" / "checkpoints.sqlite").exists()
    assert main(["run", str(graph_file), "--thread", "t9", "--resume", "43", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["answer"] == "43"
    assert {"answer", "trace", "usage", "cost_usd"} <= done.keys()


def test_run_stream_json(graph_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(graph_file), "q", "--stream", "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert {"type": "node", "node": "panel", "text": ""} in lines and lines[-1]["type"] == "result"


def test_run_text_prints_answer_and_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(
        GRAPH.replace("  - [fuse, review]\n  - [review, END]\n", "  - [fuse, END]\n").replace(
            '  review: {kind: human, question: "Ship it?"}\n', ""
        )
    )
    assert main(["run", str(path), "q"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("42") and "panel (panel)" in out and "fuse (fuse)" in out


def test_run_argument_errors(graph_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(graph_file)]) == 1
    assert "give a PROMPT" in capsys.readouterr().err
    assert main(["run", str(graph_file), "--resume", "x"]) == 1
    assert "--thread" in capsys.readouterr().err


def test_validate_ok_and_errors(graph_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(graph_file)]) == 0
    assert "ok (2 models, 3 nodes, 4 edges)" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(GRAPH.replace("models: [a, b]", "models: [a, b, gpt5]"))
    assert main(["validate", str(bad)]) != 0
    assert "nodes.panel.models[2]: unknown model 'gpt5' (known: a, b)" in capsys.readouterr().err


def test_schema_is_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"version", "models", "nodes", "edges", "budget"} <= schema["properties"].keys()


def test_graph_mermaid(graph_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(graph_file)]) == 0
    out = capsys.readouterr().out
    assert "panel" in out and "review" in out and "-->" in out


@pytest.mark.integration
def test_quickstart_example_offline(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["run", str(ROOT / "examples" / "quickstart.yaml"), "What is the capital of France?", "--json"])
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert "Paris" in result["answer"]
    assert [s["node"] for s in result["trace"]] == ["route", "panel", "fuse"]
    assert sorted(result["trace"][1]["models"]) == ["gemma", "smol"]

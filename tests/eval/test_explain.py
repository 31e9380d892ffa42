"""``fusionsdk eval --explain N``: each model's reply tail, the answer read and the verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusionsdk.cli.app import main
from fusionsdk.eval.explain import explain_rows, read_answer
from fusionsdk.eval.harness import RowResult
from fusionsdk.eval.scorers import BleuScorer, PythonLiteralScorer
from fusionsdk.providers.replay import ReplayRow

ROOT = Path(__file__).resolve().parents[2]


def test_explain_rows_shows_the_answer_read_and_the_verdict() -> None:
    reply = '{"reasoning": "append q to \\\\w+", "answer": "\'bcksrutq\'"}'
    row = ReplayRow("sample_3", "f('bcksrut', 'q')", "'bcksrutq'", {"m": reply})
    result = RowResult("sample_3", reply, 1.0, 0.0, 0, 0.0, {"m": 1.0}, {}, {"m": reply, "n": "x" * 500})
    (explained,) = explain_rows([result], [row], PythonLiteralScorer(), 5, tail_chars=40)
    assert explained.reference_answer == "'bcksrutq'"
    graph, m, n = explained.lines
    assert (graph.source, graph.answer, graph.score) == ("graph", "'bcksrutq'", 1.0)
    assert (m.source, m.answer, m.score) == ("m", "'bcksrutq'", 1.0)
    assert n.tail.startswith("...") and len(n.tail) == 43 and n.score == 0.0
    assert explained.as_dict()["lines"][1]["answer"] == "'bcksrutq'"


def test_explain_samples_n_rows_reproducibly() -> None:
    rows = [ReplayRow(str(i), "q", "1") for i in range(10)]
    results = [RowResult(str(i), "1", 1.0, 0.0, 0, 0.0) for i in range(10)]
    first = [r.id for r in explain_rows(results, rows, PythonLiteralScorer(), 3, seed=4)]
    assert len(first) == 3 and first == [
        r.id for r in explain_rows(results, rows, PythonLiteralScorer(), 3, seed=4)
    ]
    assert read_answer(BleuScorer(), "  free text ") == "free text"


def test_eval_explain_on_the_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    args = [
        "eval",
        "examples/replay.yaml",
        "-d",
        "tests/data/gsm8k_subset.jsonl",
        "-s",
        "numeric",
        "--limit",
        "4",
    ]
    assert main([*args, "--explain", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["explain"]) == 2
    assert all(line["answer"] is not None for row in data["explain"] for line in row["lines"])
    assert main([*args, "--explain", "1"]) == 0
    assert "answer read" in capsys.readouterr().out

"""A merged model in a graph next to its parents, and ``fusionsdk eval`` comparing the three.

Tiny random models answer garbage, so these tests check the mechanics (the graph runs, the
report has every model), not the accuracy.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fusionsdk.cli.app import main
from fusionsdk.graph import compile_file

QUESTIONS = [
    {"id": "q1", "question": "what is the capital of france ?", "answer": "paris"},
    {"id": "q2", "question": "what is two plus two ?", "answer": "four"},
    {"id": "q3", "question": "say hello", "answer": "hello"},
]


@pytest.fixture
def panel_config(tiny_models: dict[str, Path], slerp_model: Path, tmp_path: Path) -> Path:
    """A panel of the merged model and both parents, fused by majority vote (as in docs/merging.md)."""
    options = "{path: %s}"
    config = tmp_path / "compare.yaml"
    config.write_text(
        "version: 1\n"
        "models:\n"
        f"  merged: {{provider: transformers, options: {options % slerp_model}}}\n"
        f"  a: {{provider: transformers, options: {options % tiny_models['a']}}}\n"
        f"  b: {{provider: transformers, options: {options % tiny_models['b']}}}\n"
        "nodes:\n"
        "  panel: {kind: panel, models: [merged, a, b], max_tokens: 4}\n"
        "  vote: {kind: fuse, strategy: majority_vote}\n"
        "edges:\n  - [START, panel]\n  - [panel, vote]\n  - [vote, END]\n"
    )
    return config


def test_a_graph_routes_to_the_merged_model(panel_config: Path) -> None:
    result = compile_file(panel_config).run("what is two plus two ?")
    assert isinstance(result.answer, str)
    assert {c["model"] for c in result.candidates} == {"merged", "a", "b"}


def test_eval_reports_the_merged_model_next_to_its_parents(
    panel_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = tmp_path / "tiny.jsonl"
    dataset.write_text("".join(json.dumps(row) + "\n" for row in QUESTIONS))
    assert main(["eval", str(panel_config), "--dataset", str(dataset), "--scorer", "exact", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 3 and report["errors"] == 0
    assert set(report["per_model"]) == {"merged", "a", "b"}
    for figures in report["per_model"].values():
        assert 0.0 <= figures["accuracy"] <= 1.0 and figures["cost_usd"] == 0.0

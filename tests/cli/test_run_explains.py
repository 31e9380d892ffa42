"""The README's main job, replayed with fakes: the text trace shows each member's answer and the
clusters the vote saw, so an agreement or a disagreement is visible (issue 15, item 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fusionsdk.cli.app import main
from fusionsdk.cli.run import shorten

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "What is the capital of France?"


def quickstart(tmp_path: Path, smol: str, gemma: str) -> Path:
    """examples/quickstart.yaml as written, its two embedded models replaced by fakes."""
    data = yaml.safe_load((ROOT / "examples" / "quickstart.yaml").read_text())
    data["models"]["smol"] = {"provider": "fake", "options": {"responses": [smol]}}
    data["models"]["gemma"] = {"provider": "fake", "options": {"responses": [gemma]}}
    path = tmp_path / "quickstart.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_sentence_and_a_short_answer_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = quickstart(tmp_path, "The capital of France is Paris.", "Paris")
    assert main(["run", str(config), QUESTION]) == 0
    out = capsys.readouterr().out
    assert out.startswith("The capital of France is Paris.")
    assert "smol: 'The capital of France is Paris.'" in out and "gemma: 'Paris'" in out
    assert "1 cluster: 'the capital of france is paris' ×2 (smol, gemma)" in out
    assert main(["run", str(config), QUESTION, "--json"]) == 0
    fuse = next(d for d in json.loads(capsys.readouterr().out)["decisions"] if d["type"] == "fuse")
    assert fuse["clusters"] == [
        {"answer": "the capital of france is paris", "models": ["smol", "gemma"], "votes": 2}
    ]
    assert "100%" in fuse["reason"]


def test_a_real_disagreement_is_shown_as_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = quickstart(tmp_path, "The capital of France is Paris.", "Lyon")
    assert main(["run", str(config), QUESTION]) == 0
    out = capsys.readouterr().out
    assert "2 clusters:" in out and "×1 (smol)" in out and "'lyon' ×1 (gemma)" in out
    assert "a tie: no answer has a majority" in out


def test_long_answers_are_shortened_on_one_line() -> None:
    assert shorten("a\nb  c") == "a b c"
    long = shorten("word " * 40)
    assert len(long) == 72 and long.endswith("…")

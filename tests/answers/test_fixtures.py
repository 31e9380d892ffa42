"""Each relevant scorer agrees with the hand labels of the fixtures on every row, and votes
over the fixtures' equivalent answers count them as one."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fusionsdk.eval.base import Scorer
from fusionsdk.fusion.base import Candidate
from fusionsdk.fusion.majority_vote import MajorityVote
from fusionsdk.registry import PluginKind, default_registry

DATA = Path(__file__).resolve().parents[1] / "data" / "answers"

#: fixture file -> the scorers (name, options) that must agree with its labels.
SCORERS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "cruxeval_output": [("python_literal", {}), ("exact", {"answer": "python_literal"})],
    "competition_math": [("math", {}), ("numeric", {"answer": "math"})],
    "multiple_choice": [("choice", {}), ("exact", {"answer": "choice"})],
}


def _rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]


def _scorer(name: str, options: dict[str, Any]) -> Scorer:
    built: Scorer = default_registry().build(PluginKind.SCORERS, name, options, path="scorer")
    return built


@pytest.mark.parametrize(("fixture", "scorer", "options"), [(f, *s) for f, ss in SCORERS.items() for s in ss])
def test_the_scorer_agrees_with_every_hand_label(fixture: str, scorer: str, options: dict[str, Any]) -> None:
    judge = _scorer(scorer, options)
    disagreements = [
        (row["id"], row["label"], row["reply"][-60:])
        for row in _rows(fixture)
        if (judge.score(row["reply"], row["reference"]) == 1.0) != row["label"]
    ]
    assert not disagreements


@pytest.mark.parametrize("fixture", sorted(SCORERS))
def test_the_fixtures_are_realistic_and_balanced(fixture: str) -> None:
    rows = _rows(fixture)
    labels = Counter(row["label"] for row in rows)
    assert len(rows) >= 30 and labels[True] >= 10 and labels[False] >= 5
    assert len({row["source_id"] for row in rows}) >= 3
    formats = {row["format"] for row in rows}
    assert {"empty", "truncated"} & formats or any("truncated" in f for f in formats)


async def test_a_vote_over_the_fixtures_right_answers_elects_one_answer() -> None:
    replies = [
        row["reply"] for row in _rows("competition_math") if row["source_id"] == "math_00008" and row["label"]
    ]
    vote = MajorityVote({"answer": "math"})
    result = await vote.fuse("", [Candidate(f"m{i}", text) for i, text in enumerate(replies)])
    assert "100% of the vote among 1 distinct answers" in result.reason

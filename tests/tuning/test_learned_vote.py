"""learned_vote: the learned rule picks answers and keeps learning from feedback."""

from __future__ import annotations

import json
from pathlib import Path

from fusionsdk.fusion.base import Candidate
from fusionsdk.fusion.learned_vote import LearnedVote


async def test_strong_model_kept_unless_enough_others_agree() -> None:
    rule = {"coefficients": {"strong": 2.0, "a": 0.3, "b": 0.3, "c": 0.3}, "agreement": [0, 0, 1.5]}
    fuser = LearnedVote({"extract": "number", **rule})
    two = [Candidate("strong", "18"), Candidate("a", "17"), Candidate("b", "17")]
    assert (await fuser.fuse("q", two)).text == "18"
    three = [*two, Candidate("c", "17")]
    result = await fuser.fuse("q", three)
    assert result.text == "17" and result.winner == "a" and 0 < result.details["confidence"] < 1


async def test_update_moves_the_rule_and_rewrites_the_file(tmp_path: Path) -> None:
    path = tmp_path / "vote.json"
    path.write_text(json.dumps({"coefficients": {"x": 1.0, "y": 0.9}, "agreement": [0.0], "intercept": 0.0}))
    fuser = LearnedVote({"model_file": str(path), "learning_rate": 0.5})
    candidates = [Candidate("x", "a"), Candidate("y", "b")]
    assert (await fuser.fuse("q", candidates)).winner == "x"
    for _ in range(3):
        fuser.update(candidates, correct=False)
    assert (await fuser.fuse("q", candidates)).winner == "y"
    assert json.loads(path.read_text())["coefficients"]["x"] < 0.9

"""learned_vote: the learned rule picks answers and keeps learning from feedback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusionsdk.errors import ConfigError
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


RULE = {"coefficients": {"strong": 2.0, "a": 0.8, "b": 0.8}, "agreement": [0.0, 0.5]}


@pytest.mark.parametrize(
    ("options", "strong", "others"),
    [
        ({"answer": "python_literal"}, "'abc'", ['"abc"', '{"answer": "\'abc\'"}']),  # one str, 3 ways
        ({"answer": "python_literal"}, "[1, 2]", ["[1,2]", "[1, 2, ]"]),
        ({"answer": "code_output"}, "1.0", ["assert f(3) == 1", "The output is 1"]),
        ({"answer": "math"}, "1/2", ["\\frac{1}{2}", "0.5"]),
        ({"answer": "choice", "answer_options": {"letters": "ABCDE"}}, "B", ["(B)", "The answer is B."]),
    ],
    ids=["python_literal-str", "python_literal-list", "code_output", "math", "choice-options"],
)
async def test_any_answer_type_groups_equivalent_answers(
    options: dict[str, object], strong: str, others: list[str]
) -> None:
    """Equivalent answers are one answer (as in majority_vote): the two weak models agreeing with
    the strong one in other forms make a group of three, whose score beats a lone dissenter."""
    fuser = LearnedVote({**options, **RULE, "coefficients": {**RULE["coefficients"], "c": 2.5}})
    candidates = [Candidate("strong", strong), *(Candidate(m, t) for m, t in zip("ab", others, strict=True))]
    candidates.append(Candidate("c", "999" if options["answer"] != "choice" else "D"))
    result = await fuser.fuse("q", candidates)
    assert result.winner == "strong" and len(set(result.scores.values())) == 2
    assert result.scores["a"] == result.scores["b"] == result.scores["strong"]


async def test_python_literal_votes_learn_from_feedback(tmp_path: Path) -> None:
    path = tmp_path / "vote.json"
    path.write_text(json.dumps({"coefficients": {"x": 1.0, "y": 0.6, "z": 0.6}, "agreement": [0.0, 0.0]}))
    fuser = LearnedVote({"answer": "python_literal", "model_file": str(path), "learning_rate": 0.5})
    candidates = [Candidate("x", "'a'"), Candidate("y", "('b',)"), Candidate("z", '("b", )')]
    assert (await fuser.fuse("q", candidates)).winner == "y"  # y and z agree: 1.2 > 1.0
    fuser.update(candidates, correct=False)  # the tuple was wrong: its givers lose weight
    assert (await fuser.fuse("q", candidates)).winner == "x"
    assert json.loads(path.read_text())["coefficients"]["y"] < 0.6


def test_the_older_extract_still_works_and_bad_answer_types_are_refused() -> None:
    assert LearnedVote({"extract": "number"}).answers.vote_key("It is $1,000.") == "1000"
    with pytest.raises(ConfigError, match="answer"):
        LearnedVote({"answer": "roman"})
    with pytest.raises(ConfigError, match="bogus"):
        LearnedVote({"answer": "number", "answer_options": {"bogus": 1}})

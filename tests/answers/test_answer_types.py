"""The built-in answer types on a table of realistic reply formats, and the one answer layer as
votes, conflict detection and the cascade use it."""

from __future__ import annotations

import threading
import warnings
from typing import Any

import pytest

from fusionsdk.answers import AnswerType, build_answer_type, final_answer
from fusionsdk.arbiters.conflict import measure_conflict
from fusionsdk.errors import ConfigError
from fusionsdk.fusion.base import Candidate
from fusionsdk.fusion.consensus import MedoidConsensus
from fusionsdk.fusion.majority_vote import MajorityVote
from fusionsdk.fusion.weighted_vote import WeightedVote
from fusionsdk.routing.cascade import Acceptance

INVALID_JSON = '{"reasoning": "We use \\frac{a}{b} and \\sqrt{2}\nacross lines", "answer": %s}'
TRUNCATED = '{"reasoning": "First we compute 12 * 3 = 36 and then'

#: (answer type, options, reply, expected key); None: the reply gives no answer of that type.
TABLE: list[tuple[str, dict[str, Any], str, str | None]] = [
    # number
    ("number", {}, INVALID_JSON % '"$1,250"', "1250"),
    ("number", {}, "```\n42\n```", "42"),
    ("number", {}, "Janet sells 16 - 3 - 4 = 9 eggs, so she makes 9 * 2 = 18 dollars.", "18"),
    ("number", {}, TRUNCATED, "36"),  # number reads the last number: see math for strict reading
    ("number", {}, "", None),
    ("number", {}, "الجواب هو ٣", "3"),
    # choice
    ("choice", {}, INVALID_JSON % '"(C)"', "C"),
    ("choice", {}, "```\nB\n```", None),
    ("choice", {}, "Looking at each option, the answer is d.", "D"),
    ("choice", {"letters": "ABCDE"}, "**Answer: E**", "E"),
    ("choice", {}, TRUNCATED, None),
    ("choice", {}, "", None),
    ("choice", {}, "الإجابة الصحيحة هي (B)", "B"),
    # text
    ("text", {}, "  The Eiffel   Tower. ", "the eiffel tower"),
    ("text", {"final": True}, INVALID_JSON % '"Paris"', "paris"),
    ("text", {"final": True}, "Some thinking.\n\nFinal answer: Paris.", "paris"),
    ("text", {"final": True}, TRUNCATED, None),
    ("text", {}, "", None),
    # json_field
    ("json_field", {}, INVALID_JSON % '"Paris"', "paris"),
    ("json_field", {}, '```json\n{"answer": 18}\n```', "18"),
    ("json_field", {}, "Paris", None),
    ("json_field", {}, TRUNCATED, None),
    # math
    ("math", {}, INVALID_JSON % "204", "204"),
    ("math", {}, "So the answer is $\\boxed{\\dfrac{3}{4}}$.", "\\frac{3}{4}"),
    ("math", {}, "The final answer is $x^2+2x+1$.", "x^2+2x+1"),
    ("math", {}, "Step 1: factor.\nStep 2: solve.\n\n**Answer:** $1{,}000$", "1{,}000"),
    ("math", {}, TRUNCATED, None),
    ("math", {}, "", None),
    ("math", {}, "الجواب هو ١٣٥٣٥", "الجواب هو 13535"),  # the prose stays; math-verify reads 13535
    # python_literal
    ("python_literal", {}, INVALID_JSON % "\"'bcksrutq'\"", "'bcksrutq'"),
    ("python_literal", {}, "```python\nassert f('bcksrut', 'q') == 'bcksrutq'\n```", "'bcksrutq'"),
    ("python_literal", {}, "Tracing the loop, the output is [1, 1, 2, 2, 2].", "[1, 1, 2, 2, 2]"),
    ("python_literal", {}, "The function returns:\n```python\n{'foo': ['bar']}\n```", "{'foo': ['bar']}"),
    ("python_literal", {}, '{"reasoning": "x", "answer": [1, 2.0, true]}', "[1, 2, True]"),
    ("python_literal", {}, TRUNCATED, None),
    ("python_literal", {}, "", None),
    ("python_literal", {}, "The output is ٢", "2"),
    # code_output
    ("code_output", {}, "Output:\n```\nhello  \nworld\n```", "hello\nworld"),
    ("code_output", {}, INVALID_JSON % '"[1, 2]"', "[1, 2]"),
    ("code_output", {}, "The output is 'abc'.", "abc"),
    ("code_output", {}, "", None),
]


@pytest.mark.parametrize(("name", "options", "reply", "expected"), TABLE)
def test_the_table_of_reply_formats(
    name: str, options: dict[str, Any], reply: str, expected: str | None
) -> None:
    assert build_answer_type(name, options).key(reply) == expected


def test_final_answer_sources() -> None:
    cases = {
        INVALID_JSON % "5": "json",
        "so $\\boxed{\\frac{1}{2}}$": "boxed",
        "```python\nassert f(1) == 2\n```": "assert",
        "The answer is 7.": "statement",
        "Here:\n```\n[1]\n```": "fence",
        "thinking...\n\n42": "line",
    }
    for reply, source in cases.items():
        found = final_answer(reply)
        assert found is not None and found.source == source, reply
    assert final_answer(TRUNCATED) is None
    assert final_answer("  ") is None


# -- equivalent answers share one vote ---------------------------------------------------------------


async def test_half_in_three_spellings_is_one_answer_with_three_votes_under_math() -> None:
    panel = [Candidate("a", "The answer is 1/2."), Candidate("b", "$\\frac{1}{2}$"), Candidate("c", "0.5")]
    result = await MajorityVote({"answer": "math"}).fuse("", panel)
    assert result.scores == {"a": 3.0, "b": 3.0, "c": 3.0}
    assert "100% of the vote among 1 distinct answers" in result.reason
    assert result.winner == "a"


async def test_equivalent_answers_share_a_vote_in_every_voter() -> None:
    panel = [
        Candidate("a", '{"answer": "\'abc\'"}'),
        Candidate("b", 'assert f(x) == "abc"'),
        Candidate("c", "'abd'"),
    ]
    weighted = await WeightedVote({"answer": "python_literal"}).fuse("", panel)
    assert weighted.winner == "a" and weighted.scores["b"] == 2.0
    consensus = await MedoidConsensus({"answer": "python_literal"}).fuse("", panel)
    assert consensus.winner == "a"
    conflict = measure_conflict(panel, extract=build_answer_type("python_literal"), threshold=0.6)
    assert conflict.agreement == pytest.approx(2 / 3) and conflict.conflicted is False


def test_extract_stays_an_alias_of_answer() -> None:
    assert MajorityVote({"extract": "number"}).options.answer == "number"
    assert Acceptance.model_validate({"extract": "number"}).answer == "number"
    assert MajorityVote({"extract": "number", "answer": "number"}).options.answer == "number"
    # what answer: math dumps to (extract keeps its default) reads back the same
    assert MajorityVote({"extract": "text", "answer": "math"}).options.answer == "math"
    with pytest.raises(ConfigError, match="older name"):
        MajorityVote({"extract": "choice", "answer": "number"})


def test_an_unknown_answer_type_is_a_config_error_naming_the_option() -> None:
    with pytest.raises(ConfigError) as caught:
        MajorityVote({"answer": "roman"})
    assert "answer" in str(caught.value) and "roman" in str(caught.value)
    with pytest.raises(ConfigError, match="letters"):
        MajorityVote({"answer": "choice", "answer_options": {"letters": "A"}})


# -- math: quiet, bounded, from any thread ------------------------------------------------------------


def test_math_is_quiet_and_works_from_other_threads(capfd: pytest.CaptureFixture[str]) -> None:
    math: AnswerType[Any] = build_answer_type("math", {"timeout_s": 2})
    results: list[tuple[bool, bool]] = []

    def work() -> None:
        right = math.matches("$\\frac{\\sqrt{2}}{2}$", "\\sqrt{2}/2")
        results.append((right, math.matches("x^2+2x+2", "(x+1)^2")))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        main_thread = math.matches("(x+1)^2", "x^2+2x+1")
    assert results == [(True, False)] * 4 and main_thread
    out, err = capfd.readouterr()
    assert not out and not err


def test_math_time_limit_gives_up_on_slow_work() -> None:
    import time

    from fusionsdk.answers.math_engine import run_limited

    def slow() -> bool:
        time.sleep(5)
        return True

    start = time.perf_counter()
    assert run_limited(slow, 0.2, False) is False  # main thread: a timer signal
    holder: list[bool] = []
    thread = threading.Thread(target=lambda: holder.append(run_limited(slow, 0.2, False)))
    thread.start()
    thread.join()
    assert holder == [False]  # other threads: a daemon worker, abandoned
    assert time.perf_counter() - start < 2

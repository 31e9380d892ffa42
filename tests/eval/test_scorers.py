"""The built-in scorers: the conformance kit, each scorer's own cases, and the registry."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from fusionsdk.answers import answer_field, extract_number
from fusionsdk.errors import ConfigError, FusionError
from fusionsdk.eval.base import Scorer
from fusionsdk.eval.scorers import (
    BleuScorer,
    ChoiceScorer,
    ExactScorer,
    MathScorer,
    NumericScorer,
    PythonLiteralScorer,
    RougeScorer,
    lcs_length,
)
from fusionsdk.registry import default_registry
from fusionsdk.testing import ScorerConformance

ROOT = Path(__file__).resolve().parents[2]
SUBSET = [json.loads(line) for line in (ROOT / "tests" / "data" / "gsm8k_subset.jsonl").open()]

#: A real GSM8K reply as the replay data holds it (row 0, abridged reasoning).
GSM8K_REPLY = (
    '```json\n{\n    "reasoning": "Janet\'s ducks lay 16 eggs per day. She uses 3 eggs for breakfast and 4 '
    "eggs for baking muffins, which totals 7 eggs used daily. Therefore, she has 16 - 7 = 9 eggs "
    'remaining. She sells them at $2 each, so she makes 9 * 2 = $18.",\n    "answer": "18"\n}\n```'
)

SCORERS: dict[str, type[Scorer]] = {
    "numeric": NumericScorer,
    "exact": ExactScorer,
    "choice": ChoiceScorer,
    "python_literal": PythonLiteralScorer,
    "math": MathScorer,
    "bleu": BleuScorer,
    "rouge": RougeScorer,
}

# -- the conformance kit ----------------------------------------------------------------------------


class TestNumericConformance(ScorerConformance):
    plugin_class = NumericScorer
    examples: ClassVar[list[tuple[str, str, float]]] = [
        (GSM8K_REPLY, "18", 1.0),
        ("$1,000.00", "1000", 1.0),
        ("17", "18", 0.0),
    ]


class TestNumericLooseConformance(ScorerConformance):
    plugin_class = NumericScorer
    plugin_options: ClassVar[dict[str, Any]] = {"rel_tol": 0.01, "abs_tol": 0.0}
    examples: ClassVar[list[tuple[str, str, float]]] = [("100.5", "100", 1.0), ("102", "100", 0.0)]


class TestExactConformance(ScorerConformance):
    plugin_class = ExactScorer
    examples: ClassVar[list[tuple[str, str, float]]] = [("paris.", "Paris", 1.0), ("Lyon", "Paris", 0.0)]


class TestExactStrictConformance(ScorerConformance):
    plugin_class = ExactScorer
    plugin_options: ClassVar[dict[str, Any]] = {"ignore_case": False, "strip_articles": True}
    examples: ClassVar[list[tuple[str, str, float]]] = [("the Paris", "Paris", 1.0), ("paris", "Paris", 0.0)]


class TestChoiceConformance(ScorerConformance):
    plugin_class = ChoiceScorer
    examples: ClassVar[list[tuple[str, str, float]]] = [("The answer is b.", "B", 1.0), ("(C)", "B", 0.0)]


class TestChoiceFiveLettersConformance(ScorerConformance):
    plugin_class = ChoiceScorer
    plugin_options: ClassVar[dict[str, Any]] = {"letters": "ABCDE"}
    examples: ClassVar[list[tuple[str, str, float]]] = [("Answer: E", "E", 1.0)]


class TestPythonLiteralConformance(ScorerConformance):
    plugin_class = PythonLiteralScorer
    examples: ClassVar[list[tuple[str, str, float]]] = [("[1,2]", "[1, 2]", 1.0), ("(1, 2)", "[1, 2]", 0.0)]


class TestPythonLiteralLooseConformance(ScorerConformance):
    plugin_class = PythonLiteralScorer
    plugin_options: ClassVar[dict[str, Any]] = {"tuples_as_lists": True}
    examples: ClassVar[list[tuple[str, str, float]]] = [("(1, 2)", "[1, 2]", 1.0)]


class TestMathConformance(ScorerConformance):
    plugin_class = MathScorer
    long_text_chars = 20_000  # parsing is bounded by max_chars anyway; keeps the suite quick
    examples: ClassVar[list[tuple[str, str, float]]] = [("\\frac{1}{2}", "0.5", 1.0), ("0.4", "0.5", 0.0)]


class TestBleuConformance(ScorerConformance):
    plugin_class = BleuScorer
    examples: ClassVar[list[tuple[str, str, float]]] = [("the cat sat", "the cat sat", 1.0)]


class TestRougeConformance(ScorerConformance):
    plugin_class = RougeScorer
    examples: ClassVar[list[tuple[str, str, float]]] = [("the cat sat", "the cat sat", 1.0)]


class TestRouge2Conformance(ScorerConformance):
    plugin_class = RougeScorer
    plugin_options: ClassVar[dict[str, Any]] = {"variant": "rouge2", "measure": "recall"}
    examples: ClassVar[list[tuple[str, str, float]]] = [("the cat sat", "the cat sat down", 2 / 3)]


# -- every scorer -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCORERS))
def test_the_entry_point_loads_the_scorer(name: str) -> None:
    assert default_registry().get("scorers", name) is SCORERS[name]


@pytest.mark.parametrize("name", sorted(SCORERS))
@pytest.mark.parametrize(("prediction", "reference"), [(None, "1"), ("1", None), (1, "1"), ("1", b"1")])
def test_a_non_string_is_a_fusion_error(name: str, prediction: Any, reference: Any) -> None:
    with pytest.raises(FusionError, match="must be a str"):
        SCORERS[name]().score(prediction, reference)


@pytest.mark.parametrize("name", sorted(SCORERS))
@pytest.mark.parametrize(("prediction", "reference"), [("", ""), ("", "1"), ("1", ""), ("  \n", "1")])
def test_empty_strings_score_zero(name: str, prediction: str, reference: str) -> None:
    assert SCORERS[name]().score(prediction, reference) == 0.0


def test_importing_the_scorers_leaves_heavy_libraries_alone() -> None:
    code = (
        "import sys, fusionsdk.eval.scorers; "
        "print([m for m in ('sympy', 'math_verify', 'sacrebleu') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- numeric ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "reference", "score"),
    [
        (GSM8K_REPLY, "18", 1.0),
        (GSM8K_REPLY, "9", 0.0),
        ("I get $1,000.", "1000", 1.0),
        ("0.1 + 0.2 = 0.30000000000000004", "0.3", 1.0),
        ("18.001", "18", 0.0),
        ("I don't know", "18", 0.0),
        ("Paris", "paris", 1.0),  # no number in the reference: normalised text
    ],
)
def test_numeric_scores(prediction: str, reference: str, score: float) -> None:
    assert NumericScorer().score(prediction, reference) == score


def test_numeric_tolerance_options() -> None:
    assert NumericScorer({"abs_tol": 0.01}).score("18.001", "18") == 1.0
    assert NumericScorer({"rel_tol": 0.1, "abs_tol": 0}).score("105", "100") == 1.0
    with pytest.raises(ConfigError, match="abs_tol"):
        NumericScorer({"abs_tol": -1})


def test_numeric_reads_the_real_gsm8k_replies() -> None:
    scorer = NumericScorer()
    for row in SUBSET:
        for text in row["outputs"].values():
            field = answer_field(text)
            if field is not None and field.strip().lstrip("-").isdigit():
                assert extract_number(text) == float(field)
    right = sum(scorer.score(row["outputs"]["gpt-4o-2024-08-06"], row["answer"]) for row in SUBSET)
    assert right == 39
    assert all(any(scorer.score(t, row["answer"]) for t in row["outputs"].values()) for row in SUBSET)


# -- exact ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "prediction", "reference", "score"),
    [
        ({}, "  Paris. ", "paris", 1.0),
        ({}, "New   York", "new york!", 1.0),
        ({}, "the Louvre", "Louvre", 0.0),
        ({"strip_articles": True}, "the Louvre", "Louvre", 1.0),
        ({"ignore_case": False}, "paris", "Paris", 0.0),
        ({}, "don't", "dont", 0.0),
        ({"strip_punctuation": True}, "don't", "dont", 1.0),
        ({}, "Ｐａｒｉｓ", "Paris", 1.0),  # NFKC folds full-width letters
        ({}, ".", ".", 0.0),  # nothing left after normalisation
    ],
)
def test_exact_scores(options: dict[str, Any], prediction: str, reference: str, score: float) -> None:
    assert ExactScorer(options).score(prediction, reference) == score


# -- choice -----------------------------------------------------------------------------------------


def test_choice_scores_and_letters_option() -> None:
    assert ChoiceScorer().score("The answer is b.", "B") == 1.0
    assert ChoiceScorer().score("The answer is (C)", "(B)") == 0.0
    assert ChoiceScorer().score("no idea", "B") == 0.0
    assert ChoiceScorer({"letters": "abcdef"}).score("Answer: F", "f") == 1.0
    assert ChoiceScorer().score("f.", "F") == 1.0  # no choice in the reference: text comparison
    assert ChoiceScorer().score("Answer: F", "F") == 0.0
    for bad in ("AAB", "A1", "A"):
        with pytest.raises(ConfigError, match="letters"):
            ChoiceScorer({"letters": bad})


# -- python_literal ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "reference", "score"),
    [
        ("[1,2]", "[1, 2]", 1.0),
        ("{ 'a':1 }", "{'a': 1}", 1.0),
        ('{"a": [1, 2.0]}', "{'a': [1, 2]}", 1.0),
        ("```python\n(1, 'x')\n```", "(1, 'x')", 1.0),
        ("{2, 1}", "{1, 2}", 1.0),
        ("(1, 2)", "[1, 2]", 0.0),
        ("True", "1", 0.0),
        ("[1, 2", "[1, 2]", 0.0),
        ("print('hi')", "None", 0.0),
        ("__import__('os')", "0", 0.0),
        ("Paris", "Paris", 1.0),  # the reference is no literal: stripped text
    ],
)
def test_python_literal_scores(prediction: str, reference: str, score: float) -> None:
    assert PythonLiteralScorer().score(prediction, reference) == score


def test_python_literal_tuples_as_lists() -> None:
    scorer = PythonLiteralScorer({"tuples_as_lists": True})
    assert scorer.score("(1, (2, 3))", "[1, [2, 3]]") == 1.0
    assert scorer.score("(1, 2)", "[2, 1]") == 0.0


# -- math -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "reference", "score"),
    [
        ("\\frac{1}{2}", "0.5", 1.0),
        ("0.5", "\\frac{1}{2}", 1.0),
        ("x^2+2x+1", "(x+1)^2", 1.0),
        ("x^2+2x+2", "(x+1)^2", 0.0),
        ("So the answer is $\\boxed{\\frac{3}{4}}$.", "3/4", 1.0),
        ("\\sqrt{2}/2", "\\frac{\\sqrt{2}}{2}", 1.0),
        ("The answer is 42", "42", 1.0),
        ("\\boxed{41}", "42", 0.0),
    ],
)
def test_math_scores(prediction: str, reference: str, score: float) -> None:
    assert MathScorer().score(prediction, reference) == score


def test_math_reads_only_the_tail() -> None:
    reply = "$\\boxed{7}$" + " filler" * 100
    assert MathScorer().score(reply, "7") == 1.0
    assert MathScorer({"max_chars": 100}).score(reply, "7") == 0.0


# -- bleu and rouge ---------------------------------------------------------------------------------


def test_bleu() -> None:
    scorer = BleuScorer()
    assert scorer.score("the cat sat on the mat", "the cat sat on the mat") == 1.0
    assert scorer.score("the cat sat on a mat", "the cat sat on the mat") == pytest.approx(0.5373, abs=1e-4)
    assert scorer.score("dogs bark", "the cat sat on the mat") == 0.0
    assert BleuScorer({"lowercase": True}).score("The Cat", "the cat") == 1.0


@pytest.mark.parametrize(
    ("variant", "measure", "score"),
    [
        ("rouge1", "f1", 5 / 6),
        ("rouge2", "f1", 3 / 5),
        ("rougeL", "f1", 5 / 6),
        ("rouge1", "precision", 3 / 3),
        ("rouge1", "recall", 3 / 6),
    ],
)
def test_rouge(variant: str, measure: str, score: float) -> None:
    scorer = RougeScorer({"variant": variant, "measure": measure})
    prediction = "the cat sat on a mat" if measure == "f1" else "The cat, sat!"
    assert scorer.score(prediction, "the cat sat on the mat") == pytest.approx(score)


def test_rouge_keeps_non_ascii_words_and_short_identical_texts() -> None:
    assert RougeScorer({"variant": "rouge2"}).score("Sí", "sí") == 1.0
    assert RougeScorer().score("über alles", "uber alles") == pytest.approx(0.5)


def _lcs_table(a: list[str], b: list[str]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


def test_bit_parallel_lcs_agrees_with_the_textbook_table() -> None:
    rng = random.Random(7)
    for _ in range(300):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 40))]
        b = [rng.choice("abcde") for _ in range(rng.randint(0, 40))]
        assert lcs_length(a, b) == _lcs_table(a, b)


def test_rouge_l_on_long_texts_is_quick() -> None:
    words = [f"w{i % 97}" for i in range(20_000)]
    assert lcs_length(words, words[::2]) == 10_000

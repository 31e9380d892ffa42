"""Reading answers out of replies: numbers, option letters and the JSON answer field."""

from __future__ import annotations

import pytest

from fusionsdk.answers import answer_field, extract_choice, extract_number

#: A real GSM8K reply as the replay data holds it (row 0, abridged reasoning).
GSM8K_REPLY = (
    '```json\n{\n    "reasoning": "Janet\'s ducks lay 16 eggs per day. She uses 3 eggs for breakfast and 4 '
    "eggs for baking muffins, which totals 7 eggs used daily. Therefore, she has 16 - 7 = 9 eggs "
    'remaining. She sells them at $2 each, so she makes 9 * 2 = $18.",\n    "answer": "18"\n}\n```'
)


# -- number -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("18", 18.0),
        ("18.0", 18.0),
        ("$1,000", 1000.0),
        ("1,000.50", 1000.5),
        ("-5", -5.0),
        ("−7 degrees", -7.0),
        ("It costs -$5.", -5.0),
        ("50%", 50.0),
        ("The answer is 18.", 18.0),
        (".5", 0.5),
        ("16-3 = 13", 13.0),
        ("CO2 levels", None),
        ("1,2,3", 3.0),
        ("\\boxed{42}", 42.0),
        ("no number here", None),
        ("", None),
        (GSM8K_REPLY, 18.0),
        ('{"reasoning": "7 + 2 = 9", "answer": 18}', 18.0),
        ('{"reasoning": "7 + 2 = 9", "answer": 18.5}', 18.5),
        ('{"reasoning": "7 + 2 = 9", "answer": "$18"}', 18.0),
        ('{"reasoning": "7 + 2 = 9", "answer": "18 dollars"}', 18.0),
        ('Here it is:\n```json\n{"reasoning": "2 * 9", "answer": "-1,250"}\n```\nHope it helps, 7', -1250.0),
        # Invalid JSON (a raw backslash): the answer field is still read.
        ('{"reasoning": "\\(9 \\times 2\\) = 18 or 20", "answer": "18"}', 18.0),
        # A reply that corrects itself: the last JSON answer wins.
        ('```json\n{"answer": "128"}\n```\nOops:\n```json\n{"answer": "76"}\n```', 76.0),
    ],
)
def test_extract_number(text: str, number: float | None) -> None:
    assert extract_number(text) == number


def test_the_json_answer_beats_later_numbers_in_prose() -> None:
    assert extract_number('{"reasoning": "...", "answer": "20"}\n\nSo 4 + 20 = 24.') == 20.0


def test_answer_field_reads_json_replies_only() -> None:
    assert answer_field(GSM8K_REPLY) == "18"
    assert answer_field('{"answer": null}') == ""
    assert answer_field("the answer is 18") is None


# -- choice -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("B", "B"),
        ("b", "B"),
        ("(B)", "B"),
        ("B.", "B"),
        ("Answer: B", "B"),
        ("The answer is b.", "B"),
        ("The correct option is **C** because it is larger.", "C"),
        ("Answer: (a)", "A"),
        ("B) Paris", "B"),
        ("I would go with (D).", "D"),
        ('```json\n{"reasoning": "A and B are wrong", "answer": "C"}\n```', "C"),
        ('{"answer": "(d)"}', "D"),
        ("The answer is a cat.", None),  # the article, not option A
        ("The answer is Bob", None),
        ("A dog is an animal", None),
        ("Answer: E", None),  # not an option letter
        ("Paris", None),
    ],
)
def test_extract_choice(text: str, letter: str | None) -> None:
    assert extract_choice(text) == letter

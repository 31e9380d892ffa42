"""Canonical answer keys and equivalence."""

from __future__ import annotations

import pytest

from fusionsdk.answers import KEY_FUNCTIONS, Extract, normalize_answer, same_answer


@pytest.mark.parametrize(
    ("text", "extract", "key"),
    [
        ('{"reasoning": "9 * 2", "answer": "$18"}', "number", "18"),
        ("18.0", "number", "18"),
        ("no number", "number", "no number"),  # nothing extracted: the normalised text
        ("I think the answer is (c).", "choice", "C"),
        ('```json\n{"answer": "Paris."}\n```', "json_field", "paris"),
        ("  The  Eiffel Tower. ", "text", "the eiffel tower"),
    ],
)
def test_normalize_answer(text: str, extract: Extract, key: str) -> None:
    assert normalize_answer(text, extract) == key


def test_every_kind_has_a_key_function_and_same_answer_compares_keys() -> None:
    assert sorted(KEY_FUNCTIONS) == ["choice", "json_field", "number", "text"]
    assert same_answer("The total is $1,000.", "1000", "number")
    assert same_answer("Answer: B", "(b)", "choice")
    assert not same_answer("17", "18", "number")

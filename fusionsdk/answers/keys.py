"""Canonical answer keys: what votes are counted over and answers are compared by.

Each kind of answer (``text``, ``number``, ``choice``, ``json_field``) has a key function in its
own module that returns the canonical key of a reply, or None when the reply holds no answer of
that kind; :data:`KEY_FUNCTIONS` maps the kind to it. :func:`normalize_answer` falls back to the
normalised text, so every reply has a key.

Example:
    >>> normalize_answer('{"reasoning": "9 * 2", "answer": "$18"}', "number")
    '18'
    >>> same_answer("The answer is (b).", "B", "choice")
    True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fusionsdk.answers.base import Extract
from fusionsdk.answers.choice import choice_key
from fusionsdk.answers.json_field import json_field_key
from fusionsdk.answers.normalize import normalize_text
from fusionsdk.answers.number import number_key
from fusionsdk.answers.text import text_key

__all__ = ["KEY_FUNCTIONS", "Extract", "normalize_answer", "same_answer"]

#: Kind -> the function giving a reply's key (None: the reply holds no answer of that kind).
KEY_FUNCTIONS: Mapping[str, Callable[[str], str | None]] = {
    "text": text_key,
    "number": number_key,
    "choice": choice_key,
    "json_field": json_field_key,
}


def normalize_answer(text: str, extract: Extract) -> str:
    """The answer's canonical key (its voting key).

    ``number``: the final number (the JSON ``answer`` field first); ``choice``: the option
    letter; ``json_field``: the JSON ``answer`` field as text; ``text``: the normalised text.
    When nothing can be extracted, the normalised text is the key.
    """
    key_of = KEY_FUNCTIONS.get(extract)
    key = key_of(text) if key_of is not None else None
    return key if key is not None else normalize_text(text)


def same_answer(first: str, second: str, extract: Extract) -> bool:
    """Whether two replies give the same answer: their canonical keys are equal."""
    return normalize_answer(first, extract) == normalize_answer(second, extract)

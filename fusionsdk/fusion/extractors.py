"""Answer extractors: read the answer a model gave out of its reply.

Fusion strategies vote over extracted answers and scorers compare them with references, so both
use these: the final number (:func:`extract_number`), a multiple-choice letter
(:func:`extract_choice`), the ``answer`` field of a JSON reply (:func:`answer_field`) and
normalised text (:func:`normalize_text`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

__all__ = ["answer_field", "extract_choice", "extract_number", "normalize_text", "strip_code_fence"]

_FENCE = re.compile(r"```[\w+-]*[ \t]*\n?(.*?)```", re.DOTALL)
_ARTICLES = re.compile(r"\b(?:a|an|the)\b", re.IGNORECASE)
# The "answer" field of a reply that is almost, but not quite, JSON (unescaped LaTeX, newlines).
_ANSWER_FIELD = re.compile(r'"answer"\s*:\s*("(?:[^"\\]|\\.)*"|[^,}\s][^,}\n]*)', re.IGNORECASE)
_TRAILING = ".,;:!?。"
# A number as people and models write it: -18, −18, $1,000, 1,000.50, .5, 50% (the % is ignored).
# The look-behinds keep "16-3" from reading as -3 and "CO2" or "x2" from reading as 2.
_NUMBER = re.compile(
    r"(?P<sign>(?<![\w)\]])[-−])?\s?\$?"
    r"(?<![\w.])(?P<digits>\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
)


def normalize_text(
    text: str,
    *,
    ignore_case: bool = True,
    strip_articles: bool = False,
    strip_punctuation: bool = False,
) -> str:
    """Normalise an answer for comparison.

    Applies NFKC, optionally case-folds, drops punctuation and the English articles, collapses
    whitespace and removes trailing punctuation (``"Paris."`` becomes ``"paris"``).

    Example:
        >>> normalize_text("  The  Eiffel Tower. ", strip_articles=True)
        'eiffel tower'
    """
    text = unicodedata.normalize("NFKC", text)
    if ignore_case:
        text = text.casefold()
    if strip_punctuation:
        text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
    if strip_articles:
        text = _ARTICLES.sub(" ", text)
    return " ".join(text.split()).rstrip(_TRAILING).rstrip()


def strip_code_fence(text: str) -> str:
    """The content of the first Markdown code fence in ``text``, or ``text`` when it has none."""
    match = _FENCE.search(text)
    return match.group(1) if match else text


def answer_field(text: str) -> str | None:
    """The ``answer`` field of a JSON reply such as ``{"reasoning": "...", "answer": "18"}``.

    The JSON may sit inside a Markdown code fence or after some prose; when a reply holds several
    JSON objects, the last one with an answer wins. A number or other
    non-string value comes back as its JSON text (``18`` -> ``"18"``), ``null`` as ``""``.
    Replies that are not valid JSON (unescaped LaTeX, raw newlines) are read with a pattern.

    Returns:
        The field as text, or None when ``text`` holds no ``answer`` field.
    """
    if '"answer"' not in text.lower():  # cheap exit for ordinary prose
        return None
    for block in [*reversed(_FENCE.findall(text)), text]:  # the last answer given is final
        start, end = block.find("{"), block.rfind("}")
        if start == -1 or end <= start:
            continue
        try:
            data = json.loads(block[start : end + 1])
        except (ValueError, RecursionError):
            continue
        found = _answer_value(data)
        if found is not None:
            return found
    matches = _ANSWER_FIELD.findall(text)
    if not matches:
        return None
    raw = matches[-1].strip()
    if raw.startswith('"'):
        try:
            return str(json.loads(raw))
        except ValueError:
            return raw.strip('"')
    return raw


def _answer_value(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    for key, value in data.items():
        if isinstance(key, str) and key.strip().lower() == "answer":
            if value is None:
                return ""
            return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return None


def extract_number(text: str) -> float | None:
    """The final number of an answer.

    The ``answer`` field of a JSON reply (``{"reasoning": ..., "answer": "18"}``, also inside a
    Markdown code fence) is preferred, since the reasoning holds many numbers; otherwise the last
    number in the text is taken. Currency signs, thousands separators, a leading minus and a
    trailing ``%`` or period are tolerated; ``50%`` reads as 50.

    Args:
        text: A model's reply or a reference answer.

    Returns:
        The number, or None when there is none.

    Example:
        >>> extract_number('```json\\n{"reasoning": "9 * 2 = 18", "answer": "$18"}\\n```')
        18.0
        >>> extract_number("The total is $1,000.50.")
        1000.5
    """
    field = answer_field(text)
    if field is not None:
        found = _last_number(field)
        if found is not None:
            return found
    return _last_number(text)


def _last_number(text: str) -> float | None:
    found = _NUMBER.findall(text)
    if not found:
        return None
    sign, digits = found[-1]
    value = float(digits.replace(",", ""))
    return -value if sign else value


def extract_choice(text: str, letters: str = "ABCD") -> str | None:
    """The option letter an answer chooses, in upper case.

    Understands a bare letter (``"B"``, ``"(b)"``, ``"B."``), statements such as ``"Answer: B"``,
    ``"The answer is b."`` or ``"the correct option is (C)"`` (the last one wins), a reply that
    starts with ``"B) ..."``, a parenthesised ``"(B)"``, and the ``answer`` field of a JSON reply.
    A lower-case letter followed by a word (``"the answer is a cat"``) is read as a word, not
    a choice.

    Args:
        text: The reply or reference.
        letters: The option letters, e.g. ``"ABCDE"``.

    Returns:
        The letter, or None when no choice can be read.

    Example:
        >>> extract_choice("I think the answer is (c).")
        'C'
    """
    return _ChoiceReader(letters).read(text)


class _ChoiceReader:
    """The patterns for one set of letters, compiled once."""

    def __init__(self, letters: str) -> None:
        options = re.escape(letters.upper() + letters.lower())
        self.bare = re.compile(rf"[(\[]?([{options}])[)\]]?[.:)]?")
        self.statement = re.compile(
            r"(?:answer|option|choice)\s*(?:is|:|=)?\s*(?:option|choice|letter)?\s*[:\-]?\s*"
            rf"[*_]*[(\[]?([{options}])\b[)\]]?[*_]*(?P<after>\s*\w?)",
            re.IGNORECASE,
        )
        upper = re.escape(letters.upper())
        self.leading = re.compile(rf"\s*[(\[]?([{upper}])[)\].:]\s")
        self.parenthesised = re.compile(rf"\(([{upper}])\)")

    def read(self, text: str) -> str | None:
        field = answer_field(text)
        if field is not None:
            found = self._read_plain(field)
            if found is not None:
                return found
        return self._read_plain(text)

    def _read_plain(self, text: str) -> str | None:
        text = text.strip()
        match = self.bare.fullmatch(text)
        if match:
            return match.group(1).upper()
        statements = [
            m
            for m in self.statement.finditer(text)
            # "the answer is a cat": a lower-case letter followed by a word is a word.
            if m.group(1).isupper() or not (m.group("after").strip() and m.group("after")[0].isspace())
        ]
        if statements:
            return statements[-1].group(1).upper()
        match = self.leading.match(text)
        if match:
            return match.group(1)
        found = self.parenthesised.findall(text)
        return found[-1] if found else None

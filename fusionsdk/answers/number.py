"""``number`` answers: the final number of a reply."""

from __future__ import annotations

import re

from fusionsdk.answers.json_field import answer_field

__all__ = ["extract_number", "number_key"]

# A number as people and models write it: -18, −18, $1,000, 1,000.50, .5, 50% (the % is ignored).
# The look-behinds keep "16-3" from reading as -3 and "CO2" or "x2" from reading as 2.
_NUMBER = re.compile(
    r"(?P<sign>(?<![\w)\]])[-−])?\s?\$?"
    r"(?<![\w.])(?P<digits>\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
)


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


def number_key(text: str) -> str | None:
    """The canonical key of a ``number`` answer (``18``, ``18.0`` and ``$18`` share ``"18"``), or
    None when the reply holds no number."""
    value = extract_number(text)
    return f"{value:.10g}" if value is not None else None

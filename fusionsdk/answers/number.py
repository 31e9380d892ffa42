"""``number`` answers: the final number of a reply."""

from __future__ import annotations

import math
import re

from pydantic import Field

from fusionsdk.answers.base import AnswerType
from fusionsdk.answers.json_field import answer_field
from fusionsdk.plugin import PluginOptions

__all__ = ["NumberAnswer", "extract_number", "number_key"]

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


class NumberAnswer(AnswerType["NumberAnswer.Options"]):
    """The final number of a reply (:func:`extract_number`: the JSON ``answer`` field first, else
    the last number). Digits of any script count (``٣`` is 3).

    Votes group numbers by their key (10 significant digits: ``18``, ``18.0`` and ``$18`` are
    one answer), as they always have, so vote counts on existing tasks do not move; scoring
    (:meth:`matches`) compares the numbers themselves within ``rel_tol`` and ``abs_tol``.
    Fractions and LaTeX (``1/2``, ``\\frac{1}{2}``) are the ``math`` type's work.

    Example:
        >>> NumberAnswer().vote_keys(['{"answer": "$18"}', "so 18.0", "17"])
        ['18', '18', '17']
    """

    class Options(PluginOptions):
        """Options of number.

        Attributes:
            rel_tol: Relative tolerance of scoring (as in :func:`math.isclose`).
            abs_tol: Absolute tolerance of scoring.
        """

        rel_tol: float = Field(default=1e-6, ge=0.0)
        abs_tol: float = Field(default=1e-6, ge=0.0)

    def extract(self, reply: str) -> str | None:
        return number_key(reply)

    def canonical(self, answer: str) -> str | None:
        return number_key(answer)

    def key(self, reply: str) -> str | None:
        return number_key(reply)

    def matches(self, prediction: str, reference: str) -> bool:
        # The numbers themselves, within the tolerance: long numbers keep every digit.
        expected = extract_number(reference)
        if expected is None:
            return self.fallback_equal(prediction, reference)
        got = extract_number(prediction)
        opts = self.options
        return got is not None and math.isclose(got, expected, rel_tol=opts.rel_tol, abs_tol=opts.abs_tol)

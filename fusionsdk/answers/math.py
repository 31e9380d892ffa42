"""``math`` answers: mathematical equivalence of final answers, LaTeX or plain."""

from __future__ import annotations

import re
from fractions import Fraction

from pydantic import Field

from fusionsdk.answers.base import AnswerType
from fusionsdk.answers.final import final_answer
from fusionsdk.answers.math_engine import math_equal
from fusionsdk.answers.normalize import fold_digits, normalize_text
from fusionsdk.plugin import PluginOptions

__all__ = ["MathAnswer", "clean_latex"]

_DELIMITERS = re.compile(r"^(?:\$\$?|\\\(|\\\[)(.*?)(?:\$\$?|\\\)|\\\])$", re.DOTALL)
_SPACING = re.compile(r"\\[,;:!\s]|\\left|\\right|\\displaystyle")
_TEXT = re.compile(r"\\(?:text|mathrm|textbf|mbox)\{([^{}]*)\}")
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")
_FRACTION = re.compile(r"(-?\d+)\s*/\s*(\d+)|\\[dt]?frac\{(-?\d+)\}\{(\d+)\}|\\[dt]?frac(\d)(\d)")


def clean_latex(answer: str) -> str:
    """A final answer tidied for display and quick comparison: math delimiters, ``\\left``,
    spacing commands, thousands separators, degrees and a trailing full stop dropped,
    ``\\dfrac`` read as ``\\frac``, digits of any script as ASCII.

    Example:
        >>> clean_latex("$\\\\dfrac{1}{2}$.")
        '\\\\frac{1}{2}'
    """
    text = fold_digits(answer).strip().rstrip(".").strip()
    match = _DELIMITERS.fullmatch(text)
    if match:
        text = match.group(1).strip()
    text = _SPACING.sub("", text).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    text = text.replace("^\\circ", "").replace("^{\\circ}", "").replace("\\%", "").replace("%", "")
    text = _TEXT.sub(r"\1", text).strip()
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", text):
        text = text.replace(",", "")
    return text.rstrip(".").strip()


def _exact_number(text: str) -> Fraction | None:
    """The value of a plain number or a simple fraction (``3``, ``-0.25``, ``1/2``,
    ``\\frac{1}{2}``), else None (left to math-verify)."""
    if _NUMBER.fullmatch(text):
        return Fraction(text)
    match = _FRACTION.fullmatch(text)
    if match:
        top, bottom = (group for group in match.groups() if group is not None)
        return Fraction(int(top), int(bottom)) if int(bottom) else None
    return None


class MathAnswer(AnswerType["MathAnswer.Options"]):
    """The final answer of a reply (:func:`~fusionsdk.answers.final.final_answer`: the JSON
    ``answer`` field, ``\\boxed{}``, "the answer is", last line), compared as mathematics with
    `math-verify <https://github.com/huggingface/Math-Verify>`_: ``1/2``, ``\\frac{1}{2}`` and
    ``0.5`` are one answer; ``x^2+2x+1`` is ``(x+1)^2``. Plain numbers and simple fractions are
    compared without sympy. Text that is not maths (``Paris``) is compared as normalised text.

    math-verify runs with this type's own time limit (:mod:`fusionsdk.answers.math_engine`),
    from any thread, without warnings; parses and comparisons are cached.

    Example:
        >>> MathAnswer().vote_keys(["The answer is 1/2.", "$\\\\frac{1}{2}$", "0.5"])
        ['1/2', '1/2', '1/2']
    """

    exact_keys = False

    class Options(PluginOptions):
        """Options of math.

        Attributes:
            timeout_s: Time limit in seconds for each parse and comparison (0: none).
            max_chars: How many characters, from the end of a reply, are searched for its
                answer (final answers come last; parsing long prose is slow).
            float_rounding: Decimal places floats are rounded to before comparison.
        """

        timeout_s: float = Field(default=5.0, ge=0)
        max_chars: int = Field(default=2000, gt=0)
        float_rounding: int = Field(default=6, ge=0)

    def extract(self, reply: str) -> str | None:
        found = final_answer(reply[-self.options.max_chars :])
        return found.text if found is not None else None

    def canonical(self, answer: str) -> str | None:
        return clean_latex(answer) or None

    def equivalent(self, first: str, second: str) -> bool:
        if first == second or normalize_text(first) == normalize_text(second):
            return True
        opts = self.options
        exact_first, exact_second = _exact_number(first), _exact_number(second)
        if exact_first is not None and exact_second is not None:
            if exact_first == exact_second:
                return True
            return round(float(exact_first), opts.float_rounding) == round(
                float(exact_second), opts.float_rounding
            )
        return math_equal(first, second, opts.float_rounding, float(opts.timeout_s))

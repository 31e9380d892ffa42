"""``math``: mathematical equivalence of answers (LaTeX or plain), checked with math-verify."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from fusionsdk.eval.scorers._common import AnswerScorer, AnswerScorerOptions

__all__ = ["MathScorer"]


class MathScorer(AnswerScorer):
    """1 when prediction and reference are the same mathematical object, else 0.

    Answers are read by the ``math`` answer type (:class:`~fusionsdk.answers.MathAnswer`): the
    final answer of each (the JSON ``answer`` field even when the JSON is invalid,
    ``\\boxed{}``, "the answer is ...", the last line), compared numerically and symbolically
    with `math-verify <https://github.com/huggingface/Math-Verify>`_: ``"\\frac{1}{2}"`` equals
    ``"0.5"``, ``"x^2+2x+1"`` equals ``"(x+1)^2"``, and ``"The answer is $\\boxed{5}$."`` equals
    ``"5"``. Text that is not maths (``"Paris"``) is compared as normalised text. Only the last
    ``max_chars`` characters of a reply are searched, since final answers come last.

    The time limit applies in every thread, and nothing is logged or warned.

    Example:
        >>> MathScorer().score("so the answer is $\\\\boxed{\\\\frac{1}{2}}$", "0.5")
        1.0
    """

    default_answer: ClassVar[str] = "math"

    class Options(AnswerScorerOptions):
        """Options of math.

        Attributes:
            timeout_s: Time limit in seconds for each parse and comparison (0: none).
            max_chars: How many characters, from the end of each string, are searched.
            float_rounding: Decimal places floats are rounded to before comparison.
        """

        timeout_s: float = Field(default=5, ge=0)
        max_chars: int = Field(default=2000, gt=0)
        float_rounding: int = Field(default=6, ge=0)

    def default_answer_options(self) -> dict[str, Any]:
        return self.options.model_dump(exclude={"answer", "answer_options"})

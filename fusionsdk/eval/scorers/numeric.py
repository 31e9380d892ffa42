"""``numeric``: the final number of the answer, compared with a tolerance."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from fusionsdk.eval.scorers._common import AnswerScorer, AnswerScorerOptions

__all__ = ["NumericScorer"]


class NumericScorer(AnswerScorer):
    """1 when the final numbers of prediction and reference agree within a tolerance, else 0.

    Numbers are read by the ``number`` answer type (:func:`~fusionsdk.answers.extract_number`:
    the JSON ``answer`` field first, else the last number). A prediction without a number scores
    0. A reference without a number is compared as normalised text instead (case, whitespace and
    trailing punctuation ignored), so that non-numeric items in a mixed set still get a score.
    ``answer:`` reads the answers with another answer type (``math`` for fractions).

    Example:
        >>> NumericScorer().score('{"reasoning": "16 - 7 = 9; 9 * 2", "answer": "$18"}', "18")
        1.0
    """

    default_answer: ClassVar[str] = "number"

    class Options(AnswerScorerOptions):
        """Options of numeric.

        Attributes:
            rel_tol: Relative tolerance (as in :func:`math.isclose`).
            abs_tol: Absolute tolerance.
        """

        rel_tol: float = Field(default=1e-6, ge=0.0)
        abs_tol: float = Field(default=1e-6, ge=0.0)

    def default_answer_options(self) -> dict[str, Any]:
        return {"rel_tol": self.options.rel_tol, "abs_tol": self.options.abs_tol}  # type: ignore[attr-defined]

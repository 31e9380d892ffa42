"""``choice``: multiple-choice answers, compared by the letter chosen."""

from __future__ import annotations

from typing import Any, ClassVar

from fusionsdk.answers.choice import Letters
from fusionsdk.eval.scorers._common import AnswerScorer, AnswerScorerOptions

__all__ = ["ChoiceScorer"]


class ChoiceScorer(AnswerScorer):
    """1 when prediction and reference choose the same option letter, else 0.

    Letters are read by the ``choice`` answer type (:func:`~fusionsdk.answers.extract_choice`).
    A prediction without a readable choice scores 0. A reference without one is compared as
    normalised text instead.

    Example:
        >>> ChoiceScorer().score("The answer is b.", "B")
        1.0
        >>> ChoiceScorer({"letters": "ABCDE"}).score('{"answer": "(E)"}', "E")
        1.0
    """

    default_answer: ClassVar[str] = "choice"

    class Options(AnswerScorerOptions):
        """Options of choice.

        Attributes:
            letters: The option letters (2 to 26 distinct letters A-Z, any case).
        """

        letters: Letters = "ABCD"

    def default_answer_options(self) -> dict[str, Any]:
        return {"letters": self.options.letters}  # type: ignore[attr-defined]

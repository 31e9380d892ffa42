"""``exact``: normalised exact match."""

from __future__ import annotations

from typing import Any, ClassVar

from fusionsdk.eval.scorers._common import AnswerScorer, AnswerScorerOptions

__all__ = ["ExactScorer"]


class ExactScorer(AnswerScorer):
    """1 when prediction and reference are the same answer after normalisation, else 0.

    Normalisation (:func:`~fusionsdk.answers.normalize_text`) applies Unicode NFKC, collapses
    whitespace and drops trailing punctuation; the options add case folding, dropping all
    punctuation and dropping the English articles (as SQuAD's exact match does). ``final``
    compares only the replies' final answers (JSON ``answer`` field, last line, ...);
    ``answer:`` compares with another answer type (``code_output``, ``json_field``, ...).

    Example:
        >>> ExactScorer().score("  paris. ", "Paris")
        1.0
        >>> ExactScorer({"strip_articles": True}).score("the Louvre", "Louvre")
        1.0
    """

    default_answer: ClassVar[str] = "text"

    class Options(AnswerScorerOptions):
        """Options of exact.

        Attributes:
            ignore_case: Compare case-insensitively.
            strip_articles: Ignore the words "a", "an" and "the".
            strip_punctuation: Ignore all punctuation, not only trailing punctuation.
            final: Compare only the final answers (see the ``text`` answer type).
        """

        ignore_case: bool = True
        strip_articles: bool = False
        strip_punctuation: bool = False
        final: bool = False

    def default_answer_options(self) -> dict[str, Any]:
        return self.options.model_dump(exclude={"answer", "answer_options"})

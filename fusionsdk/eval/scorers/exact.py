"""``exact``: normalised exact match."""

from __future__ import annotations

from fusionsdk.answers import normalize_text
from fusionsdk.eval.scorers._common import TextScorer
from fusionsdk.plugin import PluginOptions

__all__ = ["ExactScorer"]


class ExactScorer(TextScorer):
    """1 when prediction and reference are the same answer after normalisation, else 0.

    Normalisation (:func:`~fusionsdk.answers.normalize_text`) applies Unicode NFKC, collapses
    whitespace and drops trailing punctuation; the options add case folding, dropping all
    punctuation and dropping the English articles (as SQuAD's exact match does).

    Example:
        >>> ExactScorer().score("  paris. ", "Paris")
        1.0
        >>> ExactScorer({"strip_articles": True}).score("the Louvre", "Louvre")
        1.0
    """

    class Options(PluginOptions):
        """Options of exact.

        Attributes:
            ignore_case: Compare case-insensitively.
            strip_articles: Ignore the words "a", "an" and "the".
            strip_punctuation: Ignore all punctuation, not only trailing punctuation.
        """

        ignore_case: bool = True
        strip_articles: bool = False
        strip_punctuation: bool = False

    def _score(self, prediction: str, reference: str) -> float:
        flags = self.options.model_dump()
        expected = normalize_text(reference, **flags)
        return float(expected != "" and normalize_text(prediction, **flags) == expected)

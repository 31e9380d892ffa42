"""What the built-in scorers share: input checks and the [0, 1] range."""

from __future__ import annotations

from abc import abstractmethod

from fusionsdk.errors import FusionError
from fusionsdk.eval.base import Scorer

__all__ = ["TextScorer"]


class TextScorer(Scorer):
    """Base of the built-in scorers: checks both arguments are strings and keeps scores in [0, 1].

    A prediction or reference that is not a ``str`` (``None`` included) raises
    :class:`~fusionsdk.errors.FusionError`: it is a bug in the caller, not a wrong answer. A
    prediction or reference that is empty or only whitespace scores 0.
    """

    def score(self, prediction: str, reference: str) -> float:
        """Score ``prediction`` against ``reference``; see the class docstring for edge cases.

        Raises:
            FusionError: ``prediction`` or ``reference`` is not a string.
        """
        for what, value in (("prediction", prediction), ("reference", reference)):
            if not isinstance(value, str):
                raise FusionError(
                    f"{type(self).__name__}.score: {what} must be a str, got {type(value).__name__}"
                )
        if not prediction.strip() or not reference.strip():
            return 0.0
        return min(1.0, max(0.0, float(self._score(prediction, reference))))

    @abstractmethod
    def _score(self, prediction: str, reference: str) -> float:
        """Score two non-empty strings."""

"""What the built-in scorers share: input checks and the [0, 1] range."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from fusionsdk.answers import AnswerType, build_answer_type
from fusionsdk.errors import FusionError
from fusionsdk.eval.base import Scorer
from fusionsdk.plugin import PluginOptions

if TYPE_CHECKING:
    from fusionsdk.registry import Registry

__all__ = ["AnswerScorer", "AnswerScorerOptions", "TextScorer"]


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


class AnswerScorerOptions(PluginOptions):
    """Options every answer-reading scorer takes.

    Attributes:
        answer: A ``fusionsdk.answers`` plugin that reads and compares the answers; None means
            the scorer's own (``number`` for ``numeric``, ``math`` for ``math``, ...), built with
            the scorer's other options.
        answer_options: The answer type's own options (when ``answer`` is given).
    """

    answer: str | None = None
    answer_options: dict[str, Any] = Field(default_factory=dict)


class AnswerScorer(TextScorer):
    """Base of the scorers that read answers through an answer type
    (:class:`~fusionsdk.answers.AnswerType`): 1 when the prediction's answer is equivalent to
    the reference's (:meth:`~fusionsdk.answers.AnswerType.matches`), else 0.

    Attributes:
        default_answer: The answer type used when ``answer`` is not given.
        answers: The answer type in use.
    """

    default_answer: ClassVar[str] = "text"
    Options = AnswerScorerOptions

    def __init__(self, options: Any = None, *, registry: Registry | None = None) -> None:
        super().__init__(options, registry=registry)
        opts: AnswerScorerOptions = self.options  # type: ignore[assignment]
        if opts.answer is None:
            name, answer_options = self.default_answer, self.default_answer_options()
        else:
            name, answer_options = opts.answer, opts.answer_options
        self.answers: AnswerType[Any] = build_answer_type(
            name, answer_options, registry=self.registry, path="options"
        )

    def default_answer_options(self) -> dict[str, Any]:
        """The options of :attr:`default_answer`, from this scorer's own options."""
        return {}

    def explain(self, prediction: str) -> str | None:
        """The answer this scorer reads in ``prediction`` (None: it reads none)."""
        return self.answers.extract(prediction) if prediction.strip() else None

    def _score(self, prediction: str, reference: str) -> float:
        return float(self.answers.matches(prediction, reference))

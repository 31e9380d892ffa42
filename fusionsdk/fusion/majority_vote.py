"""``majority_vote``: the most common normalised answer wins; ties go to the heavier model."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fusionsdk.answers import AnswerOptions, AnswerType
from fusionsdk.errors import FusionError
from fusionsdk.fusion.base import Candidate, Fuser, FusionContext, FusionResult

if TYPE_CHECKING:
    from fusionsdk.registry import Registry

__all__ = ["MajorityVote"]


class MajorityVote(Fuser["MajorityVote.Options"]):
    """Vote over normalised answers, read and compared by an answer type (``answer:``, default
    ``text``): equivalent answers (``1/2`` and ``0.5`` under ``math``) are one answer. Each
    candidate votes with its weight; the answer with the most weight wins, ties going to the
    answer whose heaviest voter weighs most, then to the answer seen first. The winning text is
    the first candidate's text with that answer.

    Example:
        ``vote: {kind: fuse, strategy: majority_vote, options: {answer: math}}``
    """

    class Options(AnswerOptions):
        """Options of majority_vote.

        Attributes:
            answer: The ``fusionsdk.answers`` type answers are read and compared with
                (``text``, ``number``, ``choice``, ``math``, ``python_literal``, ...).
            answer_options: Its options.
            extract: The older name of ``answer`` (``text``, ``number``, ``choice``,
                ``json_field``), still accepted.
        """

    def __init__(self, options: Any = None, *, registry: Registry | None = None) -> None:
        super().__init__(options, registry=registry)
        self.answers: AnswerType[Any] = self.options.answer_type(self.registry)

    async def fuse(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        if not candidates:
            raise FusionError("majority_vote needs at least one candidate")
        totals: dict[str, float] = defaultdict(float)
        heaviest: dict[str, float] = defaultdict(float)
        first: dict[str, Candidate] = {}
        keys = self.answers.vote_keys([c.text for c in candidates])
        for key, candidate in zip(keys, candidates, strict=True):
            totals[key] += candidate.weight
            heaviest[key] = max(heaviest[key], candidate.weight)
            first.setdefault(key, candidate)
        order = list(first)
        best = max(order, key=lambda k: (totals[k], heaviest[k], -order.index(k)))
        winner = first[best]
        share = totals[best] / sum(totals.values()) if sum(totals.values()) else 0.0
        return FusionResult(
            text=winner.text,
            winner=winner.model,
            scores={c.model: totals[key] for key, c in zip(keys, candidates, strict=True)},
            reason=f"answer '{best}' won {share:.0%} of the vote among {len(order)} distinct answers",
        )

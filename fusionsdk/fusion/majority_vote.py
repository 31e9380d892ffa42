"""``majority_vote``: the most common normalised answer wins; ties go to the heavier model."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from fusionsdk.answers import Extract, normalize_answer
from fusionsdk.errors import FusionError
from fusionsdk.fusion.base import Candidate, Fuser, FusionContext, FusionResult
from fusionsdk.plugin import PluginOptions

__all__ = ["MajorityVote"]


class MajorityVote(Fuser["MajorityVote.Options"]):
    """Vote over normalised answers. Each candidate votes with its weight; the answer with the
    most weight wins, ties going to the answer whose heaviest voter weighs most, then to the
    answer seen first. The winning text is the first candidate's text with that answer."""

    class Options(PluginOptions):
        """Options of majority_vote.

        Attributes:
            extract: How to read an answer before voting: ``text``, ``number``, ``choice``
                or ``json_field`` (see :func:`~fusionsdk.answers.normalize_answer`).
        """

        extract: Extract = "text"

    async def fuse(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        if not candidates:
            raise FusionError("majority_vote needs at least one candidate")
        totals: dict[str, float] = defaultdict(float)
        heaviest: dict[str, float] = defaultdict(float)
        first: dict[str, Candidate] = {}
        for candidate in candidates:
            key = normalize_answer(candidate.text, self.options.extract)
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
            scores={c.model: totals[normalize_answer(c.text, self.options.extract)] for c in candidates},
            reason=f"answer '{best}' won {share:.0%} of the vote among {len(order)} distinct answers",
        )

"""``majority_vote``: the most common normalised answer wins; ties go to the heavier model."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Literal

from fusionsdk.errors import FusionError
from fusionsdk.fusion.base import Candidate, Fuser, FusionContext, FusionResult
from fusionsdk.fusion.extractors import answer_field, extract_choice, extract_number, normalize_text
from fusionsdk.plugin import PluginOptions

__all__ = ["MajorityVote", "normalize_answer"]

Extract = Literal["text", "number", "choice", "json_field"]


def normalize_answer(text: str, extract: Extract) -> str:
    """The answer's voting key.

    ``number``: the final number (the JSON ``answer`` field first); ``choice``: the option
    letter; ``json_field``: the JSON ``answer`` field as text; ``text``: the normalised text.
    When nothing can be extracted, the normalised text is the key.
    """
    if extract == "number":
        value = extract_number(text)
        if value is not None:
            return f"{value:.10g}"
    elif extract == "choice":
        letter = extract_choice(text)
        if letter is not None:
            return letter
    elif extract == "json_field":
        field = answer_field(text)
        if field is not None:
            return normalize_text(field)
    return normalize_text(text)


class MajorityVote(Fuser):
    """Vote over normalised answers. Each candidate votes with its weight; the answer with the
    most weight wins, ties going to the answer whose heaviest voter weighs most, then to the
    answer seen first. The winning text is the first candidate's text with that answer."""

    class Options(PluginOptions):
        """Options of majority_vote.

        Attributes:
            extract: How to read an answer before voting: ``text``, ``number``, ``choice``
                or ``json_field`` (see :func:`normalize_answer`).
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
            key = normalize_answer(candidate.text, self.options.extract)  # type: ignore[attr-defined]
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
            scores={c.model: totals[normalize_answer(c.text, self.options.extract)] for c in candidates},  # type: ignore[attr-defined]
            reason=f"answer '{best}' won {share:.0%} of the vote among {len(order)} distinct answers",
        )

"""``agreement_threshold``: conflict when too few agree; the heaviest of the plurality settles it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from fusionsdk.arbiters.base import Arbiter, Conflict
from fusionsdk.errors import FusionError
from fusionsdk.fusion.base import Candidate, FusionContext, FusionResult
from fusionsdk.plugin import PluginOptions
from pydantic import Field

from fusionsdk_plugin_example.answers import answer_key, check_weights

__all__ = ["AgreementThreshold"]

NAME = "agreement_threshold"


class AgreementThreshold(Arbiter):
    """Detect conflict by agreement rate; resolve by the heaviest candidate of the plurality.

    Agreement is the share of candidates giving the most common answer (compared with
    whitespace, trailing punctuation and case ignored); under ``min_agreement`` the candidates
    are in conflict. Resolving picks the plurality answer (a tie between answers goes to the one
    with more total weight, then to the one seen first) and, among the candidates giving it, the
    one with the highest weight. With ``on_conflict: refuse`` a conflict is not settled:
    ``resolve`` raises a FusionError, so an escalation ladder can pass the question on to a
    judge or a person.

    Example:
        In a config::

            arbitrate: {kind: arbitrate, arbiter: agreement_threshold, options: {min_agreement: 0.75}}
    """

    class Options(PluginOptions):
        """Options of agreement_threshold.

        Attributes:
            min_agreement: Share of candidates (0..1] that must agree for no conflict.
            on_conflict: ``plurality`` settles a conflict anyway; ``refuse`` raises.
            case_sensitive: Whether ``Paris`` and ``paris`` are different answers.
        """

        min_agreement: float = Field(0.6, gt=0, le=1)
        on_conflict: Literal["plurality", "refuse"] = "plurality"
        case_sensitive: bool = False

    @property
    def settings(self) -> AgreementThreshold.Options:
        """The validated options, typed."""
        return self.options  # type: ignore[return-value]

    def _groups(self, candidates: Sequence[Candidate]) -> dict[str, list[Candidate]]:
        """Candidates by answer, in the order answers were first seen."""
        groups: dict[str, list[Candidate]] = {}
        for candidate in candidates:
            key = answer_key(candidate.text, case_sensitive=self.settings.case_sensitive)
            groups.setdefault(key, []).append(candidate)
        return groups

    def detect(self, candidates: Sequence[Candidate]) -> Conflict:
        """Agreement is the plurality's share of the candidates.

        Raises:
            FusionError: No candidates.
        """
        if not candidates:
            raise FusionError(f"{NAME} needs at least one candidate")
        plurality = max(len(group) for group in self._groups(candidates).values())
        agreement = plurality / len(candidates)
        return Conflict(agreement=agreement, conflicted=agreement < self.settings.min_agreement)

    async def resolve(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        """Return the answer of the heaviest candidate among those giving the plurality answer.

        Raises:
            FusionError: No candidates, an invalid weight, or a conflict with
                ``on_conflict: refuse``.
        """
        conflict = self.detect(candidates)
        check_weights(candidates, NAME)
        if conflict.conflicted and self.settings.on_conflict == "refuse":
            raise FusionError(
                f"{NAME}: only {conflict.agreement:.0%} of the candidates agree, under min_agreement "
                f"{self.settings.min_agreement:.0%}, and on_conflict is 'refuse'"
            )
        groups = self._groups(candidates)
        first_seen = {key: index for index, key in enumerate(groups)}
        best = max(groups, key=lambda k: (len(groups[k]), sum(c.weight for c in groups[k]), -first_seen[k]))
        winner = max(groups[best], key=lambda c: c.weight)  # the first of equal weights
        share_of = {key: len(group) / len(candidates) for key, group in groups.items()}
        verdict = "conflict settled by plurality" if conflict.conflicted else "no conflict"
        return FusionResult(
            text=winner.text,
            winner=winner.model,
            scores={c.model: share_of[key] for key, group in groups.items() for c in group},
            reason=(
                f"{conflict.agreement:.0%} agree ({verdict}, min_agreement "
                f"{self.settings.min_agreement:.0%}); '{winner.model}' is the heaviest of "
                f"{len(groups[best])} giving the plurality answer"
            ),
        )

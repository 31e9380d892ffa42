"""``confidence`` arbiter: settle a conflict by how sure each model was of its answer."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from fusionsdk.arbiters.conflict import ConflictArbiter, ConflictOptions
from fusionsdk.fusion.base import Candidate, FusionContext, FusionResult
from fusionsdk.fusion.confidence import confidence_vote

__all__ = ["ConfidenceArbiter"]


class ConfidenceArbiter(ConflictArbiter["ConfidenceArbiter.Options"]):
    """Keep the majority when the candidates agree; on a conflict, vote with each answer
    weighted by its model's confidence (token log-probabilities where the backend gives them,
    a stated "Confidence: 80%" otherwise, ``default_confidence`` when neither), as the
    ``confidence`` fuser does. Calls no model.

    Example:
        ``settle: {kind: arbitrate, arbiter: confidence, options: {threshold: 0.6}}``
    """

    label = "confidence"

    class Options(ConflictOptions):
        """Options of the confidence arbiter (and the shared conflict detection options).

        Attributes:
            default_confidence: Confidence of an answer with no logprobs and no statement.
        """

        default_confidence: float = Field(0.5, ge=0, le=1)

    async def resolve(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        opts: ConfidenceArbiter.Options = self.options
        conflict = self.detect(candidates)
        if not conflict.conflicted:
            return await self.kept_majority(candidates, conflict)
        vote = confidence_vote(candidates, self.answers, opts.default_confidence)
        return FusionResult(
            vote.text,
            vote.winner,
            vote.scores,
            f"agreement {conflict.agreement:.0%} under {opts.threshold:.0%}: {vote.reason}",
            details={"agreement": conflict.agreement},
        )

"""``escalate``: on a conflict, ask a stronger model, showing it the candidates' answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from fusionsdk.arbiters.conflict import ConflictArbiter, ConflictOptions
from fusionsdk.fusion.base import Candidate, FusionContext, FusionResult
from fusionsdk.fusion.model_lookup import require_model
from fusionsdk.fusion.spending import SpendTally

__all__ = ["EscalateArbiter"]

ESCALATE_INSTRUCTION = (
    "Several models answered the task below and they disagree. Read their answers critically, "
    "decide what is correct, and give the correct answer to the task yourself."
)


class EscalateArbiter(ConflictArbiter["EscalateArbiter.Options"]):
    """Keep the majority when the candidates agree; on a conflict, the stronger ``model`` answers
    the task with the candidates' answers as context, and its answer is final. Its tokens stream
    as they are generated. The winner is the candidate whose answer it matches, if any.

    Example:
        ``settle: {kind: arbitrate, arbiter: escalate, options: {model: gpt4o, threshold: 0.6}}``
    """

    label = "escalate"
    deterministic = False  # the stronger model is a model

    class Options(ConflictOptions):
        """Options of escalate (and the shared conflict detection options).

        Attributes:
            model: The stronger model (a name from the config's models).
            instruction: What it is told before the task and the answers.
            max_tokens: Its output limit.
            temperature: Sampling temperature (the backend's default when unset).
        """

        model: str = Field(min_length=1)
        instruction: str = ESCALATE_INSTRUCTION
        max_tokens: int = Field(512, gt=0)
        temperature: float | None = Field(None, ge=0, le=2)

    def _prompt(self, task: str, candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
        opts: EscalateArbiter.Options = self.options
        answers = "\n\n".join(f"Answer {i + 1}:\n{c.text}" for i, c in enumerate(candidates))
        return [
            {"role": "system", "content": opts.instruction},
            {"role": "user", "content": f"Task:\n{task}\n\n{answers}\n\nYour answer to the task:"},
        ]

    async def resolve(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        opts: EscalateArbiter.Options = self.options
        conflict = self.detect(candidates)
        if not conflict.conflicted:
            return await self.kept_majority(candidates, conflict)
        stronger = require_model(context, opts.model, "escalate:")
        assert context is not None
        params: dict[str, Any] = {"max_tokens": opts.max_tokens}
        if opts.temperature is not None:
            params["temperature"] = opts.temperature
        tally = SpendTally()
        chunks = stronger.astream(self._prompt(task, candidates), metadata=dict(context.metadata), **params)
        text = await tally.relay(chunks, context)
        keys = self.answer_keys([text, *(c.text for c in candidates)])
        match = next((c for c, k in zip(candidates, keys[1:], strict=True) if k == keys[0]), None)
        agrees = f", agreeing with {match.model}" if match else ", a new answer"
        return FusionResult(
            text,
            match.model if match else None,
            {"agreement": conflict.agreement},
            f"agreement {conflict.agreement:.0%} under {opts.threshold:.0%}: escalated to "
            f"{opts.model}{agrees}",
            usage=tally.usage,
            cost_usd=tally.cost_usd,
            details={"agreement": conflict.agreement},
        )

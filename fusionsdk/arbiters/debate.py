"""``debate``: the models that disagree read each other's answers and answer again.

Multi-agent debate (Du et al., 2023, "Improving Factuality and Reasoning in Language Models
through Multiagent Debate"): in each round every debater sees its own last answer and the other
debaters' answers, and gives an updated answer. After ``rounds`` rounds, or as soon as all
debaters agree, a majority vote over the last answers decides. Each candidate is one debater,
answering with its own model (which must be among the graph's models).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field

from fusionsdk.arbiters.conflict import ConflictArbiter, ConflictOptions, agreement_rate
from fusionsdk.fusion.base import Candidate, FusionContext, FusionResult
from fusionsdk.fusion.model_lookup import require_model
from fusionsdk.fusion.spending import SpendTally

if TYPE_CHECKING:
    from fusionsdk.providers.model import Completion, Model

__all__ = ["DebateArbiter", "debate_message"]

#: The update prompt of Du et al. (2023), lightly generalised beyond arithmetic.
DEBATE_INSTRUCTION = (
    "Using the reasoning from other agents as additional advice, can you give an updated answer? "
    "Examine your solution and that of the other agents step by step. "
    "State your final answer clearly at the end of your response."
)


def debate_message(others: Sequence[str], instruction: str = DEBATE_INSTRUCTION) -> str:
    """The message that shows a debater the other agents' answers."""
    shown = "".join(f"\n\nOne agent solution: ```{text}```" for text in others)
    return f"These are the solutions to the problem from other agents:{shown}\n\n{instruction}"


class DebateArbiter(ConflictArbiter["DebateArbiter.Options"]):
    """Keep the majority when the candidates agree; on a conflict, let the candidates' models
    debate for up to ``rounds`` rounds (stopping early once they all agree), then take the
    majority vote of their last answers. The rounds are recorded in the result's
    ``details["rounds"]`` (and so in the trace); ``details["agreement"]`` is the agreement after
    the debate.

    Example:
        ``settle: {kind: arbitrate, arbiter: debate, options: {rounds: 2, extract: number}}``
    """

    label = "debate"
    deterministic = False  # the debaters are models

    class Options(ConflictOptions):
        """Options of debate (and the shared conflict detection options).

        Attributes:
            rounds: Most rounds of debate.
            instruction: What each debater is asked after seeing the others' answers.
            max_tokens: Output limit of each answer.
            temperature: Sampling temperature (the backend's default when unset).
        """

        rounds: int = Field(2, ge=1, le=10)
        instruction: str = DEBATE_INSTRUCTION
        max_tokens: int = Field(256, gt=0)
        temperature: float | None = Field(None, ge=0, le=2)

    def _debaters(self, candidates: Sequence[Candidate], context: FusionContext | None) -> list[Model]:
        return [require_model(context, c.model, "debate: debater") for c in candidates]

    async def _answer(
        self, model: Model, task: str, own: str, others: list[str], context: FusionContext
    ) -> Completion:
        opts: DebateArbiter.Options = self.options
        messages = [
            {"role": "user", "content": task},
            {"role": "assistant", "content": own},
            {"role": "user", "content": debate_message(others, opts.instruction)},
        ]
        params: dict[str, Any] = {"max_tokens": opts.max_tokens}
        if opts.temperature is not None:
            params["temperature"] = opts.temperature
        return await model.acomplete(messages, metadata=dict(context.metadata), **params)

    async def resolve(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        opts: DebateArbiter.Options = self.options
        conflict = self.detect(candidates)
        if not conflict.conflicted:
            return await self.kept_majority(candidates, conflict)
        debaters = self._debaters(candidates, context)
        assert context is not None
        answers = [c.text for c in candidates]
        tally = SpendTally()
        rounds: list[dict[str, Any]] = []
        agreement = conflict.agreement
        while len(rounds) < opts.rounds and agreement < 1.0:
            replies = await asyncio.gather(
                *(
                    self._answer(model, task, answers[i], answers[:i] + answers[i + 1 :], context)
                    for i, model in enumerate(debaters)
                )
            )
            for reply in replies:
                tally.add_completion(reply)
            answers = [reply.text for reply in replies]
            agreement = agreement_rate(self.answer_keys(answers))
            rounds.append(
                {
                    "round": len(rounds) + 1,
                    "agreement": agreement,
                    "answers": [
                        {"model": c.model, "text": t} for c, t in zip(candidates, answers, strict=True)
                    ],
                }
            )
        final = [
            Candidate(c.model, text, weight=c.weight) for c, text in zip(candidates, answers, strict=True)
        ]
        vote = await self.majority(final)
        early = " (all agreed)" if agreement >= 1.0 and len(rounds) < opts.rounds else ""
        return FusionResult(
            vote.text,
            vote.winner,
            vote.scores,
            f"agreement {conflict.agreement:.0%} under {opts.threshold:.0%}: {len(rounds)} "
            f"round(s) of debate{early} brought it to {agreement:.0%}; {vote.reason}",
            usage=tally.usage,
            cost_usd=tally.cost_usd,
            details={"rounds": rounds, "agreement": agreement},
        )

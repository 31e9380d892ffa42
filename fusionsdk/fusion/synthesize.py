"""``synthesize``: an aggregator model writes one answer from the best candidates (Mixture-of-Agents).

Following Mixture-of-Agents (Wang et al., 2024), the aggregator is shown the ``top_k`` candidate
answers (the most voted distinct ones) and asked to synthesise a single, better response. With
``layers: n`` the ``proposers`` first re-answer ``n - 1`` times, each time seeing the previous
layer's answers; the aggregator then writes from the last layer. The aggregator's tokens stream
through :attr:`FusionContext.emit` as they are generated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from fusionsdk.answers import normalize_answer
from fusionsdk.errors import FusionError
from fusionsdk.fusion.base import Candidate, Fuser, FusionContext, FusionResult
from fusionsdk.fusion.model_lookup import require_model
from fusionsdk.fusion.spending import SpendTally
from fusionsdk.plugin import PluginOptions

if TYPE_CHECKING:
    from fusionsdk.providers.model import Model

__all__ = ["MixtureOfAgents"]

#: The aggregate-and-synthesize prompt of the Mixture-of-Agents paper.
MOA_INSTRUCTION = (
    "You have been provided with a set of responses from various models to the latest user query. "
    "Your task is to synthesize these responses into a single, high-quality response. It is crucial "
    "to critically evaluate the information provided in these responses, recognizing that some of it "
    "may be biased or incorrect. Your response should not simply replicate the given answers but "
    "should offer a refined, accurate, and comprehensive reply to the instruction. Ensure your "
    "response is well-structured, coherent, and adheres to the highest standards of accuracy and "
    "reliability."
)


def moa_messages(instruction: str, task: str, references: Sequence[str]) -> list[dict[str, Any]]:
    """The aggregator's (or a proposer's) messages: the instruction and numbered responses as
    the system message, the task as the user message."""
    listed = "\n".join(f"{i + 1}. {text}" for i, text in enumerate(references))
    system = f"{instruction}\n\nResponses from models:\n{listed}" if references else instruction
    return [{"role": "system", "content": system}, {"role": "user", "content": task}]


class MixtureOfAgents(Fuser["MixtureOfAgents.Options"]):
    """The ``aggregator`` model synthesises one answer from the ``top_k`` most voted distinct
    candidates; with ``layers`` above 1 the ``proposers`` refine the answers first. Streams the
    aggregator's tokens; usage and cost of every call are in the result.

    Example:
        ``fuse: {kind: fuse, strategy: synthesize, options: {aggregator: big, top_k: 3}}``
    """

    deterministic = False  # the aggregator is a model

    class Options(PluginOptions):
        """Options of synthesize.

        Attributes:
            aggregator: The model that writes the answer (a name from the config's models).
            top_k: How many distinct candidate answers it reads (most voted first).
            layers: 1: the aggregator reads the candidates; n: the proposers re-answer n - 1
                times first.
            proposers: The models of the extra layers (needed when ``layers`` > 1).
            instruction: The synthesis instruction shown before the numbered responses.
            max_tokens: Output limit of each call.
            temperature: Sampling temperature (the backend's default when unset).
        """

        aggregator: str = Field(min_length=1)
        top_k: int = Field(4, ge=1, le=64)
        layers: int = Field(1, ge=1, le=5)
        proposers: list[str] = Field(default_factory=list)
        instruction: str = MOA_INSTRUCTION
        max_tokens: int = Field(512, gt=0)
        temperature: float | None = Field(None, ge=0, le=2)

        @model_validator(mode="after")
        def _proposers_for_layers(self) -> MixtureOfAgents.Options:
            if self.layers > 1 and not self.proposers:
                raise ValueError(f"layers: {self.layers} needs proposers (the models that re-answer)")
            return self

    def _params(self) -> dict[str, Any]:
        opts: MixtureOfAgents.Options = self.options
        params: dict[str, Any] = {"max_tokens": opts.max_tokens}
        if opts.temperature is not None:
            params["temperature"] = opts.temperature
        return params

    def _models(self, context: FusionContext | None) -> tuple[Model, list[Model]]:
        opts: MixtureOfAgents.Options = self.options
        proposers = opts.proposers if opts.layers > 1 else []
        return (
            require_model(context, opts.aggregator, "synthesize: aggregator"),
            [require_model(context, name, "synthesize: proposer") for name in proposers],
        )

    def _top_answers(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        opts: MixtureOfAgents.Options = self.options
        votes: dict[str, float] = {}
        first: dict[str, Candidate] = {}
        for candidate in candidates:
            if not candidate.text.strip():
                continue
            key = normalize_answer(candidate.text, "text")
            votes[key] = votes.get(key, 0.0) + candidate.weight
            first.setdefault(key, candidate)
        order = list(first)
        ranked = sorted(order, key=lambda k: (-votes[k], order.index(k)))
        return [first[key] for key in ranked[: opts.top_k]]

    async def _propose(
        self,
        proposers: Sequence[Model],
        task: str,
        references: list[str],
        tally: SpendTally,
        metadata: dict[str, Any],
    ) -> list[str]:
        opts: MixtureOfAgents.Options = self.options
        messages = moa_messages(opts.instruction, task, references)
        replies = await asyncio.gather(
            *(m.acomplete(messages, metadata=metadata, **self._params()) for m in proposers)
        )
        for reply in replies:
            tally.add_completion(reply)
        return [reply.text for reply in replies if reply.text.strip()] or references

    async def fuse(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        opts: MixtureOfAgents.Options = self.options
        if not candidates:
            raise FusionError("synthesize needs at least one candidate")
        aggregator, proposers = self._models(context)
        assert context is not None
        chosen = self._top_answers(candidates)
        references = [c.text for c in chosen]
        tally = SpendTally()
        for _ in range(opts.layers - 1):
            references = await self._propose(proposers, task, references, tally, dict(context.metadata))
        chunks = aggregator.astream(
            moa_messages(opts.instruction, task, references),
            metadata=dict(context.metadata),
            **self._params(),
        )
        text = await tally.relay(chunks, context)
        layers = f" over {opts.layers} layers" if opts.layers > 1 else ""
        return FusionResult(
            text=text,
            winner=None,
            scores={c.model: 1.0 for c in chosen},
            reason=f"aggregator {opts.aggregator} synthesised {len(chosen)} of "
            f"{len(candidates)} answers{layers}",
            usage=tally.usage,
            cost_usd=tally.cost_usd,
            details={"layers": opts.layers, "references": [c.model for c in chosen]},
        )

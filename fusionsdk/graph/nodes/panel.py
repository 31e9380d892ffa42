"""``panel``: the same task to N models at once; keeps every independent answer that arrives.

Answers are votes, so they must be independent: when a member's model failed and its fallback
answered from a deployment that already answered in this panel (two hosted models both falling
back to one local model), the duplicate is dropped (``dedupe_fallbacks: false`` keeps it). Members
that fail, fall back or are dropped are logged as warnings and named in the panel's decision.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from pydantic import Field, model_validator

from fusionsdk.errors import FusionError, GraphError
from fusionsdk.graph.base import Node
from fusionsdk.graph.nodes._common import PromptOptions, completion_update
from fusionsdk.providers.base import Usage
from fusionsdk.providers.model import Completion

__all__ = ["PanelNode", "independent_answers"]

logger = logging.getLogger(__name__)


def independent_answers(
    asked: list[tuple[str, Completion]], *, dedupe: bool = True
) -> tuple[list[Completion], list[dict[str, Any]]]:
    """The answers that count as independent votes, and the duplicates left out.

    A direct answer always counts. A fallback's answer counts unless its deployment already
    answered in the panel (directly, or for an earlier member); with ``dedupe=False`` every
    answer counts and nothing is left out.

    Args:
        asked: (member name, its completion) in the panel's order.
        dedupe: Drop fallback answers from a deployment that already answered.

    Returns:
        The kept completions, in order, and one record per dropped answer.
    """
    if not dedupe:
        return [c for _, c in asked], []
    claimed = {c.deployment for _, c in asked if not c.fallback_from}
    kept: list[Completion] = []
    dropped: list[dict[str, Any]] = []
    for member, completion in asked:
        if completion.fallback_from and completion.deployment in claimed:
            dropped.append(
                {"model": member, "answered_by": completion.model, "deployment": completion.deployment}
            )
            continue
        claimed.add(completion.deployment)
        kept.append(completion)
    return kept, dropped


class PanelNode(Node["PanelNode.Options"]):
    """Fan the task out to ``models`` concurrently. A model that fails or exceeds ``timeout_s``
    is recorded in the trace and left out; the panel fails only when fewer than ``quorum``
    answers arrive. Before the fan-out, the budget is checked against an estimate (prompt tokens
    plus ``max_tokens`` per model, priced).

    Example:
        ``panel: {kind: panel, models: [smol, gemma], quorum: 1, timeout_s: 30}``
    """

    model_refs = ("models",)

    class Options(PromptOptions):
        """Panel options.

        Attributes:
            models: The models asked (at least one).
            prompt: Template with {task}, {answer}, {candidates}, {tool_results}.
            system: System prompt.
            quorum: Fewest answers the panel needs (default: 1).
            timeout_s: Per-model limit for this panel (the model's own timeout applies too).
            max_tokens: Output limit per model (also used for the budget estimate).
            temperature: Sampling temperature.
            dedupe_fallbacks: Count a fallback's answer once per deployment (default). False
                counts it again for every member it stood in for.
        """

        models: list[str] = Field(min_length=1)
        quorum: int = Field(1, ge=1)
        dedupe_fallbacks: bool = True
        timeout_s: float | None = Field(None, gt=0)
        max_tokens: int = Field(256, gt=0)  # always set: the budget estimate needs it

        @model_validator(mode="after")
        def _quorum_fits(self) -> PanelNode.Options:
            if self.quorum > len(self.models):
                raise ValueError(f"quorum {self.quorum} is more than the {len(self.models)} models")
            return self

    def _estimate(self, messages: list[dict[str, Any]]) -> tuple[float, int]:
        opts: PanelNode.Options = self.options
        text = "\n".join(m["content"] for m in messages)
        cost, tokens = 0.0, 0
        for name in opts.models:
            provider = self.context.model(name).provider
            prompt_tokens = provider.count_tokens(text)
            tokens += prompt_tokens + opts.max_tokens
            cost += provider.cost_usd(Usage(prompt_tokens, opts.max_tokens)) or 0.0
        return cost, tokens

    async def _ask(self, name: str, messages: list[dict[str, Any]], state: Mapping[str, Any]) -> Completion:
        opts: PanelNode.Options = self.options
        call = self.context.model(name).acomplete(
            messages, metadata=state.get("metadata") or {}, **opts.sampling()
        )
        if opts.timeout_s is None:
            return await call
        return await asyncio.wait_for(call, opts.timeout_s)

    async def run(self, state: Mapping[str, Any]) -> dict[str, Any]:
        opts: PanelNode.Options = self.options
        messages = opts.messages(state)
        budget = self.context.budget
        if budget.max_cost_usd is not None or budget.max_tokens is not None:
            cost, tokens = self._estimate(messages)
            self.context.check_budget(state, extra_cost=cost, extra_tokens=tokens)
        results = await asyncio.gather(
            *(self._ask(m, messages, state) for m in opts.models), return_exceptions=True
        )
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, FusionError | TimeoutError):
                raise r
        asked = [(m, r) for m, r in zip(opts.models, results, strict=True) if isinstance(r, Completion)]
        failures = [
            {"model": m, "error": self._failure_text(r)}
            for m, r in zip(opts.models, results, strict=True)
            if isinstance(r, BaseException)
        ]
        for failure in failures:
            logger.warning(
                "panel '%s': model '%s' left out: %s", self.name, failure["model"], failure["error"]
            )
        answers, dropped = independent_answers(asked, dedupe=opts.dedupe_fallbacks)
        if len(answers) < opts.quorum:
            detail = "; ".join(f"{f['model']}: {f['error']}" for f in failures)
            detail += "; " if detail and dropped else ""
            detail += "; ".join(
                f"{d['model']}: same answer as {d['answered_by']} (fallback)" for d in dropped
            )
            got = f"{len(answers)} independent answers" if dropped else f"{len(answers)} answers"
            raise GraphError(f"panel '{self.name}' got {got}, quorum is {opts.quorum} ({detail})")
        decision = self._decision(asked, answers, dropped, failures)
        return {**completion_update(self.name, answers), "decisions": [decision]}

    def _failure_text(self, error: BaseException) -> str:
        if isinstance(error, TimeoutError):
            return f"timeout after {self.options.timeout_s}s"
        return f"{type(error).__name__}: {error}"

    def _decision(
        self,
        asked: list[tuple[str, Completion]],
        answers: list[Completion],
        dropped: list[dict[str, Any]],
        failures: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """The panel's decision: who answered, who fell back to whom, what was left out, why."""
        fallbacks = [
            {
                "model": member,
                "answered_by": c.model,
                "fallback_from": c.fallback_from,
                "reason": c.fallback_reason,
            }
            for member, c in asked
            if c.fallback_from
        ]
        decision: dict[str, Any] = {
            "node": self.name,
            "type": "panel",
            "answered": [a.model for a in answers],
            "failed": failures,
        }
        notes: list[str] = []
        if fallbacks:
            decision["fallbacks"] = fallbacks
            notes.append(", ".join(f"{f['model']} fell back to {f['answered_by']}" for f in fallbacks))
        if dropped:
            decision["deduplicated"] = dropped
            notes.append(
                ", ".join(
                    f"{d['model']}'s answer dropped (already counted from {d['answered_by']})"
                    for d in dropped
                )
            )
        targets = {c.deployment for _, c in asked}
        if len(asked) > 1 and len(fallbacks) == len(asked) and len(targets) == 1:
            only = asked[0][1].model
            decision["all_fell_back_to"] = only
            counted = "counted once" if dropped else "counted as independent votes (dedupe_fallbacks: false)"
            notes.append(f"every member fell back to {only}: {len(asked)} answers of one model, {counted}")
            logger.warning(
                "panel '%s': every member fell back to '%s'; its %d answers are %s",
                self.name,
                only,
                len(asked),
                counted,
            )
        if notes:
            decision["reason"] = "; ".join(notes)
        return decision

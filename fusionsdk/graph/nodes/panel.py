"""``panel``: the same task to N models at once; keeps every answer that arrives."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from pydantic import Field, model_validator

from fusionsdk.errors import FusionError, GraphError
from fusionsdk.graph.base import Node
from fusionsdk.graph.nodes._common import PromptOptions, completion_update
from fusionsdk.providers.base import Usage
from fusionsdk.providers.model import Completion

__all__ = ["PanelNode"]


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
        """

        models: list[str] = Field(min_length=1)
        quorum: int = Field(1, ge=1)
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
        answers = [r for r in results if isinstance(r, Completion)]
        failures = [
            {
                "model": m,
                "error": f"{type(r).__name__}: {r}"
                if not isinstance(r, TimeoutError)
                else f"timeout after {opts.timeout_s}s",
            }
            for m, r in zip(opts.models, results, strict=True)
            if not isinstance(r, Completion)
        ]
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, FusionError | TimeoutError):
                raise r
        if len(answers) < opts.quorum:
            detail = "; ".join(f"{f['model']}: {f['error']}" for f in failures)
            raise GraphError(
                f"panel '{self.name}' got {len(answers)} answers, quorum is {opts.quorum} ({detail})"
            )
        update = completion_update(self.name, answers)
        decision = {
            "node": self.name,
            "type": "panel",
            "answered": [a.model for a in answers],
            "failed": failures,
        }
        return {**update, "decisions": [decision]}

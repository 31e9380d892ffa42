"""``cascade``: ask cheap models first and stop as soon as an answer is trusted (FrugalGPT,
AutoMix); escalate to the next, costlier model otherwise.

A router picks a target before any model runs; a cascade has to call models to judge their
answers, so it is a node kind: each step asks one model (``samples`` times), judges the answers
with the ``accept`` rule (:mod:`fusionsdk.routing.cascade`: agreement between the answers so
far, the answer's log-probability, or a verifier model) and either accepts or goes on. The
last model's answer stands when no earlier one was accepted. Every step is a ``cascade``
decision in the trace, and the model whose answer was accepted a ``route`` decision (so
``fusionsdk eval`` shows the share answered at each step). Sweeping ``accept.threshold``
traces a cost-quality curve.

Example::

    answer:
      kind: cascade
      models: [flash, deepseek, mini, gpt4o]    # cheapest first
      accept: {method: agreement, threshold: 0.75, min_answers: 2, answer: number}

Answers are read and compared by the answer type ``accept.answer`` (``extract`` is its older
name): equivalent answers (``1/2`` and ``0.5`` under ``math``) agree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from pydantic import Field, model_validator

from fusionsdk.answers import AnswerType
from fusionsdk.errors import BudgetExceeded, FusionError, GraphError
from fusionsdk.graph.base import Node
from fusionsdk.graph.nodes._common import PromptOptions, completion_update
from fusionsdk.providers.model import Completion
from fusionsdk.routing.cascade import (
    Acceptance,
    Verdict,
    agreement_verdict,
    leading_answer,
    logprob_confidence,
    verifier_confidence,
)

__all__ = ["CascadeNode"]


class CascadeNode(Node["CascadeNode.Options"]):
    """Try ``models`` cheapest first; accept the first answer the ``accept`` rule trusts
    (see the module docstring)."""

    model_refs = ("models", "accept.verifier")

    class Options(PromptOptions):
        """Cascade options.

        Attributes:
            models: The models, cheapest first; the last one's answer stands if none is accepted.
            accept: When an answer is trusted (:class:`~fusionsdk.routing.cascade.Acceptance`).
            prompt: Template with {task}, {answer}, {candidates}, {tool_results}.
            system: System prompt.
            max_tokens: Output limit per call.
            temperature: Sampling temperature (above 0 when ``accept.samples`` is above 1).
        """

        models: list[str] = Field(min_length=1)
        accept: Acceptance = Field(default_factory=Acceptance)

        @model_validator(mode="after")
        def _sampling(self) -> CascadeNode.Options:
            if self.accept.samples > 1 and not self.temperature:
                raise ValueError(
                    "accept.samples above 1 needs a temperature above 0 (else the samples agree)"
                )
            return self

    @property
    def answers(self) -> AnswerType[Any]:
        """The answer type of ``accept.answer`` (built once)."""
        built: AnswerType[Any] | None = getattr(self, "_answers", None)
        if built is None:
            built = self.options.accept.answer_type(self.registry, path="options.accept")
            self._answers = built
        return built

    async def _ask(
        self, model: str, messages: list[dict[str, Any]], state: Mapping[str, Any]
    ) -> list[Completion]:
        """The step's samples from ``model``; failed calls are left out."""
        opts: CascadeNode.Options = self.options
        params: dict[str, Any] = {"logprobs": opts.accept.method == "logprob"}
        params.update(opts.sampling())
        calls = [
            self.context.model(model).acomplete(messages, metadata=state.get("metadata") or {}, **params)
            for _ in range(opts.accept.samples)
        ]
        results = await asyncio.gather(*calls, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, FusionError):
                raise result
        return [r for r in results if isinstance(r, Completion)]

    async def _verify(self, state: Mapping[str, Any], answer: str) -> tuple[float, Completion | None]:
        opts: CascadeNode.Options = self.options
        assert opts.accept.verifier is not None
        prompt = opts.accept.verifier_prompt.replace("{task}", str(state.get("task", ""))).replace(
            "{answer}", answer
        )
        try:
            reply = await self.context.model(opts.accept.verifier).acomplete(
                prompt, metadata=state.get("metadata") or {}, max_tokens=8, temperature=0.0, logprobs=True
            )
        except FusionError:
            return 0.0, None
        first = reply.logprobs[0].logprob if reply.logprobs else None
        return verifier_confidence(reply.text, first), reply

    async def _judge(
        self, state: Mapping[str, Any], step: list[Completion], keys: list[str], texts: dict[str, str]
    ) -> tuple[Verdict, Completion | None]:
        """Judge the step's answers (with all the answers so far, for agreement)."""
        accept = self.options.accept
        if accept.method == "agreement":
            return agreement_verdict(keys, accept.threshold, accept.min_answers), None
        step_keys = keys[len(keys) - len(step) :]  # the step's answers, keyed as all the others
        answer, _ = leading_answer(step_keys)
        if accept.method == "logprob":
            scores = [
                logprob_confidence([t.logprob for t in c.logprobs or ()])
                for c, key in zip(step, step_keys, strict=True)
                if key == answer
            ]
            confidence, verifier = (sum(scores) / len(scores) if scores else 0.0), None
        else:
            confidence, verifier = await self._verify(state, texts.get(answer, "")) if answer else (0.0, None)
        verb = "accept" if answer and confidence >= accept.threshold else "escalate"
        reason = f"{accept.method} confidence {confidence:.3f} vs {accept.threshold:g}: {verb}"
        return Verdict(verb == "accept", answer, confidence, reason), verifier

    async def run(self, state: Mapping[str, Any]) -> dict[str, Any]:
        opts: CascadeNode.Options = self.options
        messages = opts.messages(state)
        answered: list[Completion] = []
        checks: list[Completion] = []
        keys: list[str] = []
        texts: dict[str, tuple[str, str]] = {}  # answer key -> (text, model) of its first answer
        decisions: list[dict[str, Any]] = []
        chosen: tuple[str, str] | None = None
        for index, model in enumerate(opts.models):
            if index and self._over_budget(state, answered + checks):
                decisions.append(
                    self._record(index, model, "", 0.0, False, "budget reached: stop escalating")
                )
                break
            step = await self._ask(model, messages, state)
            answered += step
            # Every answer so far, equivalent ones sharing the key of the first of them.
            keys = self.answers.vote_keys([c.text for c in answered])
            step_keys = keys[len(keys) - len(step) :]
            for key, completion in zip(step_keys, step, strict=True):
                texts.setdefault(key, (completion.text, completion.model))
            verdict, check = await self._judge(state, step, keys, {k: t for k, (t, _) in texts.items()})
            checks += [check] if check is not None else []
            last = index == len(opts.models) - 1
            reason = verdict.reason if step else f"'{model}' failed: escalate"
            if last and step and not verdict.accept:
                reason += "; the last model's answer stands"
            accepted = bool(step) and (verdict.accept or last)
            decisions.append(self._record(index, model, verdict.answer, verdict.confidence, accepted, reason))
            if accepted:
                key = verdict.answer if verdict.accept else leading_answer(step_keys)[0]
                chosen = next(
                    ((c.text, c.model) for c, k in zip(step, step_keys, strict=True) if k == key),
                    texts.get(key, (step[0].text, step[0].model)),
                )
                break
        if chosen is None:  # the last model failed, or the budget ran out: the best answer so far
            best, _ = leading_answer(keys)
            if not best:
                raise GraphError(f"cascade '{self.name}': no model answered")
            chosen = texts[best]
        decisions.append(
            {
                "node": self.name,
                "type": "route",
                "target": chosen[1],
                "reason": f"cascade accepted the answer of '{chosen[1]}'",
            }
        )
        return self._update(answered, checks, chosen[0], decisions)

    def _over_budget(self, state: Mapping[str, Any], spent: list[Completion]) -> bool:
        try:
            self.context.check_budget(
                state,
                extra_cost=sum(c.cost_usd or 0.0 for c in spent),
                extra_tokens=sum(c.usage.total_tokens for c in spent),
            )
        except BudgetExceeded:
            return True
        return False

    def _record(
        self, step: int, model: str, answer: str, confidence: float, accepted: bool, reason: str
    ) -> dict[str, Any]:
        return {
            "node": self.name,
            "type": "cascade",
            "step": step,
            "model": model,
            "answer": answer,
            "confidence": round(confidence, 6),
            "accepted": accepted,
            "reason": reason,
        }

    def _update(
        self, answered: list[Completion], checks: list[Completion], text: str, decisions: list[dict[str, Any]]
    ) -> dict[str, Any]:
        update = completion_update(self.name, answered)
        verifier = completion_update(self.name, checks)  # paid for, but not answers to the task
        for key, value in verifier["usage"].items():
            update["usage"][key] += value
        return {
            **update,
            "cost_usd": update["cost_usd"] + verifier["cost_usd"],
            "answer": text,
            "decisions": decisions,
            "messages": [{"role": "assistant", "content": text, "name": decisions[-1]["target"]}],
        }

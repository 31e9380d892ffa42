"""``judge``: accept the majority when the candidates agree enough; otherwise a judge model
picks the best answer against a rubric."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from pydantic import Field

from fusionsdk.answers import Extract, normalize_answer
from fusionsdk.arbiters.base import Arbiter, Conflict
from fusionsdk.errors import FusionError
from fusionsdk.fusion.base import Candidate, FusionContext, FusionResult
from fusionsdk.plugin import PluginOptions

__all__ = ["JudgeArbiter"]

_PROMPT = """You are judging answers to a task. {rubric}

Task:
{task}

{answers}

Reply with the number of the best answer only, like: 2"""


class JudgeArbiter(Arbiter["JudgeArbiter.Options"]):
    """Detect conflict by agreement rate; resolve it with a judge model.

    With agreement at or above ``threshold`` the majority answer stands and no model is called;
    below it, the ``judge`` model reads the numbered answers and names the best. A reply without
    a valid number falls back to the majority, and the reason says so.
    """

    class Options(PluginOptions):
        """Judge options.

        Attributes:
            judge: The model that judges (a name from the config's models).
            threshold: Agreement (0..1) at which no judge is needed.
            extract: How answers are compared: ``text`` or ``number``.
            rubric: What makes an answer best.
        """

        judge: str | None = None
        threshold: float = Field(0.67, ge=0, le=1)
        extract: Extract = "text"
        rubric: str = "The best answer is correct, complete and directly answers the task."

    def detect(self, candidates: Sequence[Candidate]) -> Conflict:
        if not candidates:
            raise FusionError("judge needs at least one candidate")
        opts: JudgeArbiter.Options = self.options
        counts = Counter(normalize_answer(c.text, opts.extract) for c in candidates)
        agreement = counts.most_common(1)[0][1] / len(candidates)
        return Conflict(agreement=agreement, conflicted=agreement < opts.threshold)

    def _majority(self, candidates: Sequence[Candidate]) -> Candidate:
        opts: JudgeArbiter.Options = self.options
        keys = [normalize_answer(c.text, opts.extract) for c in candidates]
        best = Counter(keys).most_common(1)[0][0]
        return candidates[keys.index(best)]

    async def resolve(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        opts: JudgeArbiter.Options = self.options
        conflict = self.detect(candidates)
        majority = self._majority(candidates)
        if not conflict.conflicted or opts.judge is None:
            why = "agreement" if not conflict.conflicted else "no judge configured"
            return FusionResult(
                majority.text,
                majority.model,
                {"agreement": conflict.agreement},
                f"{why} {conflict.agreement:.0%}: majority answer kept",
            )
        if context is None or opts.judge not in context.models:
            raise FusionError(f"judge model '{opts.judge}' is not among the graph's models")
        answers = "\n\n".join(f"Answer {i + 1}:\n{c.text}" for i, c in enumerate(candidates))
        reply = await context.models[opts.judge].acomplete(
            _PROMPT.format(rubric=opts.rubric, task=task, answers=answers),
            metadata=dict(context.metadata),
            max_tokens=8,
            temperature=0,
        )
        match = re.search(r"\d+", reply.text)
        choice = int(match.group()) - 1 if match else -1
        if not 0 <= choice < len(candidates):
            return FusionResult(
                majority.text,
                majority.model,
                {"agreement": conflict.agreement},
                f"judge reply {reply.text.strip()[:40]!r} named no answer: majority kept",
                usage=reply.usage.as_dict(),
                cost_usd=reply.cost_usd or 0.0,
            )
        winner = candidates[choice]
        return FusionResult(
            winner.text,
            winner.model,
            {"agreement": conflict.agreement},
            f"agreement {conflict.agreement:.0%} under {opts.threshold:.0%}: "
            f"judge {opts.judge} chose answer {choice + 1}",
            usage=reply.usage.as_dict(),
            cost_usd=reply.cost_usd or 0.0,
        )

"""``ladder``: an escalation ladder of arbiters, cheapest first, each step only when needed.

The majority vote comes first and costs nothing. Then each step runs only while the agreement
is still under the step's ``when_agreement_below`` and the budget (the ladder's
``max_cost_usd``/``max_tokens`` and the graph budget) is not spent. A step that produces new
answers (a debate) reports the agreement it reached, which the next steps see; a step that only
picks one (a judge) leaves the agreement as it was. The last step that ran decides. Every step,
run or skipped, is recorded in ``details["steps"]`` and lands in the trace.

Example:
    .. code-block:: yaml

        settle:
          kind: arbitrate
          arbiter: ladder
          options:
            steps:
              - {arbiter: judge, options: {judge: gemma}, when_agreement_below: 0.67}
              - {arbiter: debate, options: {rounds: 2}, when_agreement_below: 0.5}
            max_cost_usd: 0.05
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from fusionsdk.arbiters.base import Arbiter
from fusionsdk.arbiters.conflict import ConflictArbiter, ConflictMeasureOptions
from fusionsdk.errors import BudgetExceeded, ConfigError, FusionError
from fusionsdk.fusion.base import Candidate, FusionContext, FusionResult
from fusionsdk.fusion.spending import SpendTally
from fusionsdk.plugin import PluginOptions
from fusionsdk.registry import PluginKind, Registry

__all__ = ["EscalationLadder", "LadderStep"]


class LadderStep(PluginOptions):
    """One rung of the ladder.

    Attributes:
        arbiter: A ``fusionsdk.arbiters`` plugin name.
        options: Its options. When it has a ``threshold`` option and none is given here, the
            threshold is ``when_agreement_below``, so the arbiter acts whenever the step runs.
        when_agreement_below: Run the step only while the agreement is under this (0..1).
    """

    arbiter: str = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)
    when_agreement_below: float = Field(1.0, ge=0, le=1)


def build_step(index: int, step: LadderStep, registry: Registry) -> Arbiter[Any]:
    """The arbiter of step ``index``, from ``registry``; errors name their path
    (``options.steps[1].options``)."""
    path = f"options.steps[{index}]"
    arbiter_cls = registry.plugin_class(PluginKind.ARBITERS, step.arbiter, path=f"{path}.arbiter")
    raw = dict(step.options)
    if "threshold" in arbiter_cls.Options.model_fields and "threshold" not in raw:
        raw["threshold"] = step.when_agreement_below
    arbiter: Arbiter[Any] = registry.build(PluginKind.ARBITERS, step.arbiter, raw, path=f"{path}.options")
    return arbiter


class EscalationLadder(ConflictArbiter["EscalationLadder.Options"]):
    """Majority first, then each step in turn while agreement is under its
    ``when_agreement_below`` and the budget allows; the last step that ran decides. Steps
    that fail are recorded and the ladder goes on. Usage and cost of all steps are summed.

    Example:
        ``settle: {kind: arbitrate, arbiter: ladder, options: {steps: [{arbiter: confidence}]}}``
    """

    label = "ladder"
    deterministic = False  # its steps may call models

    class Options(ConflictMeasureOptions):
        """Options of ladder (and the shared conflict measure options).

        Attributes:
            steps: The rungs, cheapest first.
            max_cost_usd: Start no step once the ladder has spent this much.
            max_tokens: Start no step once the ladder has spent this many tokens.
        """

        steps: list[LadderStep] = Field(min_length=1)
        max_cost_usd: float | None = Field(None, ge=0)
        max_tokens: int | None = Field(None, ge=0)

    def __init__(self, options: Any = None, *, registry: Registry | None = None) -> None:
        super().__init__(options, registry=registry)
        self._steps = [build_step(i, step, self.registry) for i, step in enumerate(self.options.steps)]

    def conflict_threshold(self) -> float:
        opts: EscalationLadder.Options = self.options
        return max(step.when_agreement_below for step in opts.steps)

    def referenced_models(self) -> dict[str, str]:
        return {
            f"steps[{i}].options.{path}": model
            for i, arbiter in enumerate(self._steps)
            for path, model in arbiter.referenced_models().items()
        }

    def _budget_spent(self, tally: SpendTally, context: FusionContext | None) -> str | None:
        """Why no further step may start, or None."""
        opts: EscalationLadder.Options = self.options
        if opts.max_cost_usd is not None and tally.cost_usd >= opts.max_cost_usd:
            return f"ladder max_cost_usd {opts.max_cost_usd:g} spent ({tally.cost_usd:.6g})"
        if opts.max_tokens is not None and tally.tokens >= opts.max_tokens:
            return f"ladder max_tokens {opts.max_tokens} spent ({tally.tokens})"
        if context is not None and context.check_budget is not None:
            try:
                context.check_budget(tally.cost_usd, tally.tokens)
            except BudgetExceeded as err:
                return str(err)
        return None

    async def resolve(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        opts: EscalationLadder.Options = self.options
        conflict = self.detect(candidates)
        current = await self.majority(candidates)
        agreement = conflict.agreement
        records: list[dict[str, Any]] = [
            {"step": 0, "arbiter": "majority_vote", "status": "ran", "agreement": agreement,
             "winner": current.winner, "reason": current.reason}
        ]  # fmt: skip
        tally = SpendTally()
        decided_by: str | None = None
        for index, (step, arbiter) in enumerate(zip(opts.steps, self._steps, strict=True), start=1):
            record: dict[str, Any] = {
                "step": index,
                "arbiter": step.arbiter,
                "when_agreement_below": step.when_agreement_below,
                "agreement": agreement,
            }
            records.append(record)
            if agreement >= step.when_agreement_below:
                why = f"agreement {agreement:.0%} is not under {step.when_agreement_below:.0%}"
                record.update(status="skipped", reason=why)
                continue
            spent = self._budget_spent(tally, context)
            if spent:
                record.update(status="skipped", reason=f"budget: {spent}")
                continue
            try:
                result = await arbiter.resolve(task, candidates, context)
            except ConfigError:
                raise
            except FusionError as err:
                record.update(status="failed", reason=f"{type(err).__name__}: {err}")
                continue
            tally.add(result.usage, result.cost_usd)
            reached = result.details.get("agreement")
            agreement = float(reached) if isinstance(reached, int | float) else agreement
            record.update(
                status="ran",
                reason=result.reason,
                winner=result.winner,
                agreement_after=agreement,
                cost_usd=result.cost_usd,
                tokens=int(result.usage.get("total_tokens", 0)),
            )
            details = {k: v for k, v in result.details.items() if k != "agreement"}
            if details:
                record["details"] = details
            current, decided_by = result, f"step {index} ({step.arbiter})"
        ran = sum(1 for r in records[1:] if r["status"] == "ran")
        reason = (
            f"settled by {decided_by} after {ran} of {len(opts.steps)} steps: {current.reason}"
            if decided_by
            else f"agreement {conflict.agreement:.0%}: majority kept, no step ran"
        )
        return FusionResult(
            current.text,
            current.winner,
            current.scores,
            reason,
            usage=tally.usage,
            cost_usd=tally.cost_usd,
            details={"steps": records, "agreement": agreement},
        )

"""The fusion-strategy contract (plugins of ``fusionsdk.fusers``).

A fuser turns the candidate answers of a panel into one answer. It receives the task and the
:class:`Candidate` list and returns a :class:`FusionResult` that says which text won and why.
Fusers that need models (judges, aggregators) find them in :class:`FusionContext`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from fusionsdk.plugin import OptionsT, PluginBase

if TYPE_CHECKING:
    from fusionsdk.providers.base import TokenLogprob
    from fusionsdk.providers.model import Model

__all__ = ["MODEL_OPTIONS", "Candidate", "Fuser", "FusionContext", "FusionResult"]


@dataclass(frozen=True)
class Candidate:
    """One model's answer to the task.

    Attributes:
        model: Name of the model that answered.
        text: Its answer.
        weight: Trust in this model (1.0 by default; learned by weighted strategies).
        logprobs: Token log-probabilities, when the backend gave them.
        cost_usd: What the answer cost.
    """

    model: str
    text: str
    weight: float = 1.0
    logprobs: tuple[TokenLogprob, ...] | None = None
    cost_usd: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FusionResult:
    """The fused answer.

    Attributes:
        text: The answer.
        winner: The model whose answer was chosen, if one was.
        scores: Score per model (votes, weights, ratings).
        reason: One line on why, for the trace.
        usage: Tokens the strategy itself spent (judges, aggregators).
        cost_usd: What the strategy itself spent.
        details: JSON-ready particulars for the trace (debate rounds, ladder steps, the agreement
            after resolution as ``details["agreement"]``); empty by default.
    """

    text: str
    winner: str | None = None
    scores: Mapping[str, float] = field(default_factory=dict)
    reason: str = ""
    usage: Mapping[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FusionContext:
    """What a fuser may use beyond the candidates.

    Attributes:
        models: The graph's models, by name (judges, aggregators, stronger models).
        emit: Streams text of the fused answer as it is produced (a synthesizer's tokens, a
            vote's winner once decided); a no-op outside a streaming run.
        metadata: The run's metadata (row id, sensitivity).
        check_budget: Raises :class:`~fusionsdk.errors.BudgetExceeded` when the run's spending
            so far plus ``(cost_usd, tokens)`` is over the graph budget; None outside a graph.
        discard: Says that the text emitted so far is void (a streaming model failed midway and
            the answer restarts on its fallback); a no-op outside a streaming run.
    """

    models: Mapping[str, Model] = field(default_factory=dict)
    emit: Callable[[str], None] = field(default=lambda text: None)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    check_budget: Callable[[float, int], None] | None = None
    discard: Callable[[], None] = field(default=lambda: None)


#: Option names that hold graph model names, as a string or a list of strings: the
#: :attr:`~fusionsdk.plugin.PluginBase.model_refs` of fusers and arbiters (the ``fuse`` and
#: ``arbitrate`` nodes check them against the config's models when the graph compiles).
MODEL_OPTIONS = ("judge", "model", "aggregator", "proposers", "models")


class Fuser(PluginBase[OptionsT], ABC):
    """Base class of fusion strategies.

    Attributes:
        model_refs: The options that name graph models (:data:`MODEL_OPTIONS`; a missing
            one is skipped).
        deterministic: Whether the same candidates always give the same result (the
            conformance kit checks it when True).
        needs_candidates: Whether the strategy fuses earlier nodes' answers, so the fuse node
            requires candidates; False for strategies that generate the answer themselves.
    """

    deterministic: ClassVar[bool] = True
    model_refs: ClassVar[tuple[str, ...]] = MODEL_OPTIONS
    needs_candidates: ClassVar[bool] = True

    @abstractmethod
    async def fuse(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        """Fuse ``candidates`` into one answer.

        Raises:
            FusionError: No candidates, or the strategy could not decide.
        """

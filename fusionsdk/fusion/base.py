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

from fusionsdk.plugin import PluginBase

if TYPE_CHECKING:
    from fusionsdk.providers.base import TokenLogprob
    from fusionsdk.providers.model import Model

__all__ = ["Candidate", "Fuser", "FusionContext", "FusionResult"]


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
    """

    text: str
    winner: str | None = None
    scores: Mapping[str, float] = field(default_factory=dict)
    reason: str = ""
    usage: Mapping[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0


@dataclass(frozen=True)
class FusionContext:
    """What a fuser may use beyond the candidates.

    Attributes:
        models: The graph's models, by name (judges, aggregators, stronger models).
        emit: Streams text of the fused answer as it is produced (a synthesizer's tokens, a
            vote's winner once decided); a no-op outside a streaming run.
        metadata: The run's metadata (row id, sensitivity).
    """

    models: Mapping[str, Model] = field(default_factory=dict)
    emit: Callable[[str], None] = field(default=lambda text: None)
    metadata: Mapping[str, Any] = field(default_factory=dict)


class Fuser(PluginBase, ABC):
    """Base class of fusion strategies.

    Attributes:
        deterministic: Whether the same candidates always give the same result (the
            conformance kit checks it when True).
    """

    deterministic: ClassVar[bool] = True

    @abstractmethod
    async def fuse(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        """Fuse ``candidates`` into one answer.

        Raises:
            FusionError: No candidates, or the strategy could not decide.
        """

"""The arbiter contract (plugins of ``fusionsdk.arbiters``).

An arbiter looks at candidates that may disagree, measures the conflict, and resolves it (by
confidence, a judge model, debate, escalation or a human). It returns a
:class:`~fusionsdk.fusion.base.FusionResult`, so fusers and arbiters are interchangeable at the
end of a graph.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from fusionsdk.fusion.base import MODEL_OPTIONS, Candidate, FusionContext, FusionResult
from fusionsdk.plugin import OptionsT, PluginBase

__all__ = ["Arbiter", "Conflict"]


@dataclass(frozen=True)
class Conflict:
    """How much the candidates disagree.

    Attributes:
        agreement: Share of candidates that agree with the most common answer (0..1).
        conflicted: Whether the arbiter considers this a conflict to resolve.
        entropy: Normalised Shannon entropy of the answer clusters (0: all agree, 1: all
            differ), when the arbiter measures it.
        dispersion: Mean pairwise cosine distance of the answers' embeddings (0..2), when the
            arbiter has an embedder.
    """

    agreement: float
    conflicted: bool
    entropy: float | None = None
    dispersion: float | None = None


class Arbiter(PluginBase[OptionsT], ABC):
    """Base class of arbiters.

    Attributes:
        model_refs: The options that name graph models (:data:`MODEL_OPTIONS`; a missing
            one is skipped).
        deterministic: Whether :meth:`resolve` always gives the same result for the same
            candidates (the conformance kit checks it when True). :meth:`detect` always must.
    """

    deterministic: ClassVar[bool] = True
    model_refs: ClassVar[tuple[str, ...]] = MODEL_OPTIONS

    @abstractmethod
    def detect(self, candidates: Sequence[Candidate]) -> Conflict:
        """Measure disagreement among ``candidates``."""

    @abstractmethod
    async def resolve(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        """Choose or produce the answer."""

"""Conflict detection shared by the arbiters: how much do the candidates disagree?

Three measures, each in a :class:`~fusionsdk.arbiters.base.Conflict`:

* agreement rate: the share of candidates that give the most common answer, as the answer type
  (``answer:``, default ``text``) reads and compares them: equivalent answers agree;
* answer entropy: the Shannon entropy of the answer clusters, divided by its maximum
  ``log(n)`` for ``n`` candidates (0: all agree, 1: all differ);
* embedding dispersion: the mean pairwise cosine distance of the answers' embeddings (0..2),
  when an embedder is given; it sees disagreement in free text that never matches exactly.

:class:`ConflictArbiter` is the base of the arbiters that detect conflict this way: a conflict
is agreement under ``threshold`` (or dispersion over ``max_dispersion``, when set).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
from pydantic import Field

from fusionsdk.answers import AnswerOptions, AnswerType, Extract, build_answer_type
from fusionsdk.arbiters.base import Arbiter, Conflict
from fusionsdk.errors import FusionError
from fusionsdk.fusion.base import Candidate, FusionResult
from fusionsdk.fusion.majority_vote import MajorityVote
from fusionsdk.fusion.similarity import embedding_similarities, load_embedder

if TYPE_CHECKING:
    from fusionsdk.memory.base import Embedder
    from fusionsdk.registry import Registry

__all__ = [
    "ConflictArbiter",
    "ConflictMeasureOptions",
    "ConflictOptions",
    "agreement_rate",
    "answer_entropy",
    "embedding_dispersion",
    "measure_conflict",
]


def agreement_rate(keys: Sequence[str]) -> float:
    """Share of the answers equal to the most common one (1.0 for no answers)."""
    if not keys:
        return 1.0
    return Counter(keys).most_common(1)[0][1] / len(keys)


def answer_entropy(keys: Sequence[str]) -> float:
    """Shannon entropy of the answer clusters over its maximum, ``log(len(keys))``: 0..1.

    Example:
        >>> answer_entropy(["paris", "paris", "lyon", "nice"])
        0.75
    """
    if len(keys) < 2:
        return 0.0
    total = len(keys)
    entropy = -sum(n / total * math.log(n / total) for n in Counter(keys).values())
    return min(1.0, max(0.0, entropy / math.log(total)))


def embedding_dispersion(texts: Sequence[str], embedder: Embedder) -> float:
    """Mean pairwise cosine distance (``1 - cosine``) of the texts' embeddings: 0..2."""
    if len(texts) < 2:
        return 0.0
    similarity = embedding_similarities(texts, embedder)
    upper = similarity[np.triu_indices(len(texts), k=1)]
    return float(np.mean(1.0 - upper))


def measure_conflict(
    candidates: Sequence[Candidate],
    *,
    extract: Extract | str | AnswerType[Any] = "text",
    threshold: float = 0.67,
    embedder: Embedder | None = None,
    max_dispersion: float | None = None,
) -> Conflict:
    """Agreement, entropy and (with an embedder) dispersion of ``candidates``.

    Args:
        candidates: The answers.
        extract: The answer type that reads and compares answers, or its name (equivalent
            answers agree: see :meth:`~fusionsdk.answers.AnswerType.vote_keys`).
        threshold: Agreement under which the answers are in conflict.
        embedder: Measures dispersion when given.
        max_dispersion: Dispersion over which the answers are in conflict too.
    """
    answers = extract if isinstance(extract, AnswerType) else build_answer_type(extract)
    keys = answers.vote_keys([c.text for c in candidates])
    agreement = agreement_rate(keys)
    dispersion = embedding_dispersion([c.text for c in candidates], embedder) if embedder else None
    conflicted = agreement < threshold or (
        max_dispersion is not None and dispersion is not None and dispersion > max_dispersion
    )
    return Conflict(agreement, conflicted, entropy=answer_entropy(keys), dispersion=dispersion)


class ConflictMeasureOptions(AnswerOptions):
    """How an arbiter compares answers.

    Attributes:
        answer: The ``fusionsdk.answers`` type that reads and compares answers (``text``,
            ``number``, ``choice``, ``math``, ...); equivalent answers agree.
        answer_options: Its options.
        extract: The older name of ``answer``, still accepted.
        embedder: A ``fusionsdk.embedders`` plugin to measure dispersion with (none: no
            dispersion).
        embedder_options: The embedder's own options.
        max_dispersion: Dispersion over which the answers are in conflict even when they agree
            (needs ``embedder``).
    """

    embedder: str | None = None
    embedder_options: dict[str, Any] = Field(default_factory=dict)
    max_dispersion: float | None = Field(None, ge=0, le=2)


class ConflictOptions(ConflictMeasureOptions):
    """Conflict detection options with an agreement threshold.

    Attributes:
        threshold: Agreement (0..1) at or above which the majority answer stands.
    """

    threshold: float = Field(0.67, ge=0, le=1)


#: The options type of a conflict arbiter (derived from :class:`ConflictMeasureOptions`).
ConflictOptionsT = TypeVar("ConflictOptionsT", bound=ConflictMeasureOptions)


class ConflictArbiter(Arbiter[ConflictOptionsT]):
    """Base of arbiters that detect conflict with :func:`measure_conflict` and fall back on the
    majority vote. Subclasses give ``Options`` derived from :class:`ConflictOptions` and
    implement ``resolve``.

    Attributes:
        label: The arbiter's name in messages (its entry-point name).
    """

    Options = ConflictOptions
    label: ClassVar[str] = "arbiter"

    def __init__(self, options: Any = None, *, registry: Registry | None = None) -> None:
        super().__init__(options, registry=registry)
        opts: ConflictMeasureOptions = self.options
        self._embedder = (
            load_embedder(opts.embedder, opts.embedder_options, registry=self.registry)
            if opts.embedder is not None
            else None
        )
        self.answers: AnswerType[Any] = opts.answer_type(self.registry)
        self._majority_vote = MajorityVote(
            {"answer": opts.answer or "text", "answer_options": opts.answer_options}, registry=self.registry
        )

    def answer_keys(self, texts: Sequence[str]) -> list[str]:
        """The keys ``texts`` vote with under this arbiter's answer type (equivalent answers
        share one)."""
        return self.answers.vote_keys(texts)

    def conflict_threshold(self) -> float:
        """Agreement under which the candidates are in conflict."""
        return float(getattr(self.options, "threshold", 0.67))

    def detect(self, candidates: Sequence[Candidate]) -> Conflict:
        if not candidates:
            raise FusionError(f"{self.label} needs at least one candidate")
        opts: ConflictMeasureOptions = self.options
        return measure_conflict(
            candidates,
            extract=self.answers,
            threshold=self.conflict_threshold(),
            embedder=self._embedder,
            max_dispersion=opts.max_dispersion,
        )

    async def majority(self, candidates: Sequence[Candidate]) -> FusionResult:
        """The ``majority_vote`` over the candidates (weights count)."""
        return await self._majority_vote.fuse("", candidates)

    async def kept_majority(self, candidates: Sequence[Candidate], conflict: Conflict) -> FusionResult:
        """The majority answer with a reason saying there was no conflict to resolve."""
        majority = await self.majority(candidates)
        return FusionResult(
            majority.text,
            majority.winner,
            majority.scores,
            f"agreement {conflict.agreement:.0%}: no conflict, majority answer kept",
            details={"agreement": conflict.agreement},
        )

"""``consensus``: for free text, the answer closest to all the others (the medoid).

Answers that cannot be voted on (summaries, explanations, code) rarely match word for word, but
the one most similar to the rest is the one that says what most of them say. Similarity is the
cosine of embeddings when ``embedder`` names a ``fusionsdk.embedders`` plugin, and a lexical
measure that needs no model otherwise. With ``answer:`` (an answer type), candidates whose
answers are equivalent are one point, weighing what they weigh together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import Field

from fusionsdk.answers import AnswerOptions, AnswerType
from fusionsdk.errors import FusionError
from fusionsdk.fusion.base import Candidate, Fuser, FusionContext, FusionResult
from fusionsdk.fusion.similarity import Lexical, embedding_similarities, lexical_similarities, load_embedder
from fusionsdk.registry import Registry

__all__ = ["MedoidConsensus"]


class MedoidConsensus(Fuser["MedoidConsensus.Options"]):
    """Pick the weighted medoid: the answer with the highest mean similarity to all the
    candidates' answers, itself included, each weighted by its candidate's weight.

    Identical answers are compared once and count as many times as they were given, so an
    answer repeated (or given by trusted models) pulls harder. Ties go to the heavier answer,
    then to the one seen first. Scores are each model's weighted mean similarity.

    Example:
        ``fuse: {kind: fuse, strategy: consensus, options: {embedder: fake}}``
    """

    class Options(AnswerOptions):
        """Options of consensus.

        Attributes:
            answer: A ``fusionsdk.answers`` type; when given, candidates with equivalent
                answers count as one answer (None: only identical texts do).
            answer_options: Its options.
            embedder: A ``fusionsdk.embedders`` plugin; None uses ``lexical``.
            embedder_options: The embedder's own options.
            lexical: ``char_ngrams`` (cosine of character n-gram counts) or ``word_jaccard``.
            ngram: Character n-gram length for ``char_ngrams``.
        """

        embedder: str | None = None
        embedder_options: dict[str, Any] = Field(default_factory=dict)
        lexical: Lexical = "char_ngrams"
        ngram: int = Field(3, ge=1, le=8)

    def __init__(self, options: Any = None, *, registry: Registry | None = None) -> None:
        super().__init__(options, registry=registry)
        opts: MedoidConsensus.Options = self.options
        self._embedder = (
            load_embedder(opts.embedder, opts.embedder_options, registry=self.registry)
            if opts.embedder is not None
            else None
        )
        self.answers: AnswerType[Any] | None = (
            opts.answer_type(self.registry) if opts.answer is not None else None
        )

    def _similarities(self, texts: Sequence[str]) -> np.ndarray:
        opts: MedoidConsensus.Options = self.options
        if self._embedder is not None:
            return embedding_similarities(texts, self._embedder)
        return lexical_similarities(texts, opts.lexical, opts.ngram)

    async def fuse(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        if not candidates:
            raise FusionError("consensus needs at least one candidate")
        # One point per distinct answer: identical texts, or equivalent answers with ``answer``.
        keys = self.answers.vote_keys([c.text for c in candidates]) if self.answers else None
        group = keys or [c.text for c in candidates]
        text_of = {key: c.text for key, c in reversed(list(zip(group, candidates, strict=True)))}
        points = list(dict.fromkeys(group))
        texts = [text_of[key] for key in points]
        index = {key: i for i, key in enumerate(points)}
        mass = np.zeros(len(texts))
        for key, candidate in zip(group, candidates, strict=True):
            mass[index[key]] += candidate.weight
        # The weighted medoid: each answer's similarity to every candidate, itself included,
        # each counted with its weight (so repeated and trusted answers pull harder).
        total = mass.sum()
        closeness = self._similarities(texts) @ mass / (total if total > 0 else 1.0)
        best = max(range(len(texts)), key=lambda i: (round(float(closeness[i]), 12), mass[i], -i))
        winner = next(c for key, c in zip(group, candidates, strict=True) if index[key] == best)
        how = f"embedder {self.options.embedder}" if self._embedder else self.options.lexical
        return FusionResult(
            text=winner.text,
            winner=winner.model,
            scores={c.model: float(closeness[index[k]]) for k, c in zip(group, candidates, strict=True)},
            reason=f"medoid of {len(texts)} distinct answers by {how}: "
            f"weighted mean similarity {float(closeness[best]):.2f} to all answers",
        )

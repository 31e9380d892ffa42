"""``fusionsdk eval --explain N``: for a few rows, what each model replied, the answer the
scorer read in it and the verdict, so a misread task shows at once.

Example:
    >>> from fusionsdk.eval.harness import RowResult
    >>> from fusionsdk.eval.scorers import NumericScorer
    >>> from fusionsdk.providers.replay import ReplayRow
    >>> row = ReplayRow("q1", "How many?", "18", {"gpt": '{"answer": "18"}'})
    >>> result = RowResult("q1", '{"answer": "18"}', 1.0, 0.0, 0, 0.0, model_scores={"gpt": 1.0},
    ...                    model_answers={"gpt": '{"answer": "18"}'})
    >>> [line.answer for line in explain_rows([result], [row], NumericScorer(), 1)[0].lines]
    ['18', '18']
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from fusionsdk.eval.base import Scorer
from fusionsdk.eval.harness import RowResult
from fusionsdk.providers.replay import ReplayRow

__all__ = ["ExplainedLine", "ExplainedRow", "explain_rows", "read_answer"]


@dataclass(frozen=True)
class ExplainedLine:
    """One reply: who gave it (``graph`` for the graph's final answer), its tail, the answer
    read in it (None: none was read) and its score."""

    source: str
    tail: str
    answer: str | None
    score: float


@dataclass(frozen=True)
class ExplainedRow:
    """One row: its id, the reference, the answer read in the reference, and every reply."""

    id: str
    reference: str
    reference_answer: str | None
    lines: list[ExplainedLine] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The row as plain data (for ``--json``)."""
        return asdict(self)


def read_answer(scorer: Scorer, text: str) -> str | None:
    """The answer ``scorer`` reads in ``text``: through its answer type when it has one
    (``explain``), else the stripped text itself."""
    explain = getattr(scorer, "explain", None)
    if callable(explain):
        found = explain(text)
        return found if isinstance(found, str) or found is None else str(found)
    return text.strip() or None


def _tail(text: str, chars: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else "..." + text[-chars:]


def explain_rows(
    results: Sequence[RowResult],
    rows: Sequence[ReplayRow],
    scorer: Scorer,
    n: int,
    *,
    seed: int = 0,
    tail_chars: int = 160,
) -> list[ExplainedRow]:
    """Explain ``n`` rows of an evaluation, sampled with ``seed`` (all of them when fewer).

    Args:
        results: The evaluation's per-row results (:attr:`EvalReport.rows`).
        rows: The dataset rows, for the references.
        scorer: The scorer the evaluation used.
        n: How many rows.
        seed: Seed of the sample.
        tail_chars: How much of the end of each reply to show.
    """
    references = {row.id: row.answer for row in rows}
    chosen = [r for r in results if r.id in references]
    if n < len(chosen):
        picked = set(random.Random(seed).sample(range(len(chosen)), n))
        chosen = [r for i, r in enumerate(chosen) if i in picked]
    explained = []
    for result in chosen:
        reference = references[result.id]
        lines = [
            ExplainedLine(
                "graph", _tail(result.answer, tail_chars), read_answer(scorer, result.answer), result.score
            )
        ]
        for model, text in sorted(result.model_answers.items()):
            score = result.model_scores.get(model)
            if score is None:
                score = scorer.score(text, reference)
            lines.append(ExplainedLine(model, _tail(text, tail_chars), read_answer(scorer, text), score))
        explained.append(ExplainedRow(result.id, reference, read_answer(scorer, reference), lines))
    return explained

"""Per-question answers and correctness of a panel's models: what vote weights are learned from.

A :class:`VoteTable` holds, for every question, each model's answer key (the vote key of an
answer type, :meth:`~fusionsdk.answers.AnswerType.vote_keys`), whether it was right, and
what it cost. It simulates ``weighted_vote`` (or any weighted plurality) on all questions in
memory, which makes fitting weights and searching panels fast. Build it from an evaluation
report (:meth:`VoteTable.from_report`) or from replay rows and a scorer
(:meth:`VoteTable.from_replay`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fusionsdk.answers import AnswerType, build_answer_type
from fusionsdk.errors import ConfigError
from fusionsdk.fusion.weighted_vote import tally

if TYPE_CHECKING:
    from fusionsdk.eval.base import Scorer
    from fusionsdk.providers.replay import ReplayRow

__all__ = ["VoteRow", "VoteTable"]

#: An answer type, or the name of one (``number``, ``math``, ``python_literal``, ...).
Reader = str | AnswerType[Any]


def _reader(extract: Reader) -> AnswerType[Any]:
    return extract if isinstance(extract, AnswerType) else build_answer_type(extract)


def _keys(reader: AnswerType[Any], texts: Mapping[str, str]) -> dict[str, str]:
    """Each model's vote key, equivalent answers to one question sharing one key."""
    return dict(zip(texts, reader.vote_keys(list(texts.values())), strict=True))


# Stand-ins when a report says right or wrong but not what was answered. Pooling the wrong
# answers into one is pessimistic: the simulated vote is never better than the real one.
RIGHT, WRONG = "\x00right", "\x00wrong"


@dataclass(frozen=True)
class VoteRow:
    """One question: each model's answer key, whether it was right, and its cost in USD."""

    id: str
    answers: dict[str, str]
    correct: dict[str, bool]
    costs: dict[str, float]


@dataclass(frozen=True)
class VoteTable:
    """The answers of a panel's models to a set of questions.

    Attributes:
        rows: One :class:`VoteRow` per question.
        models: The models, in panel order (ties in a vote go to the earlier one).
        exact: Whether every answer is known; when False, some wrong answers are pooled (see
            :meth:`from_report`) and simulated votes are a lower bound.
    """

    rows: tuple[VoteRow, ...]
    models: tuple[str, ...]
    exact: bool = True

    @classmethod
    def from_report(
        cls,
        report: Any,
        answers: Mapping[str, Mapping[str, str]] | None = None,
        extract: Reader = "number",
        models: Sequence[str] | None = None,
    ) -> VoteTable:
        """From an :class:`~fusionsdk.eval.harness.EvalReport` (or its ``rows``): each row's
        ``model_scores`` (a score of 0.5 or more is right) and ``model_costs``.

        Args:
            report: The report, or a sequence of its row results.
            answers: Each model's answer text by row id and model, when known (recorded replay
                outputs); right and wrong still come from the report.
            extract: How answers are read (as the fuser will read them).
            models: The panel order (default: the order models first appear in the rows).

        A model whose answer is not known votes for the right answer when it was right; all
        wrong ones vote together for one wrong answer.

        Raises:
            ConfigError: No row has any model's score (nothing was evaluated).
        """
        results = getattr(report, "rows", report)
        reader = _reader(extract)
        rows, exact = [], True
        for result in results:
            if not result.model_scores:
                continue
            known = (answers or {}).get(result.id, {})
            row, complete = _row_from_scores(result, known, reader)
            rows.append(row)
            exact = exact and complete
        return cls._checked(rows, exact, models)

    @classmethod
    def from_replay(
        cls,
        rows: Sequence[ReplayRow],
        scorer: Scorer,
        extract: Reader = "number",
        models: Mapping[str, str] | Sequence[str] | None = None,
    ) -> VoteTable:
        """From recorded answers: replay rows scored with ``scorer`` (costs unknown, 0).

        Args:
            rows: Replay rows (their ``outputs`` are the models' answers).
            scorer: Scores each answer against the row's ``answer``.
            extract: How answers are read.
            models: The models to use: recorded ids, or panel names mapped to recorded ids
                (default: every recorded model).
        """
        names = _model_names(rows, models)
        reader = _reader(extract)
        table = []
        for row in rows:
            present = {name: row.outputs[rid] for name, rid in names.items() if rid in row.outputs}
            table.append(
                VoteRow(
                    row.id,
                    _keys(reader, present),
                    {m: scorer.score(text, row.answer) >= 0.5 for m, text in present.items()},
                    dict.fromkeys(present, 0.0),
                )
            )
        return cls._checked(table, True, tuple(names))

    @classmethod
    def _checked(cls, rows: list[VoteRow], exact: bool, models: Sequence[str] | None = None) -> VoteTable:
        rows = [row for row in rows if row.answers]
        if not rows:
            raise ConfigError("no model answered any question: there is nothing to learn from")
        seen = list(dict.fromkeys(m for r in rows for m in r.answers))
        order = [*models, *(m for m in seen if m not in models)] if models is not None else seen
        return cls(tuple(rows), tuple(order), exact)

    def subset(self, ids: Collection[str]) -> VoteTable:
        """The table restricted to the questions ``ids`` (a train or test split)."""
        wanted = set(ids)
        return VoteTable._checked([r for r in self.rows if r.id in wanted], self.exact, self.models)

    def records(self) -> dict[str, tuple[int, int]]:
        """Each model's (right, wrong) answer counts."""
        counts = {m: [0, 0] for m in self.models}
        for row in self.rows:
            for model, ok in row.correct.items():
                counts[model][0 if ok else 1] += 1
        return {m: (right, wrong) for m, (right, wrong) in counts.items()}

    def cost(self, panel: Sequence[str] | None = None) -> float:
        """What the panel's models (default: all) cost over every question, in USD."""
        chosen = set(self.models if panel is None else panel)
        return sum(cost for row in self.rows for m, cost in row.costs.items() if m in chosen)

    def correct_rows(
        self,
        weights: Mapping[str, float],
        panel: Sequence[str] | None = None,
        integer_bonus: float = 0.0,
        default_weight: float = 1.0,
    ) -> int:
        """How many questions a weighted vote of ``panel`` (default: all models) gets right.

        The vote is ``weighted_vote``'s: :func:`~fusionsdk.fusion.weighted_vote.tally` over the
        panel's answers in panel order; a question no panel model answered counts as wrong.
        """
        members = list(self.models if panel is None else panel)
        right = 0
        for row in self.rows:
            voters = [m for m in members if m in row.answers]
            if not voters:
                continue
            keys = {row.answers[m] for m in voters}
            if len(keys) == 1:  # unanimous: no need to count
                right += row.correct[voters[0]]
                continue
            votes = [(row.answers[m], weights.get(m, default_weight)) for m in voters]
            best, _ = tally(votes, integer_bonus)
            right += row.correct[next(m for m in voters if row.answers[m] == best)]
        return right

    def accuracy(
        self,
        weights: Mapping[str, float],
        panel: Sequence[str] | None = None,
        integer_bonus: float = 0.0,
        default_weight: float = 1.0,
    ) -> float:
        """The share of questions a weighted vote of ``panel`` gets right (see :meth:`correct_rows`)."""
        return self.correct_rows(weights, panel, integer_bonus, default_weight) / len(self.rows)


def _row_from_scores(result: Any, known: Mapping[str, str], reader: AnswerType[Any]) -> tuple[VoteRow, bool]:
    correct = {m: s >= 0.5 for m, s in result.model_scores.items()}
    answers = _keys(reader, {m: text for m, text in known.items() if m in correct})
    # A model whose answer is unknown joins the commonest known right answer when it was right.
    right_keys = Counter(answers[m] for m in answers if correct[m])
    right_key = right_keys.most_common(1)[0][0] if right_keys else RIGHT
    complete = True
    for model, ok in correct.items():
        if model not in answers:
            answers[model] = right_key if ok else WRONG
            complete = complete and ok
    costs = {m: float(c) for m, c in (result.model_costs or {}).items()}
    return VoteRow(str(result.id), answers, correct, costs), complete


def _model_names(
    rows: Sequence[ReplayRow], models: Mapping[str, str] | Sequence[str] | None
) -> dict[str, str]:
    recorded = sorted({m for row in rows for m in row.outputs})
    if models is None:
        return {m: m for m in recorded}
    names = dict(models) if isinstance(models, Mapping) else {m: m for m in models}
    for name, rid in names.items():
        if rid not in recorded:
            raise ConfigError(f"model '{rid}' has no recorded answers in the rows", path=f"models.{name}")
    return names

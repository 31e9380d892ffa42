"""Every model of a config, evaluated once: right or wrong, cost and answer key per question.

:func:`collect_outcomes` runs a panel of all the config's models on the rows (through
:func:`~fusionsdk.tuning.base.evaluate_panel`; replayed models just read their recordings) and
keeps the per-question results as :class:`Outcomes`, from which ``fusionsdk tune`` simulates
singles, votes, cascades and routers without calling a model again. With ``cache``, each row's
result is appended to a JSON Lines file as it finishes, and rows already there are not run
again (an interrupted evaluation of live models resumes where it stopped).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionsdk.answers import AnswerType
from fusionsdk.errors import ConfigError
from fusionsdk.tuning.answer_spec import AnswerSpec
from fusionsdk.tuning.base import evaluate_panel

if TYPE_CHECKING:
    from fusionsdk.config.file import FusionConfig
    from fusionsdk.eval.base import Scorer
    from fusionsdk.eval.engines import EvalEngine
    from fusionsdk.eval.harness import RowResult
    from fusionsdk.providers.replay import ReplayRow
    from fusionsdk.registry import Registry

__all__ = ["Outcomes", "collect_outcomes", "describe_models", "outcomes_from_results"]


@dataclass(frozen=True)
class Outcomes:
    """Each model's result on each question.

    Attributes:
        ids: Question ids.
        questions: Question texts (learned routers read them).
        models: Model names (the config's), in config order.
        right: ``(questions, models)``: the answer scored 0.5 or more.
        cost: ``(questions, models)``: what the answer cost, in USD.
        keys: Per question and model, the answer key (``None`` where the model gave no answer):
            the answer type's vote key, equivalent answers to one question sharing one key, as
            a vote or a cascade of them groups them.
    """

    ids: list[str]
    questions: list[str]
    models: list[str]
    right: np.ndarray
    cost: np.ndarray
    keys: list[list[str | None]]

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, ids: Collection[str]) -> Outcomes:
        """The questions ``ids`` (in this table's order)."""
        wanted = set(ids)
        rows = [i for i, row_id in enumerate(self.ids) if row_id in wanted]
        return self.rows(rows)

    def rows(self, index: Sequence[int]) -> Outcomes:
        """The questions at positions ``index``."""
        picked = list(index)
        return Outcomes(
            [self.ids[i] for i in picked],
            [self.questions[i] for i in picked],
            self.models,
            self.right[picked],
            self.cost[picked],
            [self.keys[i] for i in picked],
        )

    def select(self, models: Sequence[str]) -> Outcomes:
        """Only the columns of ``models`` (a smaller panel's outcomes)."""
        columns = [self.column(m) for m in models]
        return Outcomes(
            self.ids,
            self.questions,
            list(models),
            self.right[:, columns],
            self.cost[:, columns],
            [[row[j] for j in columns] for row in self.keys],
        )

    def column(self, model: str) -> int:
        """The column of ``model``."""
        return self.models.index(model)

    def accuracy(self, model: str) -> float:
        """The share of questions ``model`` got right."""
        return float(self.right[:, self.column(model)].mean()) if len(self) else 0.0

    def total_cost(self, model: str) -> float:
        """What ``model`` cost over all questions."""
        return float(self.cost[:, self.column(model)].sum())

    def answers(self, i: int, panel: Sequence[str]) -> list[tuple[str, str]]:
        """``(model, key)`` of the panel models that answered question ``i``, in panel order."""
        row = self.keys[i]
        found = []
        for model in panel:
            key = row[self.column(model)]
            if key is not None:
                found.append((model, key))
        return found

    def best_single(self) -> str:
        """The most accurate model (the cheaper on a tie, then the earlier)."""
        return max(self.models, key=lambda m: (self.accuracy(m), -self.total_cost(m)))


def _answer_type(answer: str | AnswerSpec | AnswerType[Any]) -> AnswerType[Any]:
    if isinstance(answer, AnswerType):
        return answer
    return (answer if isinstance(answer, AnswerSpec) else AnswerSpec(answer)).build()


def outcomes_from_results(
    results: Sequence[RowResult],
    rows: Sequence[ReplayRow],
    models: Sequence[str],
    answer: str | AnswerSpec | AnswerType[Any] = "text",
) -> Outcomes:
    """Outcomes from an evaluation's row results (each model's score, cost and answer text),
    answers read with ``answer`` (an answer type, or its name or :class:`AnswerSpec`)."""
    questions = {row.id: row.question for row in rows}
    kept = [r for r in results if r.model_scores and r.id in questions]
    if not kept:
        raise ConfigError("no model answered any question: there is nothing to tune on")
    reader = _answer_type(answer)
    right = np.array([[r.model_scores.get(m, 0.0) >= 0.5 for m in models] for r in kept], dtype=bool)
    cost = np.array([[float(r.model_costs.get(m, 0.0)) for m in models] for r in kept], dtype=float)
    keys: list[list[str | None]] = []
    for r in kept:
        present = [m for m in models if m in r.model_answers]
        found = dict(zip(present, reader.vote_keys([r.model_answers[m] for m in present]), strict=True))
        keys.append([found.get(m) for m in models])
    return Outcomes([r.id for r in kept], [questions[r.id] for r in kept], list(models), right, cost, keys)


def _read_cache(path: Path, wanted: set[str]) -> dict[str, RowResult]:
    from fusionsdk.eval.harness import RowResult

    found: dict[str, RowResult] = {}
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            data = json.loads(line)
            result = RowResult(**data)
        except (ValueError, TypeError):
            continue  # a line cut short by an interruption
        if result.id in wanted and result.error is None:
            found[result.id] = result
    return found


async def collect_outcomes(
    config: FusionConfig,
    rows: Sequence[ReplayRow],
    scorer: Scorer,
    *,
    answer: str | AnswerSpec | AnswerType[Any] = "text",
    models: Sequence[str] | None = None,
    cache: Path | None = None,
    on_row: Callable[[RowResult], None] | None = None,
    concurrency: int = 16,
    registry: Registry | None = None,
    base_dir: Path | None = None,
    engine: EvalEngine | str | None = None,
) -> Outcomes:
    """Evaluate every model of ``config`` (or ``models``) once on ``rows``.

    Args:
        answer: How answers are read into keys (an answer type, or its name or
            :class:`~fusionsdk.tuning.answer_spec.AnswerSpec`).
        cache: JSON Lines file of finished rows: read first (rows there are not run again),
            appended to as rows finish.
        on_row: Called as each row finishes (also once per cached row).
        engine: Where the rows run (``in_process`` or ``ray``; :mod:`fusionsdk.eval.engines`).

    Raises:
        ConfigError: The config has no models, or none answered anything.
        FusionError: Every row's run failed.
    """
    names = list(models or config.models)
    if not names:
        raise ConfigError("the config has no models to tune", path="models")
    done = _read_cache(cache, {r.id for r in rows}) if cache is not None else {}
    for result in done.values():
        if on_row is not None:
            on_row(result)
    todo = [r for r in rows if r.id not in done]
    results = list(done.values())
    if todo:
        sink = cache.open("a", encoding="utf-8") if cache is not None else None

        def finished(result: RowResult) -> None:
            if sink is not None and result.error is None:
                sink.write(json.dumps(asdict(result)) + "\n")
                sink.flush()
            if on_row is not None:
                on_row(result)

        try:
            report = await evaluate_panel(
                config,
                todo,
                scorer,
                panel="tune_panel",
                vote="tune_vote",
                node={"kind": "panel", "models": names, "quorum": 1},
                concurrency=concurrency,
                registry=registry,
                base_dir=base_dir,
                on_row=finished,
                engine=engine,
            )
        finally:
            if sink is not None:
                sink.close()
        results += report.rows
    order = {r.id: i for i, r in enumerate(rows)}
    results.sort(key=lambda r: order.get(r.id, len(order)))
    return outcomes_from_results(results, rows, names, answer)


def describe_models(outcomes: Outcomes) -> list[dict[str, Any]]:
    """Each model's accuracy and cost on ``outcomes``, most accurate first."""
    listing = [
        {"model": m, "accuracy": outcomes.accuracy(m), "cost_usd": outcomes.total_cost(m)}
        for m in outcomes.models
    ]
    return sorted(listing, key=lambda d: (-d["accuracy"], d["cost_usd"]))

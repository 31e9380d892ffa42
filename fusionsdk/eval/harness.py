"""Run a graph over a dataset and measure it: :func:`evaluate` and :class:`EvalReport`."""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from fusionsdk.errors import ConfigError, FusionError
from fusionsdk.eval.base import Scorer
from fusionsdk.eval.metrics import percentile, wilson_interval
from fusionsdk.graph.run import Graph
from fusionsdk.providers.replay import ReplayRow

if TYPE_CHECKING:
    from fusionsdk.eval.engines import EvalEngine

__all__ = ["EvalReport", "RowResult", "evaluate", "run_row", "split_rows", "summarize"]


def split_rows(
    rows: Sequence[ReplayRow],
    split: Literal["train", "test"] | None,
    seed: int = 0,
    train_fraction: float = 0.5,
) -> list[ReplayRow]:
    """A deterministic train/test split (shuffled with ``seed``); all rows for ``None``."""
    if split is None:
        return list(rows)
    if not 0 < train_fraction < 1:
        raise ConfigError(f"train_fraction must be between 0 and 1, got {train_fraction}")
    order = list(rows)
    random.Random(seed).shuffle(order)
    cut = round(len(order) * train_fraction)
    return order[:cut] if split == "train" else order[cut:]


@dataclass(frozen=True)
class RowResult:
    """One row's outcome: the graph's answer and score, and each model's answer, score and cost
    (so weights and routers can be fitted from a report alone)."""

    id: str
    answer: str
    score: float
    cost_usd: float
    tokens: int
    latency_s: float
    model_scores: dict[str, float] = field(default_factory=dict)
    model_costs: dict[str, float] = field(default_factory=dict)
    model_answers: dict[str, str] = field(default_factory=dict)
    routes: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class EvalReport:
    """What ``fusionsdk eval`` reports.

    Attributes:
        n: Rows evaluated.
        accuracy: Mean score of the graph's answers.
        ci95: Wilson 95% interval of the accuracy.
        cost_usd: Total cost.
        tokens: Total tokens.
        latency_p50_s, latency_p95_s: Per-row wall time percentiles.
        per_model: For every model the graph called: accuracy, cost and answered rows.
        oracle_accuracy: Share of rows some model got right.
        call_share: Share of model calls per model (how a router spread the load).
        route_share: Share of router decisions per target.
        errors: Rows whose run failed (scored 0).
        rows: Per-row results.
    """

    n: int
    accuracy: float
    ci95: tuple[float, float]
    cost_usd: float
    tokens: int
    latency_p50_s: float
    latency_p95_s: float
    per_model: dict[str, dict[str, float]]
    oracle_accuracy: float
    call_share: dict[str, float]
    route_share: dict[str, float]
    errors: int
    rows: list[RowResult] = field(repr=False, default_factory=list)

    def as_dict(self, with_rows: bool = False) -> dict[str, Any]:
        """JSON-ready form (what ``--json`` prints)."""
        data = {
            "n": self.n,
            "accuracy": self.accuracy,
            "ci95": list(self.ci95),
            "cost_usd": self.cost_usd,
            "tokens": self.tokens,
            "latency_p50_s": self.latency_p50_s,
            "latency_p95_s": self.latency_p95_s,
            "per_model": self.per_model,
            "oracle_accuracy": self.oracle_accuracy,
            "call_share": self.call_share,
            "route_share": self.route_share,
            "errors": self.errors,
        }
        if with_rows:
            data["rows"] = [r.__dict__ for r in self.rows]
        return data

    def ratings(self) -> dict[str, dict[str, float]]:
        """Elo and Bradley-Terry ratings of the models, from pairwise games on each row (a right
        answer beats a wrong one; both right or both wrong is a tie), as in chatbot arenas."""
        from fusionsdk.ratings import bradley_terry_ratings, elo_ratings, judgments_from_scores

        judgments = judgments_from_scores(r.model_scores for r in self.rows)
        if not judgments:
            return {"elo": {}, "bradley_terry": {}}
        return {"elo": elo_ratings(judgments, shuffles=5), "bradley_terry": bradley_terry_ratings(judgments)}

    def agreement(self) -> dict[str, dict[str, float]]:
        """For each pair of models, the share of rows both answered where both were right or
        both wrong (the report's heatmap)."""
        models = sorted(self.per_model)
        table: dict[str, dict[str, float]] = {}
        for a in models:
            table[a] = {}
            for b in models:
                both = [r for r in self.rows if a in r.model_scores and b in r.model_scores]
                same = sum((r.model_scores[a] >= 0.5) == (r.model_scores[b] >= 0.5) for r in both)
                table[a][b] = same / len(both) if both else 0.0
        return table


async def run_row(graph: Graph, row: ReplayRow, scorer: Scorer) -> RowResult:
    """Run one row and score the graph's answer and every model's (a failed run scores 0)."""
    started = time.perf_counter()
    try:
        result = await graph.arun(row.question, metadata={"row_id": row.id}, evaluation=True)
    except FusionError as err:
        return RowResult(
            row.id, "", 0.0, 0.0, 0, time.perf_counter() - started, error=f"{type(err).__name__}: {err}"
        )
    model_scores: dict[str, float] = {}
    model_costs: dict[str, float] = defaultdict(float)
    model_answers: dict[str, str] = {}
    for candidate in result.candidates:
        model_scores[candidate["model"]] = scorer.score(candidate["text"], row.answer)
        model_answers[candidate["model"]] = candidate["text"]
        model_costs[candidate["model"]] += candidate.get("cost_usd") or 0.0
    routes = [d["target"] for d in result.decisions if d.get("type") == "route"]
    return RowResult(
        id=row.id,
        answer=result.answer,
        score=scorer.score(result.answer, row.answer),
        cost_usd=result.cost_usd,
        tokens=int(result.usage.get("total_tokens", 0)),
        latency_s=time.perf_counter() - started,
        model_scores=model_scores,
        model_costs=dict(model_costs),
        model_answers=model_answers,
        routes=routes,
    )


async def evaluate(
    graph: Graph,
    rows: Sequence[ReplayRow],
    scorer: Scorer,
    *,
    concurrency: int = 16,
    on_row: Callable[[RowResult], None] | None = None,
    engine: EvalEngine | str | None = None,
) -> EvalReport:
    """Run ``graph`` on every row (``concurrency`` at a time) and score it.

    Each row's id goes into the run metadata as ``row_id`` (replay models use it). A row whose
    run fails scores 0 and is counted in ``errors``; the evaluation goes on.

    Args:
        graph: The graph measured.
        rows: The dataset.
        scorer: Scores the answers.
        concurrency: Rows run at once (per Ray task with the ``ray`` engine).
        on_row: Called with each row's result as it arrives.
        engine: Where the rows run: an :class:`~fusionsdk.eval.engines.EvalEngine` or the name
            of one (``in_process``, the default, or ``ray``); see :mod:`fusionsdk.eval.engines`.

    Raises:
        ConfigError: No rows, or a concurrency below 1.
    """
    from fusionsdk.eval.engines import build_engine

    if not rows:
        raise ConfigError("the dataset has no rows to evaluate")
    if concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
    runner = build_engine(engine)
    results = await runner.map_rows(graph, rows, scorer, concurrency=concurrency, on_row=on_row)
    return summarize(results)


def summarize(results: Sequence[RowResult]) -> EvalReport:
    """Aggregate row results into a report."""
    n = len(results)
    total = sum(r.score for r in results)
    per_model: dict[str, dict[str, float]] = {}
    calls: Counter[str] = Counter()
    for model in sorted({m for r in results for m in r.model_scores}):
        answered = [r for r in results if model in r.model_scores]
        calls[model] = len(answered)
        per_model[model] = {
            "accuracy": sum(r.model_scores[model] for r in answered) / len(answered),
            "cost_usd": sum(r.model_costs.get(model, 0.0) for r in answered),
            "answered": len(answered),
        }
    routes = Counter(t for r in results for t in r.routes)
    latencies = [r.latency_s for r in results]
    return EvalReport(
        n=n,
        accuracy=total / n,
        ci95=wilson_interval(total, n),
        cost_usd=sum(r.cost_usd for r in results),
        tokens=sum(r.tokens for r in results),
        latency_p50_s=percentile(latencies, 50),
        latency_p95_s=percentile(latencies, 95),
        per_model=per_model,
        oracle_accuracy=sum(max(r.model_scores.values(), default=0.0) >= 0.5 for r in results) / n,
        call_share={m: c / sum(calls.values()) for m, c in calls.items()} if calls else {},
        route_share={t: c / sum(routes.values()) for t, c in routes.items()} if routes else {},
        errors=sum(r.error is not None for r in results),
        rows=list(results),
    )

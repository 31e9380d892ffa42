"""Learn ``weighted_vote`` weights and a panel from evaluation data.

:func:`fit_weights` gives each model the smoothed log-odds of its measured accuracy (the weight
that is optimal for independent voters) and, when the answers are known, picks the
``integer_bonus`` that maximises train accuracy. :func:`select_panel` picks the best panel of at
most ``k`` models for the weighted vote: exhaustive search over the ``top_n`` heaviest models,
pruned by each panel's oracle bound, or greedy forward selection.
:func:`fusionsdk.tuning.fusion_fit.fit_config` does both for a config's panel, evaluating it
with :func:`fusionsdk.tuning.base.evaluate_panel` first.

On GSM8K (42 models, train/test halves) the log-odds weights beat both the majority vote and
weights fitted harder (a conditional-logit fit, coordinate ascent on train accuracy), which
overfit 660 training questions; see ``benchmarks/gsm8k_fusion.py``.

Example:
    >>> from fusionsdk.tuning.fusion_weights import fit_weights, select_panel
    >>> fitted = fit_weights(report)  # doctest: +SKIP
    >>> panel = select_panel(report, fitted, max_size=5)  # doctest: +SKIP
    >>> fitted.to_weights_data(panel=list(panel.models))  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from fusionsdk.answers import Extract
from fusionsdk.errors import ConfigError
from fusionsdk.fusion.weights_file import WeightsData, log_odds
from fusionsdk.tuning.vote_table import Reader, VoteTable

if TYPE_CHECKING:
    from fusionsdk.eval.base import Scorer

__all__ = ["BONUS_GRID", "FittedWeights", "PanelChoice", "as_table", "fit_weights", "select_panel"]

#: The ``integer_bonus`` values :func:`fit_weights` tries.
BONUS_GRID = (0.0, 0.1, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class FittedWeights:
    """Weights learned from evaluation data.

    Attributes:
        weights: Weight per model (smoothed log-odds of its accuracy, at least 0).
        counts: Each model's (right, wrong) answers.
        smoothing: The Beta prior's pseudo-count.
        integer_bonus: The whole-number bonus fitted (or given).
        extract: How answers were read (an answer type's name).
        accuracy: Train accuracy of the weighted vote of all models.
        majority_accuracy: Train accuracy of the unweighted vote (no bonus), for comparison.
        n: Questions learned from.
    """

    weights: dict[str, float]
    counts: dict[str, tuple[int, int]]
    smoothing: float
    integer_bonus: float
    extract: str
    accuracy: float
    majority_accuracy: float
    n: int

    def to_weights_data(self, **extra: Any) -> WeightsData:
        """The weights file content; ``extra`` keys (``panel``, figures) are stored beside.

        The file's ``extract`` setting can only name the older four answer types; another
        (``math``, ``python_literal``, ...) is recorded as ``answer`` for information, and the
        fuse node must say ``answer:`` itself."""
        settings: dict[str, Any] = {"integer_bonus": self.integer_bonus}
        if self.extract in get_args(Extract):
            settings["extract"] = self.extract
        else:
            extra = {"answer": self.extract, **extra}
        return WeightsData(
            weights={m: round(w, 6) for m, w in self.weights.items()},
            counts={m: (float(r), float(w)) for m, (r, w) in self.counts.items()},
            smoothing=self.smoothing,
            settings=settings,
            extra={"train_accuracy": self.accuracy, "train_questions": self.n, **extra},
        )


@dataclass(frozen=True)
class PanelChoice:
    """The panel :func:`select_panel` chose.

    Attributes:
        models: The panel, in the order it was scored in (heaviest first for ``exhaustive``,
            order of addition for ``greedy``); use this order in the config, since a tie in
            the vote goes to the answer seen first.
        accuracy: Its weighted vote's train accuracy.
        cost_usd: What its models cost over the train questions.
        searched: Panels whose vote was simulated (the rest were pruned or never generated).
        method: ``exhaustive`` or ``greedy``.
    """

    models: tuple[str, ...]
    accuracy: float
    cost_usd: float
    searched: int
    method: str


def as_table(source: Any, scorer: Scorer | None = None, extract: Reader = "number") -> VoteTable:
    """A :class:`VoteTable` from a table, an ``EvalReport`` (or its rows), or replay rows with a
    scorer.

    Raises:
        ConfigError: Replay rows without a scorer, or a source of another type.
    """
    if isinstance(source, VoteTable):
        return source
    rows = getattr(source, "rows", source)
    if not isinstance(rows, Sequence) or not rows:
        raise ConfigError("nothing to learn from: expected an EvalReport, its rows, or replay rows")
    first = rows[0]
    if hasattr(first, "model_scores"):
        return VoteTable.from_report(rows, extract=extract)
    if hasattr(first, "outputs"):
        if scorer is None:
            raise ConfigError("learning from replay rows needs a scorer (e.g. numeric)", path="scorer")
        return VoteTable.from_replay(rows, scorer, extract)
    raise ConfigError(f"cannot learn from {type(first).__name__} rows: expected eval results or replay rows")


def fit_weights(
    source: Any,
    *,
    scorer: Scorer | None = None,
    extract: Reader = "number",
    smoothing: float = 1.0,
    integer_bonus: float | None = None,
) -> FittedWeights:
    """Learn vote weights: the log-odds of each model's accuracy, ``ln((right + s) / (wrong + s))``
    with ``s = smoothing``, floored at 0.

    Args:
        source: An ``EvalReport`` (or its rows), replay rows (with ``scorer``), or a
            :class:`VoteTable`.
        scorer: Scores replay rows' answers.
        extract: How answers are read (as the fuser will read them).
        smoothing: The Beta prior's pseudo-count (above 0).
        integer_bonus: Fixed whole-number bonus; None fits it on the data from
            :data:`BONUS_GRID` (the smallest of the best), or uses 0 when answers are unknown.

    Raises:
        ConfigError: Bad arguments or nothing to learn from.
    """
    if not smoothing > 0:
        raise ConfigError(f"must be above 0, got {smoothing}", path="smoothing")
    if integer_bonus is not None and not integer_bonus >= 0:
        raise ConfigError(f"must be at least 0, got {integer_bonus}", path="integer_bonus")
    table = as_table(source, scorer, extract)
    counts = table.records()
    weights = {m: log_odds(right, wrong, smoothing) for m, (right, wrong) in counts.items()}
    if integer_bonus is None:
        grid = BONUS_GRID if table.exact else (0.0,)
        integer_bonus = max(grid, key=lambda b: (table.correct_rows(weights, integer_bonus=b), -b))
    return FittedWeights(
        weights=weights,
        counts=counts,
        smoothing=smoothing,
        integer_bonus=integer_bonus,
        extract=extract if isinstance(extract, str) else type(extract).__name__,
        accuracy=table.accuracy(weights, integer_bonus=integer_bonus),
        majority_accuracy=table.accuracy(dict.fromkeys(table.models, 1.0)),
        n=len(table.rows),
    )


def select_panel(
    source: Any,
    weights: FittedWeights | Mapping[str, float],
    *,
    max_size: int = 5,
    top_n: int = 10,
    method: Literal["exhaustive", "greedy"] = "exhaustive",
    max_cost_usd: float | None = None,
    integer_bonus: float | None = None,
    scorer: Scorer | None = None,
    extract: Reader = "number",
) -> PanelChoice:
    """The panel of at most ``max_size`` models whose weighted vote is most accurate on
    ``source``; ties go to the cheaper, then the smaller panel. With ``max_cost_usd``, only
    panels whose models cost at most that much over ``source``'s questions are considered.

    ``exhaustive`` tries every panel of the ``top_n`` heaviest models, skipping a panel when
    even its oracle (some member right) cannot beat the best found; ``greedy`` adds, one at a
    time, the model that helps most among all models, and keeps the best prefix.

    Raises:
        ConfigError: ``max_size`` or ``top_n`` below 1, an unknown method, or a budget no
            model fits.
    """
    if max_size < 1:
        raise ConfigError(f"must be at least 1, got {max_size}", path="max_size")
    if top_n < 1:
        raise ConfigError(f"must be at least 1, got {top_n}", path="top_n")
    table = as_table(source, scorer, extract)
    if isinstance(weights, FittedWeights):
        table_weights, fitted_bonus = dict(weights.weights), weights.integer_bonus
    else:
        table_weights, fitted_bonus = dict(weights), 0.0
    bonus = fitted_bonus if integer_bonus is None else integer_bonus
    costs = {m: table.cost([m]) for m in table.models}
    budget = float("inf") if max_cost_usd is None else max_cost_usd
    affordable = [m for m in table.models if costs[m] <= budget]
    if not affordable:
        raise ConfigError(f"no model costs {budget} USD or less on these questions", path="max_cost_usd")
    ranked = sorted(affordable, key=lambda m: (-table_weights.get(m, 0.0), costs[m], m))
    search = _Search(table, table_weights, bonus, costs, budget)
    if method == "exhaustive":
        best = search.exhaustive(ranked[:top_n], max_size)
    elif method == "greedy":
        best = search.greedy(ranked, max_size)
    else:
        raise ConfigError(f"must be exhaustive or greedy, got {method!r}", path="method")
    right, cost, panel = best
    return PanelChoice(tuple(panel), right / len(table.rows), cost, search.searched, method)


class _Search:
    """Panel search over one table; panels rank by (right answers, -cost, -size)."""

    def __init__(
        self,
        table: VoteTable,
        weights: dict[str, float],
        bonus: float,
        costs: dict[str, float],
        budget: float,
    ) -> None:
        self.table, self.weights, self.bonus, self.costs, self.budget = table, weights, bonus, costs, budget
        self.searched = 0
        # Each model's right answers as a bit set: a panel's oracle is the popcount of their union.
        self.right_bits = {m: 0 for m in table.models}
        for i, row in enumerate(table.rows):
            for model, ok in row.correct.items():
                if ok:
                    self.right_bits[model] |= 1 << i

    def score(self, panel: Sequence[str]) -> tuple[int, float, Sequence[str]]:
        self.searched += 1
        right = self.table.correct_rows(self.weights, panel, self.bonus)
        return right, sum(self.costs[m] for m in panel), panel

    @staticmethod
    def rank(found: tuple[int, float, Sequence[str]]) -> tuple[int, float, int]:
        return found[0], -found[1], -len(found[2])

    def exhaustive(self, pool: Sequence[str], max_size: int) -> tuple[int, float, Sequence[str]]:
        best: tuple[int, float, Sequence[str]] | None = None
        for size in range(1, min(max_size, len(pool)) + 1):
            for panel in itertools.combinations(pool, size):
                oracle = 0
                for model in panel:
                    oracle |= self.right_bits[model]
                if best is not None and oracle.bit_count() < best[0]:
                    continue  # no vote of these models can beat the best panel found
                if sum(self.costs[m] for m in panel) > self.budget:
                    continue
                found = self.score(panel)
                if best is None or self.rank(found) > self.rank(best):
                    best = found
        assert best is not None
        return best

    def greedy(self, pool: Sequence[str], max_size: int) -> tuple[int, float, Sequence[str]]:
        panel: list[str] = []
        best: tuple[int, float, Sequence[str]] | None = None
        while len(panel) < min(max_size, len(pool)):
            spent = sum(self.costs[m] for m in panel)
            steps = [
                self.score([*panel, m])
                for m in pool
                if m not in panel and spent + self.costs[m] <= self.budget
            ]
            if not steps:
                break
            step = max(steps, key=self.rank)
            panel = list(step[2])
            if best is None or self.rank(step) > self.rank(best):
                best = step
        assert best is not None
        return best

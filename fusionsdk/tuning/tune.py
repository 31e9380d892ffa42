"""``fusionsdk tune``: choose a single model, a fused panel, a cascade or a learned router for a
config's models on the user's own data, and write it as a ready graph.

The procedure (:func:`tune_config`):

1. Every model of the config answers every row once (:func:`~fusionsdk.tuning.outcomes.collect_outcomes`).
2. The rows are split as ``fusionsdk eval --split train|test --seed S`` splits them
   (:func:`~fusionsdk.eval.harness.split_rows`). Everything is chosen on the train half:
   each policy (:mod:`~fusionsdk.tuning.policies`) is cross-validated over ``folds`` folds of it
   and one is chosen by :func:`~fusionsdk.tuning.search.choose`; the winner is then refitted on
   the whole train half.
   The reference of the selection rule is one model, the best single model chosen on the whole
   train half, evaluated in every fold; a combination must beat it by the margin.
3. The winner and the best single model (the most accurate on train) are run on the test half:
   accuracy with its Wilson 95% interval, cost and its ratio to the best single model's, and
   McNemar's paired test against it. ``fusionsdk eval TUNED.yaml --split test --seed S``
   reproduces the winner's figures.

Example:
    >>> result = run_sync(tune_config(config, rows, scorer, answer=AnswerSpec("number")))  # doctest: +SKIP
    >>> write_tuned(Path("tuned.yaml"), config, result)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from fusionsdk.errors import ConfigError
from fusionsdk.tuning.answer_spec import AnswerSpec, scorer_answer
from fusionsdk.tuning.outcomes import Outcomes, collect_outcomes, describe_models
from fusionsdk.tuning.policies import CascadePolicy, Fitted, FixedSingle, Policy, VotePolicy
from fusionsdk.tuning.search import Choice, Scored, choose, cross_validate, folds_of, summary
from fusionsdk.tuning.stats import accuracy_figures, mcnemar

if TYPE_CHECKING:
    from fusionsdk.config.file import FusionConfig
    from fusionsdk.eval.base import Scorer
    from fusionsdk.eval.engines import EvalEngine
    from fusionsdk.eval.harness import RowResult
    from fusionsdk.providers.replay import ReplayRow
    from fusionsdk.registry import Registry

__all__ = ["FAMILIES", "TuneResult", "policies_for", "tune_config", "tune_outcomes", "write_tuned"]

FAMILIES = ("single", "fusion", "cascade", "router")
THRESHOLDS = (0.5, 0.67, 0.75, 1.0)


def policies_for(train: Outcomes, families: Collection[str] = FAMILIES) -> list[Policy]:
    """The policies searched for ``train``'s models, by family (``learned_vote`` rules for every
    answer type: they read answers with the same vote keys as the other votes)."""
    n = len(train.models)
    found: list[Policy] = []
    if "single" in families:
        found += [FixedSingle(m) for m in train.models]
    if "fusion" in families and n > 1:
        sizes: list[int | None] = [s for s in (3, 5, 7, 9) if s < n]
        sizes.append(None)
        found += [VotePolicy(s, w) for s in sizes for w in ("majority", "log_odds")]
        found.append(VotePolicy(5, "greedy"))
        learned: list[int | None] = [s for s in (3, 5, 10) if s < n]
        learned += [None] if n <= 15 else []
        found += [VotePolicy(s, "learned", c) for s in learned for c in (0.1, 1.0)]
    if "cascade" in families and n > 1:
        for size in (1, 2, 3):
            for finals in (1, 2):
                for least in (2, 3):
                    if least > size + finals or size + finals > n:
                        continue
                    for share in (0.1, 0.3):
                        found += [CascadePolicy(size, finals, t, least, share) for t in THRESHOLDS]
    if "router" in families and n > 1:
        from fusionsdk.tuning.router_policy import router_policies

        found += router_policies(train)
    return found


@dataclass
class TuneResult:
    """What :func:`tune_outcomes` found (see :meth:`as_dict` for the report's fields)."""

    choice: Choice
    winner: Fitted
    single: Fitted
    test: dict[str, Any]
    single_test: dict[str, Any]
    families: list[dict[str, Any]]
    models: list[dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready report (what ``fusionsdk tune --json`` prints)."""
        reference = self.choice.reference
        return {
            **self.settings,
            "rule": self.choice.rule,
            "selection": self.choice.selection,
            "beaten": self.choice.beaten,
            "chosen": {**self.winner.describe(), **summary(self.choice.chosen, reference)},
            "best_single": {**self.single.describe(), **summary(reference, reference)},
            "test": self.test,
            "best_single_test": self.single_test,
            "families": self.families,
            "candidates": [summary(s, reference) for s in self.choice.scored],
            "models_train": self.models,
        }


def _test_figures(fitted: Fitted, test: Outcomes, single: Any) -> dict[str, Any]:
    right, cost = fitted.run(test)
    figures = accuracy_figures(right, cost)
    base = float(single[1].sum())
    figures["cost_ratio"] = figures["cost_usd"] / base if base else None
    figures["mcnemar"] = mcnemar(right, single[0])
    return figures


def tune_outcomes(
    outcomes: Outcomes,
    train_ids: Collection[str],
    test_ids: Collection[str],
    *,
    budget_share: float | None = None,
    folds: int = 5,
    seed: int = 0,
    families: Collection[str] = FAMILIES,
    policies: Sequence[Policy] | None = None,
) -> TuneResult:
    """Cross-validate on ``train_ids``, choose, refit on them and measure on ``test_ids``.

    The reference is the best single model on the whole of ``train_ids`` (one model, evaluated
    in every fold); see :func:`~fusionsdk.tuning.search.choose` for the rule.

    Raises:
        ConfigError: Too few train questions, an unknown family, or a budget nothing fits.
    """
    unknown = set(families) - set(FAMILIES)
    if unknown:
        raise ConfigError(
            f"unknown families {sorted(unknown)}; known: {', '.join(FAMILIES)}", path="families"
        )
    if budget_share is not None and budget_share <= 0:
        raise ConfigError(f"must be above 0, got {budget_share}", path="budget_share")
    train, test = outcomes.take(train_ids), outcomes.take(test_ids)
    if len(train) < 4 or not len(test):
        raise ConfigError(f"need at least 4 train and 1 test questions, got {len(train)} and {len(test)}")
    splits = folds_of(len(train), folds, seed)
    best_model = train.best_single()
    reference = cross_validate(FixedSingle(best_model), train, splits)
    candidates = list(policies) if policies is not None else policies_for(train, families)
    candidates = [p for p in candidates if not (isinstance(p, FixedSingle) and p.model == best_model)]
    scored: list[Scored] = [reference, *(cross_validate(p, train, splits) for p in candidates)]
    choice = choose(scored, reference, budget_share, folds=len(splits))
    winner = choice.chosen.policy.fit(train)
    single = FixedSingle(best_model).fit(train)
    single_run = single.run(test)
    by_family: dict[str, Scored] = {}
    for s in choice.scored:
        if s.policy.family not in by_family or (s.accuracy, -s.cost_usd) > (
            by_family[s.policy.family].accuracy,
            -by_family[s.policy.family].cost_usd,
        ):
            by_family[s.policy.family] = s
    families_report = []
    for best in by_family.values():
        fitted = best.policy.fit(train)
        families_report.append(
            {**summary(best, reference), **fitted.describe(), "test": _test_figures(fitted, test, single_run)}
        )
    return TuneResult(
        choice=choice,
        winner=winner,
        single=single,
        test=_test_figures(winner, test, single_run),
        single_test=_test_figures(single, test, single_run),
        families=families_report,
        models=describe_models(train),
        settings={
            "n_train": len(train),
            "n_test": len(test),
            "folds": len(splits),
            "seed": seed,
            "budget_share": budget_share,
            "searched": len(scored),
        },
    )


async def tune_config(
    config: FusionConfig,
    rows: Sequence[ReplayRow],
    scorer: Scorer,
    *,
    seed: int = 0,
    answer: AnswerSpec | None = None,
    budget_share: float | None = None,
    folds: int = 5,
    families: Collection[str] = FAMILIES,
    models: Sequence[str] | None = None,
    cache: Path | None = None,
    on_row: Callable[[RowResult], None] | None = None,
    concurrency: int = 16,
    registry: Registry | None = None,
    base_dir: Path | None = None,
    engine: EvalEngine | str | None = None,
) -> tuple[TuneResult, Outcomes]:
    """Evaluate every model once on ``rows`` (on ``engine``: ``in_process`` or ``ray``, see
    :mod:`fusionsdk.eval.engines`), then :func:`tune_outcomes` on the split
    ``fusionsdk eval --split ... --seed seed`` uses. Returns the result and the outcomes.

    ``answer``: how the models' answers are compared in votes and cascades (and in the written
    graph); default the scorer's own answer type
    (:func:`~fusionsdk.tuning.answer_spec.scorer_answer`)."""
    from fusionsdk.eval.harness import split_rows

    answer = answer if answer is not None else scorer_answer(scorer, registry)

    outcomes = await collect_outcomes(
        config,
        rows,
        scorer,
        answer=answer.build(registry),
        models=models,
        cache=cache,
        on_row=on_row,
        concurrency=concurrency,
        registry=registry,
        base_dir=base_dir,
        engine=engine,
    )
    train = [r.id for r in split_rows(rows, "train", seed)]
    test = [r.id for r in split_rows(rows, "test", seed)]
    result = tune_outcomes(
        outcomes,
        train,
        test,
        budget_share=budget_share,
        folds=folds,
        seed=seed,
        families=families,
    )
    result.settings.update(answer.describe())
    return result, outcomes


def tuned_data(config: FusionConfig, fitted: Fitted, answer: AnswerSpec | str = "text") -> dict[str, Any]:
    """The config rewritten to the fitted policy's graph (its models kept, other nodes dropped),
    its fuse or cascade node reading answers with ``answer``."""
    from fusionsdk.graph.builder import config_to_data

    data = config_to_data(config)
    nodes, edges, used = fitted.graph(answer if isinstance(answer, AnswerSpec) else AnswerSpec(answer))
    data["models"] = {name: spec for name, spec in data["models"].items() if name in used}
    data["nodes"], data["edges"] = nodes, edges
    return data


def write_tuned(out: Path, config: FusionConfig, result: TuneResult) -> dict[str, Any]:
    """Write the winner's graph config (YAML) at ``out``; files it needs go beside it."""
    from fusionsdk.tuning.router_policy import write_router_files

    answer = AnswerSpec(result.settings.get("answer", "text"), result.settings.get("answer_options") or {})
    data = tuned_data(config, result.winner, answer)
    write_router_files(data, result.winner, out)
    header = (
        f"# Written by fusionsdk tune: {result.winner.label}\n"
        f"# Selection rule: {result.choice.selection.get('text', '')}\n"
        f"# Outcome: {result.choice.rule}\n"
    )
    try:
        out.write_text(header + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot write {out}: {err.strerror or err}", path="--out") from None
    return data

"""Learn weights and a panel for a config: evaluate its panel, then fit (``fusionsdk fusion fit``).

Example:
    >>> from fusionsdk.config.file import load_config
    >>> config = load_config("examples/replay.yaml")
    >>> fit = run_sync(fit_config(config, rows, scorer, max_panel=3))  # doctest: +SKIP
    >>> write_weights(Path("weights.json"), fit.weights_data())  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fusionsdk.config.lookup import find_node
from fusionsdk.errors import ConfigError
from fusionsdk.fusion.weights_file import WeightsData
from fusionsdk.tuning.answer_spec import AnswerSpec, build_checked
from fusionsdk.tuning.base import evaluate_panel
from fusionsdk.tuning.fusion_weights import FittedWeights, PanelChoice, fit_weights, select_panel
from fusionsdk.tuning.vote_table import VoteTable

if TYPE_CHECKING:
    from fusionsdk.config.file import FusionConfig
    from fusionsdk.eval.base import Scorer
    from fusionsdk.eval.harness import EvalReport, RowResult
    from fusionsdk.providers.replay import ReplayRow
    from fusionsdk.registry import Registry

__all__ = ["ConfigFit", "fit_config", "panel_of"]


@dataclass(frozen=True)
class ConfigFit:
    """What :func:`fit_config` learned.

    Attributes:
        panel_node: The panel node evaluated.
        fitted: Weights for the panel's models.
        panel: The best smaller panel, when one was asked for.
        report: The evaluation of the whole panel under a majority vote.
        table: Each model's answers and correctness (``table.exact``: answers were all known).
    """

    panel_node: str
    fitted: FittedWeights
    panel: PanelChoice | None
    report: EvalReport
    table: VoteTable

    def best_single(self) -> tuple[str, float, float]:
        """(model, train accuracy, cost) of the most accurate single model (cheaper on ties)."""
        records = self.table.records()
        name = max(self.table.models, key=lambda m: (_share(records[m]), -self.table.cost([m])))
        return name, _share(records[name]), self.table.cost([name])

    def weights_data(self, **extra: Any) -> WeightsData:
        """The weights file: weights, chosen panel, train accuracy and cost, plus ``extra``."""
        single, single_accuracy, single_cost = self.best_single()
        chosen = self.panel.models if self.panel else self.table.models
        figures: dict[str, Any] = {
            "panel": list(chosen),
            "panel_accuracy": self.panel.accuracy if self.panel else self.fitted.accuracy,
            "panel_cost_usd": self.panel.cost_usd if self.panel else self.table.cost(),
            "cost_usd": self.table.cost(),
            "majority_accuracy": self.fitted.majority_accuracy,
            "best_single": {"model": single, "accuracy": single_accuracy, "cost_usd": single_cost},
            "answers": "recorded" if self.table.exact else "pooled",
        }
        return self.fitted.to_weights_data(**figures, **extra)


def _share(record: tuple[int, int]) -> float:
    return record[0] / sum(record) if sum(record) else 0.0


def panel_of(config: FusionConfig, panel: str | None = None) -> tuple[str, list[str]]:
    """The panel node to learn for (``panel``, or the config's only one) and its models.

    Raises:
        ConfigError: No panel node, several and none named, or ``panel`` not a panel node.
    """
    node = find_node(
        config,
        panel,
        kind="panel",
        arg="panel",
        missing="the config has no panel node whose models could be weighed",
        unnamed="name the panel node to learn for (panel nodes: {found})",
        unknown="'{name}' is not a panel node (panel nodes: {found})",
    )
    return node.name, node.models("panel")


def _answer_of(config: FusionConfig, panel: str) -> AnswerSpec:
    """The answer type of the fuse node that reads ``panel``: its ``answer:`` (with
    ``answer_options:``) or the older ``extract:`` (``text`` when none says)."""
    try:
        fuse = find_node(
            config,
            kind="fuse",
            where=lambda n: (
                n.fields.get("source") in (None, panel) and ("answer" in n.options or "extract" in n.options)
            ),
            first=True,
        )
    except ConfigError:
        return AnswerSpec("text")
    name = fuse.options.get("answer") or fuse.options.get("extract") or "text"
    return AnswerSpec(str(name), dict(fuse.options.get("answer_options") or {}))


async def fit_config(
    config: FusionConfig,
    rows: Sequence[ReplayRow],
    scorer: Scorer,
    *,
    panel: str | None = None,
    max_panel: int | None = None,
    extract: str | None = None,
    answer_options: Mapping[str, Any] | None = None,
    top_n: int = 10,
    max_cost_usd: float | None = None,
    concurrency: int = 16,
    registry: Registry | None = None,
    base_dir: Path | None = None,
    on_row: Callable[[RowResult], None] | None = None,
) -> ConfigFit:
    """Evaluate the config's panel on ``rows`` (a majority vote behind it, through
    :func:`~fusionsdk.tuning.base.evaluate_panel`), fit weights on the outcome and, with
    ``max_panel``, choose the best panel of at most that many models (among the ``top_n``
    heaviest, costing at most ``max_cost_usd`` over the rows).

    Answers are read with ``extract`` (any ``fusionsdk.answers`` type, with ``answer_options``),
    else the answer type of the config's fuse node behind the panel (its ``answer:``, or the
    older ``extract:``).

    Each model's right and wrong come from the evaluation. Its answers, needed to simulate votes
    exactly, come from the rows' recorded outputs (replay datasets) where the recording scores
    as the evaluation did; otherwise wrong answers are pooled (a pessimistic simulation).

    ``on_row`` is called with each evaluated row as it finishes (a progress bar).

    Raises:
        ConfigError: Bad arguments (``path`` names the argument) or a config without a panel.
        FusionError: Every row's run failed.
    """
    if max_panel is not None and max_panel < 1:
        raise ConfigError(f"must be at least 1, got {max_panel}", path="max_panel")
    if max_cost_usd is not None and max_panel is None:
        raise ConfigError("limits the panel search: give a maximum panel size too", path="max_cost_usd")
    node, models = panel_of(config, panel)
    spec = AnswerSpec(extract, dict(answer_options or {})) if extract else _answer_of(config, node)
    reader = build_checked(spec, registry, name_path="extract", options_path="answer_options")
    vote = "fit_vote" if node != "fit_vote" else "fit_vote_"
    report = await evaluate_panel(
        config,
        rows,
        scorer,
        panel=node,
        vote=vote,
        vote_options=spec.fields(),
        registry=registry,
        base_dir=base_dir,
        concurrency=concurrency,
        on_row=on_row,
    )
    recorded = {name: config.models[name].model or name for name in models if name in config.models}
    answers = _recorded_answers(report, rows, scorer, recorded)
    table = VoteTable.from_report(report, answers, reader, models)
    fitted = fit_weights(table, extract=spec.name)
    chosen = None
    if max_panel:
        chosen = select_panel(table, fitted, max_size=max_panel, top_n=top_n, max_cost_usd=max_cost_usd)
    return ConfigFit(node, fitted, chosen, report, table)


def _recorded_answers(
    report: EvalReport, rows: Sequence[ReplayRow], scorer: Scorer, recorded: Mapping[str, str]
) -> dict[str, dict[str, str]]:
    by_id = {row.id: row for row in rows}
    answers: dict[str, dict[str, str]] = {}
    for result in report.rows:
        row = by_id.get(result.id)
        if row is None:
            continue
        for name, score in result.model_scores.items():
            text = row.outputs.get(recorded.get(name, name))
            if text is not None and (scorer.score(text, row.answer) >= 0.5) == (score >= 0.5):
                answers.setdefault(row.id, {})[name] = text
    return answers

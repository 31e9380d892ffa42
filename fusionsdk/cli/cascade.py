"""``fusionsdk cascade fit``: choose a cascade (chain, acceptance rule, threshold) on the train
half of a dataset; the same search as ``fusionsdk tune``, limited to cascades and single models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from fusionsdk.cli._common import JSON_OPTION, command_group, print_json
from fusionsdk.cli.base import Command
from fusionsdk.cli.eval import CONCURRENCY, DATASET, SCORER, SEED
from fusionsdk.cli.tune import ANSWER, ANSWER_OPTION, CACHE, FOLDS, print_report, run_tune
from fusionsdk.errors import ConfigError

__all__ = ["CascadeCommand"]


def fit_command(
    config: Path = typer.Argument(..., help="Graph config (YAML) whose models may form the cascade."),
    dataset: Path = DATASET,
    scorer: str = SCORER,
    out: Path = typer.Option(..., "--out", "-o", help="Write the graph config with the cascade here."),
    split: str = typer.Option("train", "--split", help="Fit on this half (only train: test is held out)."),
    seed: int = SEED,
    max_cost_share: float | None = typer.Option(
        None, "--max-cost-share", help="At most this share of the best single model's cost (e.g. 0.3)."
    ),
    answer: str | None = ANSWER,
    answer_option: list[str] = ANSWER_OPTION,
    folds: int = FOLDS,
    cache: Path | None = CACHE,
    concurrency: int = CONCURRENCY,
    as_json: bool = JSON_OPTION,
) -> None:
    """Choose the cascade (models, agreement threshold, answers needed) on the train half by
    cross-validation, within --max-cost-share of the best single model's cost; write it as a
    graph whose ``cascade`` node ``fusionsdk eval --split test`` measures. Without a cascade
    beating the best single model, that model is written, and the report says so."""
    if split != "train":
        raise ConfigError("cascades are fitted on the train half only; test is held out", path="--split")
    data = run_tune(
        config,
        dataset,
        scorer,
        out=out,
        answer=answer,
        answer_options=answer_option,
        budget_share=max_cost_share,
        seed=seed,
        folds=folds,
        families=("single", "cascade"),
        cache=cache,
        concurrency=concurrency,
        quiet=as_json,
    )
    if as_json:
        print_json(data)
        return
    print_report(data)


class CascadeCommand(Command):
    """``fusionsdk cascade``: fit cascades (``cascade fit``)."""

    def build(self) -> Any:
        return command_group("Fit cascades from a dataset.", fit=fit_command)

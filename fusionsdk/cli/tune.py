"""``fusionsdk tune``: choose a single model, fused panel, cascade or learned router on the train
half of a dataset and write it as a ready graph (:mod:`fusionsdk.tuning.tune`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from fusionsdk._sync import run_sync
from fusionsdk.cli._common import JSON_OPTION, print_json, stdout
from fusionsdk.cli.base import Command
from fusionsdk.cli.eval import (
    ADDRESS,
    CONCURRENCY,
    DATASET,
    ENGINE,
    SCORER,
    SEED,
    WORKERS,
    _engine,
    _rows,
    _scorer,
)
from fusionsdk.errors import ConfigError
from fusionsdk.eval.engines import EvalEngine

__all__ = ["TuneCommand", "run_tune"]

_OPTIONS = {"budget_share": "--budget-share", "families": "--family"}

ANSWER = typer.Option(
    None,
    "--answer",
    help="How answers are compared in votes and cascades: any installed answer type (number, choice, "
    "text, json_field, math, python_literal, code_output, plugins); default: the scorer's own.",
)
ANSWER_OPTION = typer.Option(
    [],
    "--answer-option",
    help="An option of the --answer type, KEY=VALUE (repeat), e.g. --answer-option abs_tol=0.01.",
)
FOLDS = typer.Option(5, "--folds", min=2, help="Cross-validation folds inside the train half.")
CACHE = typer.Option(None, "--cache", help="JSONL file of finished rows: resume an interrupted evaluation.")


def run_tune(
    config: Path,
    dataset: Path,
    scorer: str,
    *,
    out: Path,
    answer: str | None,
    budget_share: float | None,
    seed: int,
    folds: int,
    families: Collection[str],
    cache: Path | None,
    concurrency: int,
    quiet: bool,
    answer_options: Sequence[str] = (),
    engine: EvalEngine | None = None,
) -> dict[str, Any]:
    """Evaluate, tune and write ``out``; returns the report (``TuneResult.as_dict``)."""
    from fusionsdk.cli.progress import progress
    from fusionsdk.config.file import load_config
    from fusionsdk.tuning.answer_spec import resolve_answer
    from fusionsdk.tuning.tune import tune_config, write_tuned

    if out.is_dir() or not out.parent.is_dir():
        raise ConfigError(f"cannot write a file at {out}: not a file in an existing folder", path="--out")
    parsed = load_config(config)
    rows = _rows(dataset, None, seed, None)
    judge = _scorer(scorer)
    reading = resolve_answer(answer, answer_options, judge)
    with progress("evaluating every model", total=len(rows), disable=quiet) as bar:
        try:
            result, _ = run_sync(
                tune_config(
                    parsed,
                    rows,
                    judge,
                    seed=seed,
                    answer=reading,
                    budget_share=budget_share,
                    folds=folds,
                    families=families,
                    cache=cache,
                    on_row=bar.advance,
                    concurrency=concurrency,
                    base_dir=config.resolve().parent,
                    engine=engine,
                )
            )
        except ConfigError as err:
            if err.path in _OPTIONS:
                raise ConfigError(err.message, path=_OPTIONS[err.path]) from None
            raise
    write_tuned(out, parsed, result)
    report = result.as_dict()
    report.update(config=str(config), dataset=str(dataset), scorer=scorer, out=str(out))
    return report


def print_report(report: dict[str, Any]) -> None:
    """The terminal report: the best of each family, then the summary lines."""
    from fusionsdk.tuning.report import summary_lines

    table = Table(
        "family",
        "best on CV",
        "CV accuracy",
        "CV cost ratio",
        "test accuracy",
        "test cost ratio",
        "McNemar p",
    )
    for entry in report["families"]:
        test = entry["test"]
        table.add_row(
            entry["family"],
            entry["label"],
            f"{entry['cv_accuracy']:.2%}",
            f"{entry['cv_cost_ratio'] or 0:.2f}x",
            f"{test['accuracy']:.2%}",
            f"{test['cost_ratio'] or 0:.2f}x",
            f"{test['mcnemar']['p_value']:.3g}",
        )
    stdout.print(table)
    for line in summary_lines(report):
        stdout.print(line, markup=False)
    stdout.print(
        f"wrote {report['out']}: check it with fusionsdk eval {report['out']} -d {report['dataset']} "
        f"-s {report['scorer']} --split test --seed {report['seed']}",
        markup=False,
    )


def tune_command(
    config: Path = typer.Argument(..., help="Graph config (YAML) whose models are tuned over."),
    dataset: Path = DATASET,
    scorer: str = SCORER,
    out: Path = typer.Option(..., "--out", "-o", help="Write the tuned graph config (YAML) here."),
    answer: str | None = ANSWER,
    answer_option: list[str] = ANSWER_OPTION,
    budget_share: float | None = typer.Option(
        None, "--budget-share", help="Cost limit, as a share of the best single model's cost (e.g. 0.3)."
    ),
    seed: int = SEED,
    folds: int = FOLDS,
    family: list[str] = typer.Option(
        [], "--family", help="Only these families: single, fusion, cascade, router (repeat; default all)."
    ),
    cache: Path | None = CACHE,
    concurrency: int = CONCURRENCY,
    as_json: bool = JSON_OPTION,
    report: Path | None = typer.Option(None, "--report", help="Write an HTML report with the frontier here."),
    engine: str = ENGINE,
    address: str | None = ADDRESS,
    workers: int | None = WORKERS,
) -> None:
    """Evaluate every model of the config once, choose on the train half (k-fold
    cross-validation) among single models, fused panels, cascades and learned routers, write the
    winner as a ready graph and report its held-out accuracy (95% interval), cost against the best
    single model and McNemar's test against it."""
    from fusionsdk.tuning.tune import FAMILIES

    runner = _engine(engine, address, workers)
    try:
        data = run_tune(
            config,
            dataset,
            scorer,
            out=out,
            answer=answer,
            answer_options=answer_option,
            budget_share=budget_share,
            seed=seed,
            folds=folds,
            families=family or FAMILIES,
            cache=cache,
            concurrency=concurrency,
            quiet=as_json,
            engine=runner,
        )
    finally:
        run_sync(runner.aclose())  # a local Ray started for the command stops
    if report is not None:
        from fusionsdk.tuning.report import render_html

        report.write_text(render_html(data, title=f"tune {config.name} on {dataset.name}"), encoding="utf-8")
    if as_json:
        print_json(data)
        return
    print_report(data)


class TuneCommand(Command):
    """``fusionsdk tune``: choose and write the best policy for a config's models."""

    def build(self) -> Any:
        return tune_command

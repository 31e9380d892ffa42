"""``fusionsdk fusion fit``: learn ``weighted_vote`` weights and a panel from a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from fusionsdk._sync import run_sync
from fusionsdk.cli._common import JSON_OPTION, command_group, print_json, stdout
from fusionsdk.cli.base import Command
from fusionsdk.cli.eval import CONCURRENCY, DATASET, LIMIT, SCORER, SEED, SPLIT, _rows, _scorer
from fusionsdk.cli.progress import progress
from fusionsdk.errors import ConfigError

__all__ = ["FusionCommand"]

# Arguments of fit_config and the options that carry them, so errors name the option.
_OPTIONS = {
    "panel": "--panel",
    "max_panel": "--max-panel",
    "extract": "--answer",
    "answer_options": "--answer-option",
    "max_cost_usd": "--max-cost",
}


def fit_command(
    config: Path = typer.Argument(..., help="Graph config (YAML) with a panel node."),
    dataset: Path = DATASET,
    scorer: str = SCORER,
    out: Path = typer.Option(..., "--out", "-o", help="Write the weights file (JSON) here."),
    split: str | None = SPLIT,
    seed: int = SEED,
    limit: int | None = LIMIT,
    max_panel: int | None = typer.Option(
        None, "--max-panel", help="Also choose the best panel of at most K models."
    ),
    top_n: int = typer.Option(10, "--top-n", min=1, help="Panels are searched among the N heaviest models."),
    max_cost: float | None = typer.Option(
        None, "--max-cost", help="The panel may cost at most this many USD over the rows evaluated."
    ),
    panel: str | None = typer.Option(None, "--panel", help="The panel node (needed when there are several)."),
    answer: str | None = typer.Option(
        None,
        "--answer",
        "--extract",
        help="How answers are read and compared: any installed answer type (text, number, choice, "
        "json_field, math, python_literal, code_output, plugins); default: the answer type of the "
        "config's fuse node behind the panel (its answer:, or the older extract:). --extract is its "
        "older name.",
    ),
    answer_option: list[str] = typer.Option(
        [],
        "--answer-option",
        help="An option of the --answer type, KEY=VALUE (repeat), e.g. --answer-option abs_tol=0.01.",
    ),
    concurrency: int = CONCURRENCY,
    as_json: bool = JSON_OPTION,
) -> None:
    """Evaluate the config's panel on the dataset, learn each model's vote weight (the log-odds
    of its accuracy), optionally choose the best panel of at most --max-panel models, write the
    weights file and print a summary. Use it with
    ``{kind: fuse, strategy: weighted_vote, options: {weights_file: OUT}}``."""
    from fusionsdk.config.file import load_config
    from fusionsdk.fusion.weights_file import write_weights
    from fusionsdk.tuning.answer_spec import parse_answer_options
    from fusionsdk.tuning.fusion_fit import fit_config

    if out.is_dir() or not out.parent.is_dir():
        raise ConfigError(f"cannot write a file at {out}: not a file in an existing folder", path="--out")
    answer_options = parse_answer_options(answer_option)
    if answer_options and answer is None:
        raise ConfigError(
            "answer options need --answer (the answer type they belong to)", path="--answer-option"
        )
    parsed = load_config(config)
    rows = _rows(dataset, split, seed, limit)
    judge = _scorer(scorer)
    try:
        with progress("fusion fit: evaluating the panel", total=len(rows)) as bar:
            fit = run_sync(
                fit_config(
                    parsed,
                    rows,
                    judge,
                    panel=panel,
                    max_panel=max_panel,
                    extract=answer,
                    answer_options=answer_options,
                    top_n=top_n,
                    max_cost_usd=max_cost,
                    concurrency=concurrency,
                    base_dir=config.resolve().parent,
                    on_row=bar.advance,
                )
            )
    except ConfigError as err:
        if err.path in _OPTIONS:
            raise ConfigError(err.message, path=_OPTIONS[err.path]) from None
        raise
    data = fit.weights_data(config=str(config), dataset=str(dataset), scorer=scorer, split=split, seed=seed)
    try:
        write_weights(out, data)
    except OSError as err:
        raise ConfigError(f"cannot write {out}: {err.strerror or err}", path="--out") from None
    if as_json:
        print_json(data.to_json())
        return
    _print_summary(fit, data.to_json(), out)


def _print_summary(fit: Any, data: dict[str, Any], out: Path) -> None:
    fitted, table = fit.fitted, fit.table
    records = table.records()
    listing = Table("model", "accuracy", "weight", "cost (USD)", "in panel")
    for model in sorted(table.models, key=lambda m: -fitted.weights[m]):
        right, wrong = records[model]
        listing.add_row(
            model,
            f"{right / max(1, right + wrong):.4f}",
            f"{fitted.weights[model]:.3f}",
            f"{table.cost([model]):.4f}",
            "yes" if model in data["panel"] else "",
        )
    stdout.print(listing)
    single = data["best_single"]
    answers = "recorded answers" if table.exact else "pooled wrong answers (no recorded answers)"
    lines = [
        f"{fitted.n} questions, {len(table.models)} models, {answers}; "
        f"integer bonus {fitted.integer_bonus:g}",
        f"weighted vote {fitted.accuracy:.4f} · majority vote {fitted.majority_accuracy:.4f} · best single "
        f"{single['model']} {single['accuracy']:.4f} (${single['cost_usd']:.4f}) · "
        f"all models ${data['cost_usd']:.4f}",
    ]
    if fit.panel is not None:
        ratio = fit.panel.cost_usd / single["cost_usd"] if single["cost_usd"] else float("nan")
        lines.append(
            f"panel {', '.join(fit.panel.models)}: {fit.panel.accuracy:.4f} at "
            f"${fit.panel.cost_usd:.4f} ({ratio:.1f}x the best single model)"
        )
    lines.append(
        f"wrote {out}: use it with {{kind: fuse, strategy: weighted_vote, options: {{weights_file: {out}}}}}"
    )
    for line in lines:
        stdout.print(line, markup=False)


class FusionCommand(Command):
    """``fusionsdk fusion``: learn fusion weights and panels (``fusion fit``)."""

    def build(self) -> Any:
        return command_group("Learn fusion weights and panels from a dataset.", fit=fit_command)

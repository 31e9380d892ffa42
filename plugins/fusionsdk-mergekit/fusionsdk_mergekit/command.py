"""``fusionsdk merge RECIPE.yaml --out DIR``: merge models' weights with mergekit.

The recipe is validated completely before any weight is read; then mergekit runs (on the CPU
unless ``--device`` says otherwise) with a progress bar on stderr, and a summary is printed.
torch, transformers and mergekit are imported only when the command runs, so mounting it does
not slow down the rest of ``fusionsdk``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from fusionsdk.cli.base import Command
from fusionsdk.errors import ConfigError
from rich.console import Console

__all__ = ["MergeCommand", "merge_command"]

_stdout = Console(highlight=False, soft_wrap=True)
_stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def merge_command(
    recipe: Path = typer.Argument(
        ..., help="A mergekit recipe (YAML): merge_method, base_model, models, ..."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Directory to write the merged model to."),
    device: str = typer.Option("cpu", "--device", help="Where to compute: cpu, cuda, cuda:N, mps or auto."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the random methods (dare_*)."),
    force: bool = typer.Option(False, "--force", help="Write into a directory that is not empty."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only validate the recipe and its models."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Merge models' weights as a mergekit recipe says (linear, slerp, task_arithmetic, ties,
    dare_ties, dare_linear, ...) and write a Hugging Face model directory a graph can use with
    {provider: transformers, options: {path: DIR}}."""
    from fusionsdk.cli.progress import progress_columns
    from rich.progress import Progress

    from fusionsdk_mergekit.merge import merge_models
    from fusionsdk_mergekit.recipe import load_recipe

    checked = load_recipe(recipe)
    if dry_run:
        _report(
            {**checked.summary(), "valid": True},
            as_json,
            f"{recipe}: valid ({checked.method}, {len(checked.models)} models, {checked.architecture})",
        )
        return
    if out is None:
        raise ConfigError("give the directory to write the merged model to", path="--out")
    with Progress(*progress_columns(), console=_stderr, transient=True, disable=no_progress) as progress:
        result = merge_models(checked, out, device=device, seed=seed, overwrite=force, progress=progress)
    _report(
        result.as_dict(),
        as_json,
        f"merged {len(result.models)} models with {result.method} into {result.out_dir} "
        f"({result.tensors} tensors, {result.device}, {result.seconds:.1f}s)\n"
        f"use it: {{provider: transformers, options: {{path: {result.out_dir}}}}}",
    )


def _report(data: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
    else:
        _stdout.print(text, markup=False)


class MergeCommand(Command):
    """``fusionsdk merge``: merge models' weights with mergekit (SLERP, TIES, DARE, ...)."""

    def build(self) -> Any:
        return merge_command

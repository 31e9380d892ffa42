"""``fusionsdk validate CONFIG`` and ``fusionsdk schema``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from fusionsdk.cli._common import stdout
from fusionsdk.cli.base import Command
from fusionsdk.config.file import FusionConfig
from fusionsdk.graph import compile_file

__all__ = ["SchemaCommand", "ValidateCommand"]


def validate(config: Path = typer.Argument(..., help="Config file to check.")) -> None:
    """Check a config completely (models, providers, nodes, edges) without running anything.

    Exits 0 with a one-line summary, or non-zero with the error and its path.
    """
    from fusionsdk.config.file import load_config
    from fusionsdk.providers.hub import ModelHub

    loaded = load_config(config)
    if loaded.nodes:
        compile_file(config)
    else:
        ModelHub(loaded)
    stdout.print(
        f"{config}: ok ({len(loaded.models)} models, {len(loaded.nodes)} nodes, {len(loaded.edges)} edges)",
        markup=False,
    )


def schema() -> None:
    """Print the config file's JSON Schema (for editor autocompletion)."""
    typer.echo(json.dumps(FusionConfig.model_json_schema(), indent=2))


class ValidateCommand(Command):
    """``fusionsdk validate``: check a config."""

    def build(self) -> Any:
        return validate


class SchemaCommand(Command):
    """``fusionsdk schema``: the config JSON Schema."""

    def build(self) -> Any:
        return schema

"""Options and helpers the built-in commands share."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from fusionsdk.providers.hub import ModelHub

stdout = Console(highlight=False, soft_wrap=True)

CONFIG_OPTION = typer.Option(
    None, "--config", "-c", help="YAML config file (default: the embedded models smollm2 and gemma3)."
)
JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")


def open_hub(config: Path | None) -> ModelHub:
    """The hub of ``config``, or of the embedded models when no config is given."""
    return ModelHub.from_file(config) if config is not None else ModelHub.embedded()


def print_json(data: Any) -> None:
    """Print ``data`` as one JSON document on stdout (no colour, no wrapping)."""
    typer.echo(json.dumps(data, ensure_ascii=False))


def command_group(help_text: str, **commands: Callable[..., Any]) -> typer.Typer:
    """A ``fusionsdk <group>`` sub-app with the given subcommands, by name."""
    app = typer.Typer(help=help_text, no_args_is_help=True, add_completion=False)
    for name, function in commands.items():
        app.command(name=name)(function)
    return app

"""Options and helpers the built-in commands share."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console, ConsoleDimensions

from fusionsdk.providers.hub import ModelHub

#: How wide output written to a pipe or a file may be: tables keep their natural width there.
PIPE_WIDTH = 10_000


class OutputConsole(Console):
    """A rich Console that, when it writes to a pipe or a file, is as wide as its content needs
    (tables are not cut at the terminal's or an assumed 80 columns). ``COLUMNS`` or an explicit
    ``width`` still win."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self._width is None and not self.is_terminal and "COLUMNS" not in self._environ:
            return ConsoleDimensions(PIPE_WIDTH, size.height)
        return size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


stdout = OutputConsole(highlight=False, soft_wrap=True)
#: Warnings, progress bars and errors: never mixed into stdout (``--json`` stays parseable).
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

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

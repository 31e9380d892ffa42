"""``fusionsdk graph CONFIG --mermaid``: draw a graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from fusionsdk.cli.base import Command
from fusionsdk.graph import compile_file

__all__ = ["GraphCommand"]


def graph(
    config: Path = typer.Argument(..., help="Graph config (YAML)."),
    mermaid: bool = typer.Option(True, "--mermaid/--no-mermaid", help="Print a Mermaid flowchart."),
    png: Path | None = typer.Option(None, "--png", help="Also write a PNG here (needs pygraphviz)."),
) -> None:
    """Print the compiled graph as Mermaid (and optionally write a PNG)."""
    compiled = compile_file(config)
    if mermaid:
        typer.echo(compiled.mermaid())
    if png is not None:
        png.write_bytes(compiled.png())
        typer.echo(f"wrote {png}", err=True)


class GraphCommand(Command):
    """``fusionsdk graph``: draw a graph."""

    def build(self) -> Any:
        return graph

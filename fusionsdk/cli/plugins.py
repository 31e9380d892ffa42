"""``fusionsdk plugins list|show``: what the registry found, and each plugin's options."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from fusionsdk.cli._common import JSON_OPTION, print_json, stdout
from fusionsdk.cli.base import Command
from fusionsdk.errors import PluginError
from fusionsdk.registry import PluginKind, default_registry

__all__ = ["PluginsCommand"]

app = typer.Typer(help="Inspect installed plugins.", no_args_is_help=True)


@app.command("list")
def list_plugins(
    kind: str | None = typer.Option(None, "--kind", "-k", help="Only this kind (e.g. fusers)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List plugins with kind, distribution, version and status (importing each to check it)."""
    records = default_registry().load_all(PluginKind.parse(kind) if kind else None)
    rows = [r.as_dict() for r in records]
    if as_json:
        print_json(rows)
        return
    table = Table("kind", "name", "distribution", "version", "status", "error")
    for row in rows:
        colour = {"loaded": "green", "error": "red", "blocked": "yellow"}.get(row["status"], "")
        table.add_row(
            row["kind"],
            row["name"],
            row["distribution"],
            row["version"],
            f"[{colour}]{row['status']}[/]" if colour else row["status"],
            row["error"] or "",
        )
    stdout.print(table)


@app.command("show")
def show_plugin(
    name: str = typer.Argument(..., help="Plugin name, or distribution:name."),
    kind: str | None = typer.Option(None, "--kind", "-k", help="The kind, when the name is in several."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a plugin's docstring and options schema."""
    registry = default_registry()
    kinds = (
        [PluginKind.parse(kind)]
        if kind
        else [k for k in PluginKind if any(r.name == name.rpartition(":")[2] for r in registry.records(k))]
    )
    if not kinds:
        raise PluginError(f"no plugin named '{name}' of any kind (see: fusionsdk plugins list)")
    if len(kinds) > 1:
        raise PluginError(
            f"'{name}' names plugins of several kinds ({', '.join(k.value for k in kinds)}); pass --kind"
        )
    info = registry.describe(kinds[0], name)
    if as_json:
        print_json(info)
        return
    stdout.print(f"[bold]{info['name']}[/] ({info['kind']}, {info['distribution']} {info['version']})")
    stdout.print(info["doc"] or "(no docstring)", markup=False)
    stdout.print("\n[bold]options[/]")
    stdout.print(json.dumps(info["options_schema"], indent=2), markup=False)


class PluginsCommand(Command):
    """``fusionsdk plugins``: list and inspect plugins."""

    def build(self) -> Any:
        return app

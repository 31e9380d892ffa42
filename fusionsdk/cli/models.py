"""``fusionsdk models``: the configured models and whether each is reachable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from fusionsdk._sync import run_sync
from fusionsdk.cli._common import CONFIG_OPTION, JSON_OPTION, open_hub, print_json, stdout
from fusionsdk.cli.base import Command

__all__ = ["ModelsCommand"]


def models(config: Path | None = CONFIG_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List the models of a config (or the embedded ones) and probe each.

    Served models are probed with a cheap GET (health or model list); hosted APIs are only
    checked for their key, so listing never spends tokens. Each model's locality comes with the
    reason for it (the config, the ``base_url`` host, or the provider).
    """
    hub = open_hub(config)
    reach = run_sync(hub.reachability())
    rows = [
        {
            "name": name,
            "provider": model.spec.provider,
            "model": model.spec.model,
            "base_url": model.spec.base_url,
            "locality": model.locality,
            "locality_reason": model.provider.locality_decision.reason,
            "status": reach[name].status,
            "detail": reach[name].detail,
        }
        for name, model in hub.items()
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("name", "provider", "model", "locality", "why", "status", "detail")
    for row in rows:
        colour = "green" if row["status"] == "ok" else "yellow"
        table.add_row(
            row["name"],
            row["provider"],
            row["model"] or "",
            row["locality"],
            row["locality_reason"],
            f"[{colour}]{row['status']}[/]",
            row["detail"],
        )
    stdout.print(table)


class ModelsCommand(Command):
    """``fusionsdk models``: list models and their reachability."""

    def build(self) -> Any:
        return models

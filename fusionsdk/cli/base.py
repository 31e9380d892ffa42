"""The CLI command contract (plugins of ``fusionsdk.commands``).

A command plugin contributes a subcommand to ``fusionsdk``: :meth:`Command.build` returns a
``typer.Typer`` (a command group) or a plain function (a single command). fusionsdk's own
commands (``ask``, ``models``, ``plugins``) are registered exactly this way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from fusionsdk.plugin import OptionsT, PluginBase

__all__ = ["Command"]


class Command(PluginBase[OptionsT], ABC):
    """Base class of CLI subcommands; the entry-point name is the subcommand's name."""

    @abstractmethod
    def build(self) -> Any | Callable[..., Any]:
        """Return a ``typer.Typer`` or a function typer can turn into a command."""

"""Conformance suite of CLI command plugins (``fusionsdk.commands``).

A command plugin's :meth:`~fusionsdk.cli.base.Command.build` returns a ``typer.Typer`` or a
function typer can turn into a command; the suite mounts it on a fresh app, the way
``fusionsdk`` does, and checks that ``--help`` works.
"""

from __future__ import annotations

from typing import Any, ClassVar

import typer
from typer.testing import CliRunner

from fusionsdk.cli.base import Command
from fusionsdk.registry import PluginKind
from fusionsdk.testing.conformance._common import PluginConformance

__all__ = ["CommandConformance"]


class CommandConformance(PluginConformance):
    """Conformance suite of command plugins; set ``plugin_class`` to your :class:`Command`.

    Attributes:
        command_name: The subcommand name to mount it under (its entry-point name).
    """

    kind: ClassVar[PluginKind] = PluginKind.COMMANDS
    command_name: ClassVar[str] = "plugin-command"

    def mount(self, plugin: Command) -> typer.Typer:
        """A root app with the plugin mounted as ``fusionsdk`` mounts it."""
        app = typer.Typer(add_completion=False)

        @app.callback()
        def root() -> None:
            """Root."""

        built = plugin.build()
        if isinstance(built, typer.Typer):
            app.add_typer(built, name=self.command_name)
        else:
            app.command(name=self.command_name)(built)
        return app

    def test_build_returns_a_typer_app_or_a_function(self, plugin: Command) -> None:
        built: Any = plugin.build()
        assert isinstance(built, typer.Typer) or callable(built), f"build returned {built!r}"

    def test_mounts_and_shows_help(self, plugin: Command) -> None:
        result = CliRunner().invoke(self.mount(plugin), [self.command_name, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output

    def test_can_be_built_twice(self, plugin: Command) -> None:
        # `fusionsdk` builds its app once per run, but tests and notebooks build it again.
        self.mount(plugin)
        self.mount(plugin)

"""The ``fusionsdk`` command: a typer app whose subcommands are ``fusionsdk.commands`` plugins.

It only parses, calls the library and prints. Errors print one line (a traceback with
``--debug``) and exit non-zero: 2 for configuration errors, 1 for everything else (unexpected
exceptions included: no traceback reaches the user without ``--debug``). Warnings the
library logs on the ``fusionsdk`` logger (a model fell back, a panel member was left out, a
memory is empty) are printed on stderr as ``warning: ...``, each distinct one once.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import typer
from rich.text import Text

from fusionsdk.cli._common import stderr
from fusionsdk.errors import ConfigError, FusionError, PluginError

try:  # typer >= 0.20 vendors click; its exceptions are not the standalone package's
    from typer._click.exceptions import ClickException  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - older typer
    from click import ClickException  # type: ignore[assignment]
from fusionsdk.registry import PluginKind, default_registry

__all__ = ["build_app", "main", "package_version"]


def package_version() -> str:
    """The installed fusionsdk version (``unknown`` when it is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fusionsdk")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"fusionsdk {package_version()}")
        raise typer.Exit()


class _WarningPrinter(logging.Handler):
    """Prints ``fusionsdk`` warnings on stderr, each distinct message once (an evaluation of a
    thousand rows that all fall back warns once, then says how many repeats it held back)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: set[str] = set()
        self.repeats = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message in self.seen:
            self.repeats += 1
            return
        self.seen.add(message)
        label = ("error: ", "red") if record.levelno >= logging.ERROR else ("warning: ", "yellow")
        stderr.print(Text.assemble(label, message))


@contextmanager
def _warnings_on_stderr() -> Iterator[None]:
    logger = logging.getLogger("fusionsdk")
    printer = _WarningPrinter()
    logger.addHandler(printer)
    try:
        yield
    finally:
        logger.removeHandler(printer)
        if printer.repeats:
            stderr.print(Text(f"({printer.repeats} repeated warnings not shown)", style="yellow"))


def build_app() -> typer.Typer:
    """The root app with every command plugin mounted; a broken plugin is reported, skipped."""
    app = typer.Typer(
        name="fusionsdk",
        help="Route, fan out, fuse and arbitrate across local and hosted LLMs.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def root(
        debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
        version: bool = typer.Option(
            False, "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
        ),
    ) -> None:
        """fusionsdk: multi-LLM orchestration."""

    registry = default_registry()
    for record in registry.records(PluginKind.COMMANDS):
        if record.status == "blocked":
            continue
        try:
            command = registry.get(PluginKind.COMMANDS, record.qualified_name)().build()
        except (FusionError, Exception) as err:  # one broken plugin must not take the CLI down
            stderr.print(
                Text.assemble(("warning: ", "yellow"), f"command plugin '{record.name}' skipped: {err}")
            )
            continue
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=record.name)
        else:
            app.command(name=record.name)(command)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        return _main(args, debug)
    finally:
        if argv is None:  # the console script: the process ends next, so stop background work
            from fusionsdk._sync import shutdown

            shutdown()


def _main(args: list[str], debug: bool) -> int:
    try:
        with _warnings_on_stderr():
            build_app()(args=args, prog_name="fusionsdk", standalone_mode=False)
    except FusionError as err:
        if debug:
            traceback.print_exc()
        stderr.print(Text.assemble(("error: ", "red"), str(err)))
        return 2 if isinstance(err, ConfigError | PluginError) else 1
    except typer.Exit as exit_:
        return int(exit_.exit_code)
    except ClickException as err:
        err.show()
        return int(err.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        stderr.print("aborted")
        return 130
    except Exception as err:  # a bug or an unforeseen input: one line, the traceback with --debug
        from fusionsdk.providers.secrets import redact

        if debug:
            traceback.print_exc()
        hint = "" if debug else " (run with --debug for the traceback)"
        stderr.print(
            Text.assemble(
                ("error: ", "red"), f"unexpected {type(err).__name__}: {redact(str(err))[:300]}{hint}"
            )
        )
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

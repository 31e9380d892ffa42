"""``fusionsdk feedback RUN_ID SCORE``: score a run so that the routers behind it learn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from fusionsdk.cli._common import JSON_OPTION, print_json, stdout
from fusionsdk.cli.base import Command

__all__ = ["FeedbackCommand"]


def feedback_command(
    run_id: str = typer.Argument(
        ..., help="The run's thread id (RunResult.thread_id, `fusionsdk run --json`)."
    ),
    score: float = typer.Argument(..., help="How good the answer was: 0 (wrong) to 1 (right)."),
    log: Path | None = typer.Option(None, "--log", help="The feedback log (default: under FUSIONSDK_HOME)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Record a score for a run and update the learning routers (``learned``) that routed it;
    their model files are rewritten atomically. Each run takes feedback once."""
    from fusionsdk.registry import default_registry
    from fusionsdk.routing.feedback import FeedbackLog, apply_feedback

    # The routers are rebuilt from the registry the CLI's graphs are compiled with (`fusionsdk run`).
    registry = default_registry()
    feedback_log = FeedbackLog(log) if log is not None else None
    outcome = apply_feedback(run_id, score, log=feedback_log, registry=registry)
    if as_json:
        print_json(outcome.__dict__)
        return
    updated = ", ".join(outcome.updated) or "none (their targets are not in the model files)"
    stdout.print(
        f"run {run_id}: score {outcome.score:g} recorded for {outcome.decisions} routing decision(s); "
        f"routers updated: {updated}",
        markup=False,
    )


class FeedbackCommand(Command):
    """``fusionsdk feedback``: score a run; learning routers update from it."""

    def build(self) -> Any:
        return feedback_command

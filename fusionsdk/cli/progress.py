"""Progress bars for long commands, on stderr, with the time left.

Every command that works through many items (files to embed, dataset rows to evaluate, models
to call) shows one bar with :func:`progress`. The bar goes to stderr, so ``--json`` output on
stdout stays clean; it shows nothing when stderr is not a terminal (CI logs, redirects) or when
``disable`` is set, and disappears when the work is done.

Example:
    >>> with progress("eval", total=len(rows)) as bar:  # doctest: +SKIP
    ...     report = run_sync(evaluate(graph, rows, scorer, on_row=bar.advance))
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from fusionsdk.cli._common import stderr

__all__ = ["ProgressBar", "progress", "progress_columns"]


def progress_columns() -> tuple[ProgressColumn, ...]:
    """The columns every fusionsdk bar shows: what, bar, done/total, elapsed and time left."""
    return (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("·"),
        TimeElapsedColumn(),
        TextColumn("· ETA"),
        TimeRemainingColumn(),
    )


class ProgressBar:
    """One task of a rich progress display; :meth:`advance` takes (and ignores) any arguments, so
    it can be handed over as an ``on_row`` or ``on_batch`` callback directly."""

    def __init__(self, display: Progress, task: TaskID) -> None:
        self._display = display
        self._task = task

    def advance(self, *_: Any, steps: float = 1) -> None:
        """Count ``steps`` more items done."""
        self._display.advance(self._task, steps)

    def set_total(self, total: float | None) -> None:
        """Say how many items there are (once known; the ETA needs it)."""
        self._display.update(self._task, total=total)

    def describe(self, description: str) -> None:
        """Change what the bar says it is doing."""
        self._display.update(self._task, description=description)

    @property
    def completed(self) -> float:
        """Items done so far."""
        return next(t.completed for t in self._display.tasks if t.id == self._task)


@contextlib.contextmanager
def progress(
    description: str,
    total: float | None = None,
    *,
    disable: bool = False,
    console: Console | None = None,
) -> Iterator[ProgressBar]:
    """Show a bar with its ETA while the block runs.

    Args:
        description: What is being done (``memory add``, ``eval``).
        total: How many items (None until known: see :meth:`ProgressBar.set_total`).
        disable: Show nothing (e.g. ``--no-progress``).
        console: Where to draw (default: stderr); nothing is drawn unless it is a terminal.

    Yields:
        The :class:`ProgressBar` to advance.
    """
    target = console or stderr
    with Progress(
        *progress_columns(),
        console=target,
        transient=True,
        disable=disable or not target.is_terminal,
    ) as display:
        yield ProgressBar(display, display.add_task(description, total=total))

"""Show mergekit's progress on a rich progress bar.

mergekit reports progress through ``tqdm.tqdm`` (loading models, executing the merge graph,
writing shards). :func:`mergekit_progress` points the ``tqdm`` name inside mergekit's modules at
a small tqdm look-alike that drives a :class:`rich.progress.Progress` instead, for the duration
of one merge. If a future mergekit moves its progress reporting elsewhere, the merge still runs
and only the bar is missing.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterable, Iterator
from types import SimpleNamespace
from typing import Any

from rich.progress import Progress, TaskID

__all__ = ["RichTqdm", "mergekit_progress"]

#: mergekit modules that call ``tqdm.tqdm`` during a merge.
_MODULES = ("mergekit.merge", "mergekit.graph", "mergekit.multigpu_executor", "mergekit.tokenizer.build")


class RichTqdm:
    """The part of ``tqdm.tqdm``'s interface mergekit uses, shown as a task of a rich Progress.

    Args:
        progress: The rich progress display to add a task to.
        iterable: Items to iterate over (advancing the bar once per item).
        desc: The task's label.
        total: The number of steps; ``len(iterable)`` when omitted.
        disable: Show nothing (mergekit passes its ``quiet`` option here).
    """

    def __init__(
        self,
        progress: Progress,
        iterable: Iterable[Any] | None = None,
        desc: str | None = None,
        total: float | None = None,
        disable: bool = False,
        **_: Any,
    ) -> None:
        self._progress = progress
        self._iterable = iterable
        if total is None and iterable is not None:
            with contextlib.suppress(TypeError):
                total = len(iterable)  # type: ignore[arg-type]
        label = (desc or "merging")[0].lower() + (desc or "merging")[1:]
        self._task: TaskID | None = None if disable else progress.add_task(label, total=total)

    def __iter__(self) -> Iterator[Any]:
        for item in self._iterable or ():
            yield item
            self.update(1)

    def update(self, n: float = 1) -> None:
        """Advance the bar by ``n`` steps."""
        if self._task is not None:
            self._progress.advance(self._task, n)

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        """Relabel the task."""
        if self._task is not None and desc:
            self._progress.update(self._task, description=desc)

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        """Ignored (tqdm's status text after the bar)."""

    def close(self) -> None:
        """Nothing to release: the rich display owns the tasks."""

    def __enter__(self) -> RichTqdm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def mergekit_progress(progress: Progress) -> Iterator[None]:
    """Within the block, mergekit's progress bars are tasks of ``progress``.

    Not re-entrant: run one merge at a time per process while it is active.
    """

    def factory(*args: Any, **kwargs: Any) -> RichTqdm:
        return RichTqdm(progress, *args, **kwargs)

    shim = SimpleNamespace(tqdm=factory)
    patched: list[tuple[Any, Any]] = []
    try:
        for name in _MODULES:
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
            if hasattr(module, "tqdm"):
                patched.append((module, module.tqdm))
                module.tqdm = shim  # type: ignore[attr-defined]
        yield
    finally:
        for module, original in patched:
            module.tqdm = original

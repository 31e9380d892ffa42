"""Where an evaluation's rows run: in this process, or spread over a Ray cluster.

An engine is a plugin of ``fusionsdk.engines`` (:class:`EvalEngine`); :func:`build_engine`
makes one by name. The harness (:func:`fusionsdk.eval.harness.evaluate`), ``fusionsdk eval
--engine`` and the tuning code all take one, so a sweep or a fit moves to a cluster by name::

    report = await evaluate(graph, rows, scorer, engine=build_engine("ray", {"num_cpus": 2}))

``in_process`` (the default) runs rows concurrently on this event loop. ``ray`` ships the
graph's config (as data, with its folder), the scorer and batches of rows to Ray tasks; each
worker process compiles the graph once and runs its batch with the same per-row code, so the
figures are those of an in-process run. Tasks whose worker dies (or that raise) are retried
``max_retries`` times; each finished batch feeds the progress callback.
"""

from __future__ import annotations

import asyncio
import math
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from fusionsdk.errors import require_extra
from fusionsdk.plugin import PluginBase, PluginOptions

if TYPE_CHECKING:
    from fusionsdk.eval.base import Scorer
    from fusionsdk.eval.harness import RowResult
    from fusionsdk.graph.run import Graph
    from fusionsdk.providers.replay import ReplayRow
    from fusionsdk.registry import Registry

__all__ = ["EvalEngine", "InProcessEngine", "OnRow", "RayEngine", "build_engine"]

#: Called with each row's result as it arrives (progress bars).
OnRow = Callable[["RowResult"], None]


class EvalEngine(PluginBase[Any], ABC):
    """Base of evaluation engines: run every row of a dataset through a graph and score it."""

    @abstractmethod
    async def map_rows(
        self,
        graph: Graph,
        rows: Sequence[ReplayRow],
        scorer: Scorer,
        *,
        concurrency: int,
        on_row: OnRow | None = None,
    ) -> list[RowResult]:
        """The result of each row, in the order of ``rows``."""

    async def aclose(self) -> None:
        """Release what the engine started (a local Ray cluster)."""


class InProcessEngine(EvalEngine):
    """Rows run concurrently (``concurrency`` at a time) on the current event loop."""

    class Options(PluginOptions):
        """No options."""

    async def map_rows(
        self,
        graph: Graph,
        rows: Sequence[ReplayRow],
        scorer: Scorer,
        *,
        concurrency: int,
        on_row: OnRow | None = None,
    ) -> list[RowResult]:
        from fusionsdk.eval.harness import run_row

        gate = asyncio.Semaphore(concurrency)

        async def one(row: ReplayRow) -> RowResult:
            async with gate:
                outcome = await run_row(graph, row, scorer)
            if on_row is not None:
                on_row(outcome)
            return outcome

        return list(await asyncio.gather(*(one(row) for row in rows)))


_GRAPHS: dict[str, Graph] = {}  # a Ray worker's compiled graphs, by config


def _run_batch(
    config: dict[str, Any], base_dir: str, cwd: str, scorer: Scorer, rows: list[ReplayRow], concurrency: int
) -> list[RowResult]:
    """A Ray task: compile the graph (once per worker process) and run a batch of rows, from the
    driver's working folder when this machine has it (paths relative to it then resolve)."""
    import json
    import os

    if os.path.isdir(cwd) and os.getcwd() != cwd:
        os.chdir(cwd)

    from fusionsdk._sync import run_sync
    from fusionsdk.graph.compiler import compile_config

    key = json.dumps([config, base_dir], sort_keys=True)
    graph = _GRAPHS.get(key)
    if graph is None:
        graph = _GRAPHS[key] = compile_config(config, base_dir=Path(base_dir))
    return run_sync(InProcessEngine().map_rows(graph, rows, scorer, concurrency=concurrency))


class RayEngine(EvalEngine):
    """Rows spread over Ray tasks, in batches. Connects to ``address`` (``auto``, or
    ``ray://host:10001``), else starts a local Ray with ``num_cpus`` workers. Every Ray node
    needs fusionsdk (and the config's plugins) installed and the files the config names
    (replay datasets, weights files) at the same paths; workers run from the driver's working
    folder where it exists. Plugins registered in code (``register``) are not seen by workers:
    package them as entry points.
    """

    class Options(PluginOptions):
        """Ray engine options.

        Attributes:
            address: Cluster to join (None starts a local one).
            num_cpus: Worker CPUs of a local cluster (None: all of the machine's).
            batch_size: Rows per Ray task (None: about 16 tasks per CPU, at most 256 rows).
            max_retries: Retries of a task whose worker died or that raised.
            num_cpus_per_task: CPUs Ray reserves for each task.
        """

        address: str | None = None
        num_cpus: int | None = Field(None, ge=1)
        batch_size: int | None = Field(None, ge=1)
        max_retries: int = Field(3, ge=0)
        num_cpus_per_task: float = Field(1.0, gt=0)

    def __init__(
        self, options: PluginOptions | Mapping[str, Any] | None = None, *, registry: Registry | None = None
    ) -> None:
        super().__init__(options, registry=registry)
        self._started = False

    def _ray(self) -> Any:
        ray = require_extra("ray", "ray", "Evaluations on Ray")
        opts: RayEngine.Options = self.options
        if not ray.is_initialized():
            ray.init(
                address=opts.address,
                num_cpus=opts.num_cpus if opts.address is None else None,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
            self._started = True
        return ray

    def _batch_size(self, ray: Any, n: int) -> int:
        opts: RayEngine.Options = self.options
        if opts.batch_size is not None:
            return opts.batch_size
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        return max(1, min(256, math.ceil(n / (16 * cpus))))

    async def map_rows(
        self,
        graph: Graph,
        rows: Sequence[ReplayRow],
        scorer: Scorer,
        *,
        concurrency: int,
        on_row: OnRow | None = None,
    ) -> list[RowResult]:
        from fusionsdk.graph.builder import config_to_data

        ray = self._ray()
        opts: RayEngine.Options = self.options
        task = ray.remote(_run_batch).options(
            max_retries=opts.max_retries, retry_exceptions=True, num_cpus=opts.num_cpus_per_task
        )
        config = ray.put(config_to_data(graph.config))
        base_dir = str(Path(graph.context.base_dir).resolve())
        size = self._batch_size(ray, len(rows))
        batches = [list(rows[i : i + size]) for i in range(0, len(rows), size)]
        cwd = os.getcwd()
        refs = [task.remote(config, base_dir, cwd, scorer, batch, concurrency) for batch in batches]
        futures = {asyncio.wrap_future(ref.future()): i for i, ref in enumerate(refs)}
        results: list[list[RowResult]] = [[] for _ in batches]
        pending = set(futures)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                results[futures[future]] = future.result()
                for outcome in results[futures[future]]:
                    if on_row is not None:
                        on_row(outcome)
        return [outcome for batch in results for outcome in batch]

    async def aclose(self) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False


def build_engine(
    name: str | EvalEngine | None,
    options: Mapping[str, Any] | None = None,
    *,
    registry: Registry | None = None,
) -> EvalEngine:
    """The engine plugin ``name`` (``in_process`` when None) built with ``options``."""
    if isinstance(name, EvalEngine):
        return name
    from fusionsdk.registry import ambient_registry

    registry = registry or ambient_registry()
    engine: EvalEngine = registry.build(
        "engines", name or "in_process", dict(options or {}), path="--engine-option", name_path="--engine"
    )
    return engine

"""Cost-quality analysis: run a graph over a dataset once per value of one config parameter."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fusionsdk.config.file import FusionConfig
from fusionsdk.errors import ConfigError
from fusionsdk.eval.base import Scorer
from fusionsdk.eval.engines import EvalEngine
from fusionsdk.eval.harness import EvalReport, evaluate
from fusionsdk.eval.metrics import CostPoint, aiq, apgr, pareto_frontier
from fusionsdk.graph.builder import config_to_data
from fusionsdk.graph.compiler import compile_config
from fusionsdk.providers.replay import ReplayRow
from fusionsdk.registry import Registry

__all__ = ["SweepResult", "set_path", "sweep"]

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def set_path(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with ``value`` at ``path`` (``nodes.panel.models``,
    ``nodes.route.options.routes[0].max_length``).

    Raises:
        ConfigError: The path does not lead into the config.
    """
    result = copy.deepcopy(data)
    parts = [name or int(index) for name, index in _PART.findall(path)]
    if not parts:
        raise ConfigError(f"empty parameter path '{path}'")
    target: Any = result
    for i, part in enumerate(parts[:-1]):
        try:
            target = target[part]
        except (KeyError, IndexError, TypeError):
            where = ".".join(str(p) for p in parts[: i + 1])
            raise ConfigError(
                f"sweep parameter path '{path}' does not exist in the config (at '{where}')"
            ) from None
    try:
        target[parts[-1]] = value
    except (IndexError, TypeError):
        raise ConfigError(f"sweep parameter path '{path}' does not exist in the config") from None
    return result


@dataclass(frozen=True)
class SweepResult:
    """The curve: one report per value, its frontier, AIQ and APGR."""

    parameter: str
    values: list[Any]
    reports: list[EvalReport]

    @property
    def points(self) -> list[CostPoint]:
        """(cost, accuracy) per value."""
        return [(r.cost_usd, r.accuracy) for r in self.reports]

    def as_dict(self) -> dict[str, Any]:
        points = self.points
        data: dict[str, Any] = {
            "parameter": self.parameter,
            "points": [
                {"value": v, "cost_usd": c, "accuracy": a}
                for v, (c, a) in zip(self.values, points, strict=True)
            ],
            "frontier": [{"cost_usd": c, "accuracy": a} for c, a in pareto_frontier(points)],
            "aiq": aiq(points),
        }
        weak, strong = min(points), max(points)
        try:
            data["apgr"] = apgr(points, weak, strong)
        except ValueError:
            data["apgr"] = None  # the most costly setting is not the most accurate
        return data


async def sweep(
    config: FusionConfig,
    parameter: str,
    values: Sequence[Any],
    rows: Sequence[ReplayRow],
    scorer: Scorer,
    *,
    registry: Registry | None = None,
    concurrency: int = 16,
    on_value: Callable[[Any, EvalReport], None] | None = None,
    engine: EvalEngine | str | None = None,
) -> SweepResult:
    """Evaluate the graph once per value of ``parameter`` (on ``engine``, see
    :mod:`fusionsdk.eval.engines`). APGR takes the cheapest setting as the weak end and the
    costliest as the strong end."""
    from fusionsdk.eval.engines import build_engine

    runner = build_engine(engine)
    if not values:
        raise ConfigError("a sweep needs at least one value")
    data = config_to_data(config)
    reports = []
    for value in values:
        graph = compile_config(set_path(data, parameter, value), registry=registry)
        report = await evaluate(graph, rows, scorer, concurrency=concurrency, engine=runner)
        reports.append(report)
        if on_value is not None:
            on_value(value, report)
    return SweepResult(parameter, list(values), reports)

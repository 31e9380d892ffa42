"""``balance``: spread requests over equivalent deployments by live load and latency.

Each target (a model of the graph) gets a headroom score from 0 (the most loaded) to 1 (idle),
from five signals, each scaled to 0-1 across the targets and weighted:

* ``in_flight``: calls of that model under way in this process (the adapter counts them);
* ``latency``: the EWMA of its successful calls' latency (the adapter records it);
* ``queued`` and ``running``: requests waiting and running on the backend, and
* ``kv_cache``: its KV-cache use, the last three read from the engine's ``/metrics`` (TGI, vLLM,
  SGLang, llama.cpp's server, trtllm-serve; see :mod:`fusionsdk.routing.metrics`), polled at
  most every ``poll_interval_s`` per deployment.

The best score wins; ties go round-robin. A target whose circuit breaker is open is skipped, as
is one whose metrics endpoint refuses connections (unless every target's does); when every
breaker is open the route fails with :class:`~fusionsdk.errors.CircuitOpen` naming them. A
signal a target does not report counts as the average of those that do.

Example::

    answer:
      kind: agent
      router: balance
      router_options: {poll_interval_s: 2, weights: {latency: 0.5}}
      models: [vllm-a, vllm-b, vllm-c]
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from fusionsdk.errors import CircuitOpen, GraphError
from fusionsdk.plugin import PluginOptions
from fusionsdk.routing.base import RouteDecision, Router, RouteRequest
from fusionsdk.routing.metrics import LoadReading, MetricsPoller, metrics_url

__all__ = ["BalanceRouter", "BalanceWeights"]

_SIGNALS = ("in_flight", "latency", "queued", "running", "kv_cache")


class BalanceWeights(BaseModel):
    """How much each signal counts (0 ignores it)."""

    model_config = ConfigDict(extra="forbid")

    in_flight: float = Field(1.0, ge=0)
    latency: float = Field(1.0, ge=0)
    queued: float = Field(1.0, ge=0)
    running: float = Field(0.5, ge=0)
    kv_cache: float = Field(0.5, ge=0)


class BalanceRouter(Router["BalanceRouter.Options"]):
    """Pick the least-loaded healthy target (see the module docstring)."""

    deterministic: ClassVar[bool] = False

    class Options(PluginOptions):
        """Balance router options.

        Attributes:
            weights: Weight of each signal.
            poll_interval_s: Reuse a deployment's metrics for this long before polling again.
            metrics_timeout_s: Limit of one metrics poll.
            metrics: Read backend metrics at all (else in-flight calls and latency only).
            metrics_urls: Metrics URL per target, overriding the provider's default
                (``base_url`` less ``/v1``, plus ``/metrics``, for tgi, vllm, trtllm, ...).
        """

        weights: BalanceWeights = Field(default_factory=BalanceWeights)
        poll_interval_s: float = Field(2.0, gt=0)
        metrics_timeout_s: float = Field(0.5, gt=0)
        metrics: bool = True
        metrics_urls: dict[str, str] = Field(default_factory=dict)

    def __init__(self, options: PluginOptions | dict[str, Any] | None = None) -> None:
        super().__init__(options)
        opts: BalanceRouter.Options = self.options
        self.poller = MetricsPoller(opts.poll_interval_s, opts.metrics_timeout_s)
        self._models: Mapping[str, Any] = {}
        self._turn = itertools.count()

    def bind(self, models: Mapping[str, Any]) -> None:
        self._models = models

    def _url(self, target: str) -> str | None:
        opts: BalanceRouter.Options = self.options
        if not opts.metrics:
            return None
        if target in opts.metrics_urls:
            return opts.metrics_urls[target]
        model = self._models.get(target)
        return metrics_url(model) if model is not None else None

    async def _readings(self, targets: Sequence[str]) -> dict[str, LoadReading]:
        import asyncio

        urls = {t: url for t in targets if (url := self._url(t))}
        readings = await asyncio.gather(*(self.poller.read(url) for url in urls.values()))
        return dict(zip(urls, readings, strict=True))

    def _signals(self, target: str, reading: LoadReading | None) -> dict[str, float | None]:
        model = self._models.get(target)
        load = reading.load if reading is not None else None
        return {
            "in_flight": float(getattr(model, "in_flight", 0)),
            "latency": getattr(model, "latency_ewma_s", None),
            "queued": load.queued if load else None,
            "running": load.running if load else None,
            "kv_cache": load.kv_cache if load else None,
        }

    async def route(self, request: RouteRequest, targets: Sequence[str]) -> RouteDecision:
        """Route to the healthy target with the most headroom.

        Raises:
            GraphError: No targets.
            CircuitOpen: Every target's circuit breaker is open.
        """
        if not targets:
            raise GraphError("balance router: no targets to choose from")
        opened = [t for t in targets if _breaker_state(self._models.get(t)) == "open"]
        healthy = [t for t in targets if t not in opened]
        if not healthy:
            names = ", ".join(f"{t} ({self._models[t].spec.deployment})" for t in opened)
            raise CircuitOpen(f"balance router: every target's circuit breaker is open: {names}")
        readings = await self._readings(healthy)
        down = [t for t in healthy if t in readings and readings[t].status == "unreachable"]
        candidates = [t for t in healthy if t not in down] or healthy
        signals = {t: self._signals(t, readings.get(t)) for t in candidates}
        scores = self._scores(signals)
        best = max(scores.values())
        tied = [t for t in candidates if scores[t] >= best - 1e-9]
        choice = tied[next(self._turn) % len(tied)]
        return RouteDecision(choice, _reason(choice, signals[choice], len(candidates), opened, down), scores)

    def _scores(self, signals: dict[str, dict[str, float | None]]) -> dict[str, float]:
        """Headroom per target: 1 minus the weighted mean of the reported signals, each scaled
        to 0-1 (counts and latency by the largest among the targets, KV-cache use as it is)."""
        opts: BalanceRouter.Options = self.options
        weights = opts.weights.model_dump()
        cost = dict.fromkeys(signals, 0.0)
        total = 0.0  # the weights of the signals some target reports
        for name in _SIGNALS:
            known = [v for s in signals.values() if (v := s[name]) is not None]
            if not known or not weights[name]:
                continue
            total += weights[name]
            fill = sum(known) / len(known)
            values = {t: fill if (v := s[name]) is None else v for t, s in signals.items()}
            scale = 1.0 if name == "kv_cache" else max(values.values())
            for target, value in values.items():
                cost[target] += weights[name] * (min(value / scale, 1.0) if scale > 0 else 0.0)
        return {t: round(1.0 - c / total, 6) if total else 1.0 for t, c in cost.items()}


def _breaker_state(model: Any) -> str:
    breaker = getattr(model, "breaker", None)
    return str(breaker.state) if breaker is not None else "closed"


def _reason(
    choice: str, signals: dict[str, float | None], among: int, opened: list[str], down: list[str]
) -> str:
    shown = []
    for name, value in signals.items():
        if value is None:
            continue
        if name == "latency":
            shown.append(f"latency {value:.3g}s")
        elif name == "kv_cache":
            shown.append(f"kv cache {value:.0%}")
        else:
            shown.append(f"{name.replace('_', ' ')} {value:g}")
    reason = f"most headroom of {among}: {', '.join(shown)}"
    if opened:
        reason += f"; skipped, breaker open: {', '.join(opened)}"
    if down:
        reason += f"; skipped, metrics unreachable: {', '.join(down)}"
    return reason

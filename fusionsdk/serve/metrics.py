"""Prometheus metrics of one server (``GET /metrics``), per served model and graph.

========================================  =========  ===============================
metric                                    type       labels
========================================  =========  ===============================
``fusionsdk_requests_total``              counter    target, status
``fusionsdk_request_latency_seconds``     histogram  target
``fusionsdk_tokens_total``                counter    target, kind (prompt/completion)
``fusionsdk_cost_usd_total``              counter    target
``fusionsdk_model_calls_total``           counter    model (calls inside graphs too)
``fusionsdk_model_latency_seconds``       histogram  model
``fusionsdk_model_tokens_total``          counter    model, kind
``fusionsdk_model_cost_usd_total``        counter    model
``fusionsdk_breaker_state``               gauge      deployment (0 closed, 1 half-open, 2 open)
``fusionsdk_requests_in_flight``          gauge
``fusionsdk_requests_queued``             gauge
========================================  =========  ===============================

Each server has its own registry, so several apps in one process never mix their numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

__all__ = ["ServeMetrics"]

_BREAKER_VALUES = {"closed": 0.0, "half-open": 1.0, "open": 2.0}


class ServeMetrics:
    """The server's metrics.

    Args:
        breakers: Yields ``(deployment, breaker)`` pairs, read at every scrape.
        gauges: Returns ``(in_flight, queued)``, read at every scrape.
    """

    def __init__(
        self,
        breakers: Callable[[], Iterable[tuple[str, Any]]],
        gauges: Callable[[], tuple[int, int]],
    ) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "fusionsdk_requests", "Requests served.", ["target", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "fusionsdk_request_latency_seconds",
            "Request latency (to the last byte).",
            ["target"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.tokens = Counter("fusionsdk_tokens", "Tokens used.", ["target", "kind"], registry=self.registry)
        self.cost = Counter("fusionsdk_cost_usd", "USD spent.", ["target"], registry=self.registry)
        self.model_calls = Counter("fusionsdk_model_calls", "Model calls.", ["model"], registry=self.registry)
        self.model_latency = Histogram(
            "fusionsdk_model_latency_seconds",
            "Latency of successful model calls.",
            ["model"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.model_tokens = Counter(
            "fusionsdk_model_tokens", "Tokens used per model.", ["model", "kind"], registry=self.registry
        )
        self.model_cost = Counter(
            "fusionsdk_model_cost_usd", "USD spent per model.", ["model"], registry=self.registry
        )
        self.registry.register(_LiveCollector(breakers, gauges))

    def observe(
        self,
        target: str,
        status: int,
        latency_s: float,
        prompt: int = 0,
        completion: int = 0,
        cost_usd: float | None = None,
    ) -> None:
        """Record one finished request."""
        self.requests.labels(target, str(status)).inc()
        self.latency.labels(target).observe(latency_s)
        if prompt:
            self.tokens.labels(target, "prompt").inc(prompt)
        if completion:
            self.tokens.labels(target, "completion").inc(completion)
        if cost_usd:
            self.cost.labels(target).inc(cost_usd)

    def observe_calls(self, calls: Iterable[Mapping[str, Any]]) -> None:
        """Record the model calls of a request (``model``, ``usage``, ``cost_usd``, ``latency_s``)."""
        for call in calls:
            model, usage = str(call.get("model")), call.get("usage") or {}
            self.model_calls.labels(model).inc()
            self.model_latency.labels(model).observe(float(call.get("latency_s") or 0.0))
            for kind in ("prompt", "completion"):
                if usage.get(f"{kind}_tokens"):
                    self.model_tokens.labels(model, kind).inc(usage[f"{kind}_tokens"])
            if call.get("cost_usd"):
                self.model_cost.labels(model).inc(call["cost_usd"])

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _LiveCollector:
    """Breaker states and queue gauges, read when scraped."""

    def __init__(
        self, breakers: Callable[[], Iterable[tuple[str, Any]]], gauges: Callable[[], tuple[int, int]]
    ) -> None:
        self._breakers, self._gauges = breakers, gauges

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        state = GaugeMetricFamily(
            "fusionsdk_breaker_state",
            "Circuit breaker: 0 closed, 1 half-open, 2 open.",
            labels=["deployment"],
        )
        for deployment, breaker in self._breakers():
            state.add_metric([deployment], _BREAKER_VALUES.get(str(breaker.state), 0.0))
        yield state
        in_flight, queued = self._gauges()
        yield GaugeMetricFamily("fusionsdk_requests_in_flight", "Requests being served.", value=in_flight)
        yield GaugeMetricFamily("fusionsdk_requests_queued", "Requests waiting for a slot.", value=queued)

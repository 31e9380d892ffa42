"""A serving engine's ``/metrics`` endpoint on loopback, with the load a test sets.

Serves Prometheus text (TGI, vLLM, SGLang, llama.cpp names) or trtllm-serve's JSON iteration
statistics, and counts how often it was polled.

Example:
    >>> with MetricsServer() as server:  # doctest: +SKIP
    ...     server.set_vllm(waiting=3, running=8, kv_cache=0.5)
"""

from __future__ import annotations

import json
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.servers.base import BackgroundServer

__all__ = ["MetricsServer", "prometheus_text"]

PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


def prometheus_text(gauges: dict[str, float], labels: str = "") -> str:
    """Prometheus exposition text with one gauge per name, with ``labels`` (``a="b"``) if given."""
    lines = []
    for name, value in gauges.items():
        lines += [f"# HELP {name} test gauge", f"# TYPE {name} gauge", f"{name}{{{labels}}} {value}"]
    return "\n".join(lines) + "\n"


class MetricsServer(BackgroundServer):
    """``GET /metrics`` answering what the test last set (an idle engine at first)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.polls = 0
        self.status = 200
        self.body = prometheus_text({"vllm:num_requests_waiting": 0, "vllm:num_requests_running": 0})
        self.media_type = PROMETHEUS
        super().__init__(Starlette(routes=[Route("/metrics", self._metrics)]))

    def set_body(self, body: str, media_type: str = PROMETHEUS, status: int = 200) -> None:
        """Answer ``body`` from now on."""
        with self._lock:
            self.body, self.media_type, self.status = body, media_type, status

    def set_vllm(self, *, waiting: float, running: float, kv_cache: float | None = None) -> None:
        """vLLM's gauges, labelled with a model name as vLLM does."""
        gauges = {"vllm:num_requests_waiting": waiting, "vllm:num_requests_running": running}
        if kv_cache is not None:
            gauges["vllm:kv_cache_usage_perc"] = kv_cache
        self.set_body(prometheus_text(gauges, 'model_name="test/model"'))

    def set_tgi(self, *, queue: float, batch: float) -> None:
        """TGI's gauges."""
        self.set_body(prometheus_text({"tgi_queue_size": queue, "tgi_batch_current_size": batch}))

    def set_trtllm(self, stats: list[dict[str, Any]]) -> None:
        """trtllm-serve's JSON iteration statistics."""
        self.set_body(json.dumps(stats), "application/json")

    def reset(self) -> None:
        """Idle again; the poll count back to 0."""
        self.set_vllm(waiting=0, running=0)
        with self._lock:
            self.polls = 0

    async def _metrics(self, request: Request) -> Response:
        with self._lock:
            self.polls += 1
            body, media_type, status = self.body, self.media_type, self.status
        return PlainTextResponse(body, status_code=status, media_type=media_type)

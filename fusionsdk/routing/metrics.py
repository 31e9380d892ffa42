"""Live backend load from the serving engines' ``/metrics`` endpoints, read for load balancing.

What is read (gauges; several label sets of one name are added up, cache use takes the max),
as *queued* / *running* / *share of KV cache in use*:

- TGI: ``tgi_queue_size`` / ``tgi_batch_current_size`` / -
- vLLM: ``vllm:num_requests_waiting`` / ``vllm:num_requests_running`` /
  ``vllm:kv_cache_usage_perc`` (``vllm:gpu_cache_usage_perc`` before it was renamed)
- SGLang: ``sglang:num_queue_reqs`` / ``sglang:num_running_reqs`` / ``sglang:token_usage``
- llama.cpp's server: ``llamacpp:requests_deferred`` / ``llamacpp:requests_processing`` /
  ``llamacpp:kv_cache_usage_ratio``
- trtllm-serve, whose ``/metrics`` is JSON iteration statistics: ``numQueuedRequests`` /
  ``numActiveRequests`` / ``kvCacheStats.usedNumBlocks`` over ``maxNumBlocks``, from the latest
  entry (an empty list means no iteration ran since the last poll: idle)

Other Prometheus names ending in ``num_requests_waiting``, ``num_requests_running`` or
``kv_cache_usage_perc`` are read the same way, so renamed or prefixed metrics still count.
:class:`MetricsPoller` fetches an endpoint at most once per ``ttl_s`` (concurrent callers share
one fetch) and never raises: a failed poll is a :class:`LoadReading` saying why.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

__all__ = [
    "BackendLoad",
    "LoadReading",
    "MetricsPoller",
    "Sample",
    "metrics_url",
    "parse_load",
    "parse_prometheus",
]

Signal = Literal["queued", "running", "kv_cache"]

_KNOWN: dict[str, tuple[Signal, str]] = {
    "tgi_queue_size": ("queued", "tgi"),
    "tgi_batch_current_size": ("running", "tgi"),
    "vllm:num_requests_waiting": ("queued", "vllm"),
    "vllm:num_requests_running": ("running", "vllm"),
    "vllm:kv_cache_usage_perc": ("kv_cache", "vllm"),
    "vllm:gpu_cache_usage_perc": ("kv_cache", "vllm"),
    "sglang:num_queue_reqs": ("queued", "sglang"),
    "sglang:num_running_reqs": ("running", "sglang"),
    "sglang:token_usage": ("kv_cache", "sglang"),
    "llamacpp:requests_deferred": ("queued", "llamacpp"),
    "llamacpp:requests_processing": ("running", "llamacpp"),
    "llamacpp:kv_cache_usage_ratio": ("kv_cache", "llamacpp"),
}
_SUFFIXES: tuple[tuple[str, Signal], ...] = (
    ("num_requests_waiting", "queued"),
    ("num_requests_running", "running"),
    ("kv_cache_usage_perc", "kv_cache"),
)
_LINE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+\S+)?\s*$")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    """One line of Prometheus text: a metric name, its labels and its value."""

    name: str
    labels: dict[str, str]
    value: float


def parse_prometheus(text: str) -> Iterator[Sample]:
    """The samples of Prometheus text exposition format; comments and bad lines are skipped."""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        name, labels, value = match.groups()
        try:
            number = float(value)
        except ValueError:
            continue
        found = {k: v.replace('\\"', '"').replace("\\\\", "\\") for k, v in _LABEL.findall(labels or "")}
        yield Sample(name, found, number)


@dataclass(frozen=True)
class BackendLoad:
    """What a serving engine says about its load (None: it did not say).

    Attributes:
        queued: Requests waiting to be scheduled.
        running: Requests in the running batch.
        kv_cache: Share of the KV cache in use, 0 to 1.
        engine: Which format was read: ``tgi``, ``vllm``, ``sglang``, ``llamacpp``,
            ``trtllm`` or ``prometheus`` (recognised by name suffix only).
    """

    queued: float | None = None
    running: float | None = None
    kv_cache: float | None = None
    engine: str = "unknown"


def _signal(name: str) -> tuple[Signal, str] | None:
    known = _KNOWN.get(name)
    if known is not None:
        return known
    for suffix, signal in _SUFFIXES:
        if name.endswith(suffix):
            return signal, "prometheus"
    return None


def _load_from_prometheus(text: str) -> BackendLoad:
    values: dict[Signal, float] = {}
    engine = "unknown"
    for sample in parse_prometheus(text):
        found = _signal(sample.name)
        if found is None or math.isnan(sample.value):
            continue
        signal, engine = found
        if signal == "kv_cache":
            values[signal] = max(values.get(signal, 0.0), sample.value)
        else:
            values[signal] = values.get(signal, 0.0) + sample.value
    return BackendLoad(values.get("queued"), values.get("running"), values.get("kv_cache"), engine)


def _number(stats: dict[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = stats.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _load_from_trtllm(data: Any) -> BackendLoad:
    entries = data if isinstance(data, list) else [data]
    entries = [e for e in entries if isinstance(e, dict)]
    if not entries:  # no iteration ran since the last poll: the engine is idle
        return BackendLoad(0.0, 0.0, None, "trtllm")
    stats = entries[-1]
    kv = stats.get("kvCacheStats") or stats.get("kv_cache_stats") or {}
    used = _number(kv, "usedNumBlocks", "used_num_blocks") if isinstance(kv, dict) else None
    total = _number(kv, "maxNumBlocks", "max_num_blocks") if isinstance(kv, dict) else None
    return BackendLoad(
        queued=_number(stats, "numQueuedRequests", "num_queued_requests"),
        running=_number(stats, "numActiveRequests", "num_active_requests"),
        kv_cache=used / total if used is not None and total else None,
        engine="trtllm",
    )


def parse_load(body: str) -> BackendLoad:
    """Read a ``/metrics`` body: trtllm-serve's JSON iteration stats or Prometheus text.

    Raises:
        ValueError: The body looks like JSON but is not.
    """
    if body.lstrip().startswith(("[", "{")):
        return _load_from_trtllm(json.loads(body))
    return _load_from_prometheus(body)


@dataclass(frozen=True)
class LoadReading:
    """The outcome of one poll.

    Attributes:
        status: ``ok``; ``unreachable`` (connection refused or timed out: the backend looks
            down); ``error`` (an HTTP error or an unreadable body: load unknown).
        load: The load when ``ok``.
        detail: Why it is not ``ok``.
        at: When it was read (the poller's clock).
    """

    status: Literal["ok", "unreachable", "error"]
    load: BackendLoad | None = None
    detail: str = ""
    at: float = field(default=0.0, compare=False)


def metrics_url(model: Any) -> str | None:
    """The default metrics URL of a model: its ``base_url`` (less a trailing ``/v1``) plus its
    provider's ``metrics_path``; None when the provider declares none or serves over a Unix
    socket (the poller speaks TCP only)."""
    path = getattr(model.provider, "metrics_path", None)
    base = model.spec.base_url
    if not path or not base or base.startswith("http+unix:"):
        return None
    return base.removesuffix("/v1") + path


class MetricsPoller:
    """Polls metrics endpoints, at most once per ``ttl_s`` each, and caches the readings.

    Args:
        ttl_s: How long a reading is reused before the next poll.
        timeout_s: Limit of one poll.
        clock: Monotonic clock (injectable for tests).
    """

    def __init__(
        self, ttl_s: float = 2.0, timeout_s: float = 0.5, clock: Callable[[], float] = time.monotonic
    ) -> None:
        from fusionsdk.providers.http import LoopLocalClient

        self.ttl_s, self.timeout_s, self.clock = ttl_s, timeout_s, clock
        self.polls = 0
        self._http = LoopLocalClient(timeout_s)
        self._cache: dict[str, LoadReading] = {}
        self._pending: dict[str, asyncio.Future[LoadReading]] = {}

    async def read(self, url: str) -> LoadReading:
        """The reading of ``url``: cached while fresh, else polled now (one poll for all the
        callers that ask at once)."""
        cached = self._cache.get(url)
        if cached is not None and self.clock() - cached.at < self.ttl_s:
            return cached
        pending = self._pending.get(url)
        if pending is None or pending.get_loop() is not asyncio.get_running_loop():
            pending = self._pending[url] = asyncio.ensure_future(self._poll(url))
        try:
            return await asyncio.shield(pending)
        finally:
            if pending.done() and self._pending.get(url) is pending:
                del self._pending[url]

    async def _poll(self, url: str) -> LoadReading:
        self.polls += 1
        try:
            response = await asyncio.wait_for(self._http.get().get(url), self.timeout_s)
        except (httpx.ConnectError, httpx.ConnectTimeout, TimeoutError) as exc:
            reading = LoadReading("unreachable", detail=f"{type(exc).__name__}", at=self.clock())
        except httpx.HTTPError as exc:
            reading = LoadReading("error", detail=f"{type(exc).__name__}: {exc}", at=self.clock())
        else:
            reading = self._reading(response)
        self._cache[url] = reading
        return reading

    def _reading(self, response: httpx.Response) -> LoadReading:
        if not response.is_success:
            return LoadReading("error", detail=f"HTTP {response.status_code}", at=self.clock())
        try:
            return LoadReading("ok", parse_load(response.text), at=self.clock())
        except ValueError as exc:
            return LoadReading("error", detail=f"unreadable metrics: {exc}", at=self.clock())

    async def aclose(self) -> None:
        """Close the running loop's HTTP client."""
        await self._http.aclose()

"""One chaos run: many requests to a model whose fallbacks fail in different ways, measured.

Model ``a`` (500 on ``fail_rate`` of its requests) falls back to ``b`` (hangs past its timeout)
and ``c`` (healthy), all on one :class:`~tests.servers.chaos.ChaosServer`. The run sends
``requests`` requests, ``concurrency`` at a time, and reports: requests lost (neither answered
nor failed: they never came back), the success rate, upstream attempts per request, requests
that reached ``b`` after its breaker first opened (half-open probes only, ideally), and latency
percentiles. With ``faults=False`` every model answers (the baseline).

Used by ``tests/reliability/test_chaos.py`` (small) and ``benchmarks/reliability.py`` (full).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fusionsdk.providers.hub import ModelHub
from tests.servers.chaos import Behaviour, ChaosServer

__all__ = ["chaos_run", "percentile"]


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linearly interpolated."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _hub(base_url: str, hang_timeout_s: float) -> ModelHub:
    spec = {"provider": "openai_compatible", "base_url": base_url, "timeout_s": 10, "max_concurrency": 1000}
    retry = {"attempts": 3, "initial_wait_s": 0.05, "max_wait_s": 0.5, "jitter_s": 0.02}
    models = {
        "a": {**spec, "fallbacks": ["b", "c"], "retry": retry},
        "b": {**spec, "timeout_s": hang_timeout_s, "retry": retry},
        "c": {**spec, "retry": retry},
    }
    return ModelHub.from_dict({"version": 1, "models": models})


async def chaos_run(
    requests: int = 1000,
    concurrency: int = 50,
    *,
    faults: bool = True,
    fail_rate: float = 0.3,
    hang_timeout_s: float = 1.0,
    seed: int = 7,
) -> dict[str, Any]:
    """Run the scenario and return its figures (see the module docstring)."""
    behaviours = {"a": Behaviour(fail_rate=fail_rate), "b": Behaviour(hang_s=60)} if faults else {}
    with ChaosServer(behaviours, seed=seed) as server:
        hub = _hub(server.base_url, hang_timeout_s)
        opened_at: list[float] = []
        breaker = hub["b"].breaker
        record_failure = breaker.record_failure

        def noting_failure() -> None:
            record_failure()
            if not opened_at and breaker.state == "open":
                opened_at.append(time.monotonic())

        breaker.record_failure = noting_failure  # type: ignore[method-assign]
        await hub["c"].acomplete("warm up")  # LiteLLM's first-call imports, outside the figures
        warm = server.count()
        gate = asyncio.Semaphore(concurrency)
        latencies: list[float] = []
        outcomes = {"ok": 0, "failed": 0}

        async def one(i: int) -> None:
            async with gate:
                started = time.perf_counter()
                try:
                    await hub["a"].acomplete(f"request {i}")
                    outcomes["ok"] += 1
                except Exception:
                    outcomes["failed"] += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(requests))), timeout=600)
        wall = time.perf_counter() - started
        await hub.aclose() if hasattr(hub, "aclose") else None
        attempts = server.count() - warm
        return {
            "requests": requests,
            "concurrency": concurrency,
            "faults": faults,
            "lost": requests - outcomes["ok"] - outcomes["failed"],
            "succeeded": outcomes["ok"],
            "success_rate": outcomes["ok"] / requests,
            "attempts_per_request": attempts / requests,
            "attempts": {m: server.count(m) for m in ("a", "b", "c")},
            "b_breaker_opened": bool(opened_at),
            "b_after_open": server.after("b", opened_at[0]) if opened_at else 0,
            "p50_s": percentile(latencies, 50),
            "p99_s": percentile(latencies, 99),
            "wall_s": wall,
        }

"""Adapter overhead: fusionsdk ``Model.acomplete`` vs ``litellm.acompletion`` on the same server.

Both call the stub OpenAI-compatible server (``_stub_server.py``, in its own process) one call at a
time, from the same event loop, in alternation: each round makes ``--pairs`` pairs of calls, one
of each side per pair, the side going first swapping every pair. Per round we take each side's
median latency; the reported ratio and added time are the medians over the rounds, so slow
phases of a shared machine hit both sides alike.

fusionsdk's model is ``provider: openai_compatible`` with the default retry policy, breaker,
timeout and concurrency limit, i.e. everything a real call goes through. The raw call is exactly
``litellm.acompletion(model="openai/x", api_base=..., api_key="x", num_retries=0,
max_retries=0, messages=...)``.

Targets: ratio of p50 latencies at most 1.05, and under 1 ms added at p50.

Two more measurements explain the gap:

- a control, run the same way: the raw call under ``asyncio.timeout`` (what fusionsdk's
  per-attempt timeout does; ``asyncio.wait_for`` on Python 3.10) against the raw call alone;
- the adapter around a provider that answers at once (no network, no LiteLLM), timed layer by
  layer (the private methods of ``Model`` that wrap each other), best of several runs.

Run: ``python benchmarks/adapter_overhead.py``
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _common import markdown_table, median, parser, percentile, verdict, write_json
from _stub_server import serve_in_subprocess

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
KEY_ENV = "FUSIONSDK_BENCH_KEY"
MAX_RATIO = 1.05
MAX_ADDED_MS = 1.0

Call = Callable[[], Awaitable[Any]]


def build_callers(base_url: str, max_concurrency: int = 64) -> tuple[Call, Call]:
    """The fusionsdk and the raw LiteLLM call, each a zero-argument coroutine function."""
    import fusionsdk
    from fusionsdk.providers.litellm_boundary import litellm

    os.environ[KEY_ENV] = "x"  # so both sides send the same key (and share LiteLLM's client cache)
    spec = {
        "provider": "openai_compatible",
        "model": "x",
        "base_url": base_url,
        "api_key_env": KEY_ENV,
        "max_concurrency": max_concurrency,
    }
    model = fusionsdk.ModelHub.from_dict({"version": 1, "models": {"stub": spec}})["stub"]
    acompletion = litellm().acompletion  # the same module fusionsdk uses, configured the same way

    async def fusion() -> Any:
        return await model.acomplete(MESSAGES)

    async def raw() -> Any:
        return await acompletion(
            model="openai/x", api_base=base_url, api_key="x", num_retries=0, max_retries=0, messages=MESSAGES
        )

    return fusion, raw


async def _timed(call: Call, cpu: list[float]) -> float:
    """Wall time of one call; its client CPU time is appended to ``cpu``."""
    started, cpu_started = time.perf_counter(), time.process_time()
    await call()
    cpu.append(time.process_time() - cpu_started)
    return time.perf_counter() - started


async def compare(ours: Call, theirs: Call, rounds: int, pairs: int) -> dict[str, Any]:
    """Alternate ``ours`` and ``theirs``; per-call samples and per-round median ratios."""
    samples: dict[str, list[float]] = {"ours": [], "theirs": []}
    cpu: dict[str, list[float]] = {"ours": [], "theirs": []}
    ratios, added = [], []
    for _ in range(rounds):
        gc.collect()
        a: list[float] = []
        b: list[float] = []
        for i in range(pairs):
            if i % 2:
                a.append(await _timed(ours, cpu["ours"]))
                b.append(await _timed(theirs, cpu["theirs"]))
            else:
                b.append(await _timed(theirs, cpu["theirs"]))
                a.append(await _timed(ours, cpu["ours"]))
        samples["ours"] += a
        samples["theirs"] += b
        ratios.append(median(a) / median(b))
        added.append(median(a) - median(b))
    return {
        "ours_p50_ms": percentile(samples["ours"], 50) * 1000,
        "ours_p95_ms": percentile(samples["ours"], 95) * 1000,
        "theirs_p50_ms": percentile(samples["theirs"], 50) * 1000,
        "theirs_p95_ms": percentile(samples["theirs"], 95) * 1000,
        "ratio": median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "added_ms": median(added) * 1000,
        "ours_cpu_ms": median(cpu["ours"]) * 1000,
        "theirs_cpu_ms": median(cpu["theirs"]) * 1000,
    }


def _instant_model() -> Any:
    """A Model around a provider that answers at once, with usage (so nothing is counted)."""
    from fusionsdk.config.models import ModelSpec
    from fusionsdk.providers.base import Provider, ProviderResponse, Usage
    from fusionsdk.providers.breaker import CircuitBreaker
    from fusionsdk.providers.model import Model

    class Instant(Provider):
        async def complete(self, request: Any) -> ProviderResponse:
            return ProviderResponse("Paris.", "stop", Usage(14, 8))

    spec = ModelSpec(name="instant", provider="instant")
    return Model(spec, Instant(spec), CircuitBreaker(spec.deployment, spec.breaker))


async def layer_costs(calls: int = 3000, runs: int = 5) -> list[tuple[str, float]]:
    """Microseconds per call of the adapter, layer by layer, around an instant provider."""
    from fusionsdk.providers.base import CompletionRequest, GenerationParams

    model = _instant_model()
    request = CompletionRequest(list(MESSAGES), GenerationParams())
    layers: list[tuple[str, Call]] = [
        ("provider alone", lambda: model.provider.complete(request)),
        ("+ concurrency limit, breaker, timeout (`asyncio.timeout`)", lambda: model._attempt(request)),
        (
            "+ retry layer (first attempt outside tenacity), usage, cost",
            lambda: model._complete_with_retries(request),
        ),
        ("+ message and parameter checks, fallback loop = `acomplete`", lambda: model.acomplete(MESSAGES)),
    ]
    costs = []
    for name, call in layers:
        best = float("inf")
        for _ in range(runs):
            started = time.perf_counter()
            for _ in range(calls):
                await call()
            best = min(best, (time.perf_counter() - started) / calls)
        costs.append((name, best * 1e6))
    return costs


async def measure(base_url: str, rounds: int, pairs: int, warmup: int) -> dict[str, Any]:
    fusion, raw = build_callers(base_url)

    async def raw_with_timeout() -> Any:
        if not hasattr(asyncio, "timeout"):  # Python 3.10: what the adapter does there
            return await asyncio.wait_for(raw(), timeout=120)
        async with asyncio.timeout(120):
            return await raw()

    for _ in range(warmup):
        await fusion()
        await raw()
        await raw_with_timeout()
    main = await compare(fusion, raw, rounds, pairs)
    control = await compare(raw_with_timeout, raw, max(3, rounds // 2), pairs)
    return {
        "rounds": rounds,
        "pairs_per_round": pairs,
        "fusionsdk_p50_ms": main["ours_p50_ms"],
        "fusionsdk_p95_ms": main["ours_p95_ms"],
        "litellm_p50_ms": main["theirs_p50_ms"],
        "litellm_p95_ms": main["theirs_p95_ms"],
        "fusionsdk_cpu_ms": main["ours_cpu_ms"],
        "litellm_cpu_ms": main["theirs_cpu_ms"],
        "ratio_p50": main["ratio"],
        "ratio_p50_min": main["ratio_min"],
        "ratio_p50_max": main["ratio_max"],
        "added_ms_p50": main["added_ms"],
        "ratio_met": main["ratio"] <= MAX_RATIO,
        "added_met": main["added_ms"] < MAX_ADDED_MS,
        "control_rounds": max(3, rounds // 2),
        "timeout_ratio_p50": control["ratio"],
        "timeout_added_ms_p50": control["added_ms"],
        "layers_us": await layer_costs(),
    }


def table(r: dict[str, Any]) -> str:
    rows = [
        [
            "fusionsdk `Model.acomplete`",
            f"{r['fusionsdk_p50_ms']:.3f}",
            f"{r['fusionsdk_p95_ms']:.3f}",
            f"{r['fusionsdk_cpu_ms']:.3f}",
        ],
        [
            "`litellm.acompletion`",
            f"{r['litellm_p50_ms']:.3f}",
            f"{r['litellm_p95_ms']:.3f}",
            f"{r['litellm_cpu_ms']:.3f}",
        ],
    ]
    summary = [
        [
            "p50 ratio fusionsdk / litellm",
            f"{r['ratio_p50']:.3f} (rounds: {r['ratio_p50_min']:.3f}-{r['ratio_p50_max']:.3f})",
            f"<= {MAX_RATIO}",
            verdict(r["ratio_met"]),
        ],
        ["added at p50", f"{r['added_ms_p50']:.3f} ms", f"< {MAX_ADDED_MS} ms", verdict(r["added_met"])],
    ]
    return (
        markdown_table(["call", "p50 ms", "p95 ms", "client CPU ms per call (median)"], rows)
        + "\n\n"
        + markdown_table(["measure (median over rounds)", "value", "target", "result"], summary)
        + f"\n\n{r['rounds']} rounds x {r['pairs_per_round']} alternating pairs of sequential calls."
    )


def explain_table(r: dict[str, Any]) -> str:
    control = markdown_table(
        ["control: `litellm.acompletion(...)` under `asyncio.timeout` vs `litellm.acompletion`", "value"],
        [
            ["p50 ratio (median over rounds)", f"{r['timeout_ratio_p50']:.3f}"],
            ["added at p50", f"{r['timeout_added_ms_p50']:.3f} ms"],
        ],
    )
    rows, previous = [], 0.0
    for name, micros in r["layers_us"]:
        rows.append([name, f"{micros:.1f}", f"{micros - previous:+.1f}"])
        previous = micros
    header = ["adapter around an instant provider", "us per call (best)", "layer adds us"]
    layers = markdown_table(header, rows)
    return control + f"\n\n{r['control_rounds']} rounds x {r['pairs_per_round']} pairs.\n\n" + layers


def main() -> None:
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--rounds", type=int, default=15)
    args.add_argument("--pairs", type=int, default=100)
    args.add_argument("--warmup", type=int, default=100)
    options = args.parse_args()
    with serve_in_subprocess() as base_url:
        result = asyncio.run(measure(base_url, options.rounds, options.pairs, options.warmup))
    print(table(result))
    print()
    print(explain_table(result))
    write_json(options.json, result)


if __name__ == "__main__":
    main()

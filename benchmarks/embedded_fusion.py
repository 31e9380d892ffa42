"""Embedded fusion accuracy: SmolLM2 and Gemma 3 alone, voted, and ensembled token by token.

24 short questions with known answers that these tiny models can sometimes answer (capitals,
small sums, colours, animals, everyday facts), asked live of the two bundled embedded models
(``smollm2``: SmolLM2-135M-Instruct Q4_1, chat; ``gemma3``: Gemma-3-270M base Q4_K_M, few-shot
completion), greedy (temperature 0), at most 32 tokens:

- each model alone: ``ModelHub.embedded()[name].acomplete(question, max_tokens=32, temperature=0)``;
- ``majority_vote``: a graph ``panel [smollm2, gemma3] -> fuse majority_vote`` (normalised text);
- ``token_ensemble``: a graph ``fuse token_ensemble [smollm2, gemma3]`` straight after START
  (equal weights, and once more with ``weights: {gemma3: 2}`` to show what weights do; that
  weight was chosen after seeing gemma3 do better alone, so it is not a held-out result).

Scoring: *exact* when the normalised answer (lower case, no punctuation or articles) is one of
the accepted answers; *contains* when an accepted answer appears in it as a word (for numbers:
the answer's final number is the expected one, or the number is written as a word). Time is the
mean wall time per question, with the models loaded and warmed up first.

Run: ``python benchmarks/embedded_fusion.py`` (about two minutes on 2 cores)
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _common import markdown_table, parser, write_json

#: (question, accepted answers); the first accepted answer is the canonical one.
QUESTIONS: list[tuple[str, list[str]]] = [
    ("What is the capital of France?", ["Paris"]),
    ("What is the capital of Germany?", ["Berlin"]),
    ("What is the capital of Spain?", ["Madrid"]),
    ("What is the capital of Japan?", ["Tokyo"]),
    ("What is the capital of the United Kingdom?", ["London"]),
    ("What is the capital of Russia?", ["Moscow"]),
    ("What is the capital of Egypt?", ["Cairo"]),
    ("What is the capital of Canada?", ["Ottawa"]),
    ("What is 2 + 3?", ["5", "five"]),
    ("What is 4 + 4?", ["8", "eight"]),
    ("What is 10 - 3?", ["7", "seven"]),
    ("What is 3 times 3?", ["9", "nine"]),
    ("How many days are there in a week?", ["7", "seven"]),
    ("How many legs does a dog have?", ["4", "four"]),
    ("What colour is grass?", ["green"]),
    ("What colour is a ripe banana?", ["yellow"]),
    ("What colour is snow?", ["white"]),
    ("What colour is a ripe tomato?", ["red"]),
    ("Which animal says moo?", ["cow", "cows"]),
    ("Which animal barks?", ["dog", "dogs"]),
    ("Which animal says meow?", ["cat", "cats", "kitten"]),
    ("Which animal is known as the king of the jungle?", ["lion", "lions"]),
    ("What is frozen water called?", ["ice"]),
    ("What is the opposite of hot?", ["cold"]),
]
MODELS = {
    "smollm2": {"provider": "llamacpp", "model": "smollm2-135m-instruct"},
    "gemma3": {"provider": "llamacpp", "model": "gemma3-270m"},
}
WARM_UP = "What is the capital of Portugal?"


def score(answer: str, accepted: list[str]) -> tuple[bool, bool]:
    """(exact, contains) for one answer."""
    from fusionsdk.answers import extract_number, normalize_text

    normal = normalize_text(answer)
    exact = normal in {normalize_text(a) for a in accepted}
    words = set(re.findall(r"[a-z0-9]+", normal))
    if accepted[0].isdigit():
        number = extract_number(answer)
        contains = (number is not None and number == float(accepted[0])) or bool(words & set(accepted[1:]))
    else:
        contains = any(normalize_text(a) in words for a in accepted)
    return exact, contains or exact


def graphs() -> dict[str, Any]:
    """The two fusion graphs."""
    from fusionsdk.graph import compile_config

    def config(nodes: dict[str, Any], edges: list[list[str]]) -> dict[str, Any]:
        return {"version": 1, "models": MODELS, "nodes": nodes, "edges": edges}

    vote = config(
        {
            "panel": {"kind": "panel", "models": list(MODELS), "max_tokens": 32, "temperature": 0},
            "fuse": {"kind": "fuse", "strategy": "majority_vote"},
        },
        [["START", "panel"], ["panel", "fuse"], ["fuse", "END"]],
    )
    ensemble = config(
        {
            "fuse": {
                "kind": "fuse",
                "strategy": "token_ensemble",
                "options": {"models": list(MODELS), "max_tokens": 32},
            }
        },
        [["START", "fuse"], ["fuse", "END"]],
    )
    weighted = copy.deepcopy(ensemble)
    weighted["nodes"]["fuse"]["options"]["weights"] = {"gemma3": 2.0}
    return {
        "majority_vote": compile_config(vote),
        "token_ensemble": compile_config(ensemble),
        "token_ensemble_weighted": compile_config(weighted),
    }


async def measure() -> dict[str, Any]:
    from fusionsdk.providers.hub import ModelHub

    hub = ModelHub.from_dict({"version": 1, "models": MODELS})
    fused = graphs()

    def model_call(name: str) -> Callable[[str], Awaitable[str]]:
        async def ask(question: str) -> str:
            return (await hub[name].acomplete(question, max_tokens=32, temperature=0)).text

        return ask

    def graph_call(name: str) -> Callable[[str], Awaitable[str]]:
        async def ask(question: str) -> str:
            return (await fused[name].arun(question, evaluation=True)).answer

        return ask

    methods = {
        "smollm2 alone": model_call("smollm2"),
        "gemma3 alone": model_call("gemma3"),
        "majority_vote (panel of both)": graph_call("majority_vote"),
        "token_ensemble (both)": graph_call("token_ensemble"),
        "token_ensemble (gemma3 weight 2)": graph_call("token_ensemble_weighted"),
    }
    for ask in methods.values():
        await ask(WARM_UP)  # loads the models, scans the vocabularies, warms the caches
    results: dict[str, Any] = {}
    for method, ask in methods.items():
        rows = []
        for question, accepted in QUESTIONS:
            started = time.perf_counter()
            answer = await ask(question)
            seconds = time.perf_counter() - started
            exact, contains = score(answer, accepted)
            rows.append(
                {"question": question, "answer": answer, "exact": exact, "contains": contains, "s": seconds}
            )
        results[method] = rows
    return {"questions": len(QUESTIONS), "max_tokens": 32, "methods": results}


def tables(r: dict[str, Any]) -> str:
    n = r["questions"]
    summary = []
    for method, rows in r["methods"].items():
        exact = sum(row["exact"] for row in rows)
        contains = sum(row["contains"] for row in rows)
        mean_s = sum(row["s"] for row in rows) / len(rows)
        summary.append(
            [
                method,
                f"{exact}/{n} ({exact / n:.0%})",
                f"{contains}/{n} ({contains / n:.0%})",
                f"{mean_s:.2f}",
            ]
        )
    methods = list(r["methods"])
    short = {m: m.replace(" (both)", "").replace(" alone", "") for m in methods}
    detail = []
    for i, (question, _) in enumerate(QUESTIONS):
        cells = []
        for method in methods:
            row = r["methods"][method][i]
            mark = "ok" if row["contains"] else "x"
            text = row["answer"].replace("\n", " ").replace("|", "/")
            cells.append(f"{mark}: {text[:40]}{'...' if len(text) > 40 else ''}")
        detail.append([question, *cells])
    alone = [r["methods"][m] for m in methods[:2]]
    either = sum(a["contains"] or b["contains"] for a, b in zip(*alone, strict=True))
    return (
        "## Embedded fusion: smollm2 + gemma3\n\n"
        + markdown_table(["method", "exact", "contains", "s / question (mean)"], summary)
        + f"\n\nEither model alone right (an oracle that always picks the right one): {either}/{n}. "
        + f"Greedy decoding, at most {r['max_tokens']} tokens; models loaded and warmed up first.\n\n"
        + "<details><summary>Answers per question (ok: contains the expected answer)</summary>\n\n"
        + markdown_table(["question", *(short[m] for m in methods)], detail)
        + "\n\n</details>"
    )


def main() -> None:
    args = parser(__doc__.splitlines()[0])
    options = args.parse_args()
    started = time.perf_counter()
    result = asyncio.run(measure())
    result["total_s"] = time.perf_counter() - started
    print(tables(result))
    print(f"\nTotal run time: {result['total_s']:.0f} s.")
    write_json(options.json, result)


if __name__ == "__main__":
    main()

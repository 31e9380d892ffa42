"""Scoring 10,000 competition-maths replies with the ``math`` scorer.

The replies are written the way models write them, over 2,000 problems with distinct answers
so that caching does not make the work trivial: JSON with an integer ``answer`` and reasoning
full of unescaped LaTeX, ``\\boxed{}`` at the end of prose, "the answer is 1/2", decimals for
fractions, surds and polynomials in another but equal form (these go through sympy), wrong
answers and truncated replies. One process, one thread; math-verify's warnings and log records
are counted (both must be none).

Target: under 60 s (on 2 cores), no warnings.

Run: ``python benchmarks/answers_math.py``
"""

from __future__ import annotations

import contextlib
import io
import logging
import random
import time
import warnings
from typing import Any

from _common import markdown_table, parser, verdict, write_json

N_REPLIES = 10_000
N_PROBLEMS = 2_000
TARGET_S = 60.0
REASONING = "We let $x = \\frac{a}{b}$, so \\sqrt{x^2} = |x| and \\left(x+1\\right)^2 \\geq 0."


def problem(rng: random.Random, i: int) -> tuple[str, list[tuple[str, bool]]]:
    """A gold answer and the replies (text, right?) a panel might give to it."""
    kind = i % 4
    if kind == 0:  # an integer answer, as AIME-style JSON and boxed prose
        n = rng.randint(0, 999)
        gold = str(n)
        right = [f'{{"reasoning": "{REASONING}", "answer": {n}}}', f"So the total is $\\boxed{{{n}}}$."]
        wrong = [f'{{"reasoning": "{REASONING}", "answer": {n + 1}}}']
    elif kind == 1:  # a fraction, in three spellings
        a, b = rng.randint(1, 40), rng.choice([2, 4, 5, 8, 16, 20, 25])
        gold = f"\\frac{{{a}}}{{{b}}}"
        right = [f"The answer is {a}/{b}.", f"$\\dfrac{{{a}}}{{{b}}}$", f"Final answer: {a / b:g}"]
        wrong = [f"The answer is {a + 1}/{b}."]
    elif kind == 2:  # a surd, once in another form
        k, m = rng.randint(2, 9), rng.choice([2, 3, 5, 6, 7, 10, 11, 13])
        gold = f"{k}\\sqrt{{{m}}}"
        right = [f"Hence $\\boxed{{{k}\\sqrt{{{m}}}}}$.", f"Hence $\\boxed{{\\sqrt{{{k * k * m}}}}}$."]
        wrong = [f"Hence $\\boxed{{{k}\\sqrt{{{m + 1}}}}}$."]
    else:  # a polynomial, expanded
        c = rng.randint(1, 9)
        gold = f"(x+{c})^2"
        right = [f"The final answer is $x^2+{2 * c}x+{c * c}$."]
        wrong = [f"The final answer is $x^2+{c}x+{c * c}$.", '{"reasoning": "Expanding \\left(x+']
    return gold, [(r, True) for r in right] + [(w, False) for w in wrong]


def replies(seed: int = 0) -> list[tuple[str, str, bool]]:
    rng = random.Random(seed)
    problems = [problem(rng, i) for i in range(N_PROBLEMS)]
    out = []
    while len(out) < N_REPLIES:
        gold, options = problems[len(out) % N_PROBLEMS]
        text, right = rng.choice(options)
        out.append((text, gold, right))
    return out


def measure() -> dict[str, Any]:
    from fusionsdk.eval.scorers import MathScorer

    data = replies()
    scorer = MathScorer()
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.WARNING)
    logging.getLogger().addHandler(handler)
    err = io.StringIO()
    try:
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(err):
            warnings.simplefilter("always")
            started = time.perf_counter()
            scores = [scorer.score(text, gold) for text, gold, _ in data]
            seconds = time.perf_counter() - started
    finally:
        logging.getLogger().removeHandler(handler)
    agree = sum((score == 1.0) == right for score, (_, _, right) in zip(scores, data, strict=True))
    noise = len(caught) + len(records) + (1 if err.getvalue().strip() else 0)
    return {
        "replies": len(data),
        "seconds": seconds,
        "per_reply_ms": seconds / len(data) * 1000,
        "agreement": agree / len(data),
        "warnings": noise,
        "target_met": seconds < TARGET_S and noise == 0,
    }


def table(r: dict[str, Any]) -> str:
    rows = [
        [
            f"{r['replies']:,}",
            f"{r['seconds']:.1f}",
            f"{r['per_reply_ms']:.2f}",
            f"{r['agreement']:.2%}",
            r["warnings"],
            f"< {TARGET_S:g} s, 0 warnings",
            verdict(r["target_met"]),
        ]
    ]
    header = ["replies", "seconds", "ms per reply", "agrees with labels", "warnings", "target", "result"]
    return markdown_table(header, rows)


def main() -> None:
    options = parser(__doc__.splitlines()[0]).parse_args()
    result = measure()
    print(table(result))
    write_json(options.json, result)


if __name__ == "__main__":
    main()

"""Chaos: 1,000 requests, 50 at a time, to a model whose fallbacks fail in different ways.

Model ``a`` answers HTTP 500 to 30% of its requests (a seeded draw) and falls back to ``b``, which
hangs past its 1 s timeout, and ``c``, which is healthy; all three are served by the chaos server
of ``tests/servers/chaos.py`` on 127.0.0.1 (in a thread of this process). The same load runs once
with no faults (every model answers) for the latency baseline.

Figures: requests lost (never came back, neither answered nor failed), success rate, upstream
attempts per request, requests sent to ``b`` in total and after its breaker opened, p50/p99
latency against the no-fault run.

Targets: 0 lost; success >= 99.5%; <= 1.35 attempts per request; p99 < 3x the no-fault p99.

Run: ``python benchmarks/reliability.py`` (``--requests``, ``--concurrency`` to change the load)
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from _common import REPO, markdown_table, parser, verdict, write_json

sys.path.insert(0, str(REPO))  # the chaos server and run live with the reliability tests

from tests.reliability.chaos_run import chaos_run

TARGETS = {"lost": 0, "success_rate": 0.995, "attempts_per_request": 1.35, "p99_ratio": 3.0}


def judge(faulty: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    ratio = faulty["p99_s"] / baseline["p99_s"]
    return {
        "p99_ratio": ratio,
        "lost_met": faulty["lost"] == TARGETS["lost"],
        "success_met": faulty["success_rate"] >= TARGETS["success_rate"],
        "attempts_met": faulty["attempts_per_request"] <= TARGETS["attempts_per_request"],
        "p99_met": ratio < TARGETS["p99_ratio"],
    }


def main() -> None:
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--requests", type=int, default=1000)
    args.add_argument("--concurrency", type=int, default=50)
    options = args.parse_args()
    baseline = asyncio.run(chaos_run(options.requests, options.concurrency, faults=False))
    faulty = asyncio.run(chaos_run(options.requests, options.concurrency, faults=True))
    verdicts = judge(faulty, baseline)
    print(f"## Chaos: {options.requests} requests, {options.concurrency} at a time\n")
    rows = [
        ["requests lost", "0", faulty["lost"], verdict(verdicts["lost_met"])],
        ["success rate", ">= 99.5%", f"{faulty['success_rate']:.1%}", verdict(verdicts["success_met"])],
        [
            "upstream attempts per request",
            "<= 1.35",
            f"{faulty['attempts_per_request']:.3f}",
            verdict(verdicts["attempts_met"]),
        ],
        ["p99 latency / no-fault p99", "< 3", f"{verdicts['p99_ratio']:.2f}", verdict(verdicts["p99_met"])],
    ]
    print(markdown_table(["figure", "target", "measured", "result"], rows))
    print()
    detail = [
        [
            "faults" if run["faults"] else "no faults",
            run["succeeded"],
            run["lost"],
            f"{run['attempts_per_request']:.3f}",
            f"{run['attempts']['a']} / {run['attempts']['b']} / {run['attempts']['c']}",
            "yes" if run["b_breaker_opened"] else "no",
            run["b_after_open"],
            f"{run['p50_s'] * 1000:.0f} ms",
            f"{run['p99_s'] * 1000:.0f} ms",
            f"{run['wall_s']:.1f} s",
        ]
        for run in (baseline, faulty)
    ]
    header = [
        "run", "answered", "lost", "attempts/request", "requests to a / b / c", "b breaker opened",
        "to b after it opened", "p50", "p99", "wall",
    ]  # fmt: skip
    print(markdown_table(header, detail))
    write_json(options.json, {"baseline": baseline, "faults": faulty, **verdicts})
    if not all(v for k, v in verdicts.items() if k.endswith("_met")):
        sys.exit(1)


if __name__ == "__main__":
    main()

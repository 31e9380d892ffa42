"""GSM8K replay on Ray: the same evaluation in process and spread over 2 local Ray workers.

The graph of ``gsm8k_replay.py`` (a panel of all 42 replayed models and a majority vote) runs on
all 1,319 questions twice: with the ``in_process`` engine, and with the ``ray`` engine on a local
Ray cluster of 2 CPUs. The figures must be identical; the speed-up is in-process time over Ray
time (Ray's start-up shown apart: a long-lived cluster pays it once).

    python benchmarks/ray_eval.py [PATH/TO/gsm8k.jsonl.gz] [--workers 2] [--json PATH]
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from _common import markdown_table, verdict
from gsm8k_replay import DEFAULT, build

from fusionsdk.eval.engines import RayEngine
from fusionsdk.eval.harness import EvalReport, evaluate
from fusionsdk.providers.replay import load_replay
from fusionsdk.registry import default_registry


def figures(report: EvalReport) -> dict[str, Any]:
    """What must not change with the engine (everything but timings)."""
    rows = [{k: v for k, v in r.__dict__.items() if k != "latency_s"} for r in report.rows]
    data = report.as_dict()
    for key in ("latency_p50_s", "latency_p95_s"):
        data.pop(key)
    return {**data, "rows": rows}


def main(dataset: Path, workers: int, json_path: Path | None) -> str:
    if not dataset.exists():
        return f"**Not measured: the replay file {dataset} is missing.**"
    import ray

    graph = build(dataset)[0].compile()
    rows = load_replay(str(dataset)).rows
    scorer = default_registry().get("scorers", "numeric")()

    started = time.perf_counter()
    local = asyncio.run(evaluate(graph, rows, scorer, concurrency=32))
    local_s = time.perf_counter() - started

    started = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
    startup_s = time.perf_counter() - started
    engine = RayEngine()
    progress: list[str] = []
    started = time.perf_counter()
    spread = asyncio.run(
        evaluate(graph, rows, scorer, concurrency=32, engine=engine, on_row=lambda r: progress.append(r.id))
    )
    ray_s = time.perf_counter() - started
    started = time.perf_counter()  # a second run: workers have compiled the graph already
    warm = asyncio.run(evaluate(graph, rows, scorer, concurrency=32, engine=engine))
    warm_s = time.perf_counter() - started
    ray.shutdown()

    same = figures(spread) == figures(local) == figures(warm)
    result = {
        "questions": local.n,
        "workers": workers,
        "accuracy_in_process": local.accuracy,
        "accuracy_ray": spread.accuracy,
        "identical_figures": same,
        "progress_rows": len(progress),
        "in_process_s": local_s,
        "ray_startup_s": startup_s,
        "ray_s": ray_s,
        "ray_warm_s": warm_s,
        "speedup": local_s / ray_s,
        "speedup_warm": local_s / warm_s,
    }
    if json_path is not None:
        json_path.write_text(json.dumps(result, indent=2))
    table = markdown_table(
        ["run", "accuracy", "wall time (s)", "speed-up"],
        [
            ["in process (`--engine in_process`)", f"{local.accuracy:.4%}", f"{local_s:.1f}", "1.00x"],
            [
                f"Ray, {workers} local workers, first run (workers compile the graph)",
                f"{spread.accuracy:.4%}",
                f"{ray_s:.1f}",
                f"{local_s / ray_s:.2f}x",
            ],
            [
                f"Ray, {workers} local workers, second run",
                f"{warm.accuracy:.4%}",
                f"{warm_s:.1f}",
                f"{local_s / warm_s:.2f}x",
            ],
        ],
    )
    return "\n".join(
        [
            f"{local.n} questions, 42 models, scorer `numeric`. Ray start-up (`ray.init`, "
            f"not counted above): {startup_s:.1f} s.",
            "",
            table,
            "",
            f"Same figures (accuracy, cost, tokens, per-model scores, every row's answer) with and "
            f"without Ray: **{verdict(same)}**; the progress callback saw {len(progress)} rows.",
        ]
    )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT, help="The replay file.")
    parser.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray cluster.")
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    options = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    print(main(options.dataset, options.workers, options.json))

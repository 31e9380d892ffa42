"""Import time: ``import fusionsdk`` vs ``import litellm``, each in a fresh interpreter.

Each repetition starts one new Python process per statement, alternating the order, and
the process itself times the import statement with ``time.perf_counter`` (so interpreter start-up
is not counted). Reported: the median over repetitions, and the whole process's wall time too.
``LITELLM_LOCAL_MODEL_COST_MAP=True`` is set so LiteLLM reads its bundled price map instead of
fetching it over the network.

Target: ``import fusionsdk`` under 0.3 s.

Run: ``python benchmarks/import_time.py``
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from _common import REPO, markdown_table, median, parser, verdict, write_json

#: What each row imports: the bare package (its public names are lazy), the package with
#: ``ModelHub`` resolved (pydantic, the config models, the adapter, tenacity), and LiteLLM.
STATEMENTS = {
    "fusionsdk": "import fusionsdk",
    "fusionsdk.ModelHub": "import fusionsdk; fusionsdk.ModelHub",
    "litellm": "import litellm",
}
TARGET_S = 0.3
_PROBE = "import time; t = time.perf_counter(); {0}; print(time.perf_counter() - t)"


def time_import(name: str) -> tuple[float, float]:
    """Seconds the import took inside a fresh interpreter, and the process's wall time."""
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"}
    started = time.perf_counter()
    output = subprocess.run(
        [sys.executable, "-c", _PROBE.format(STATEMENTS[name])],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=REPO,
    ).stdout
    return float(output.strip().splitlines()[-1]), time.perf_counter() - started


def measure(repetitions: int) -> dict[str, Any]:
    names = list(STATEMENTS)
    for name in names:  # warm the file-system cache and the .pyc files
        time_import(name)
    imports: dict[str, list[float]] = {n: [] for n in names}
    processes: dict[str, list[float]] = {n: [] for n in names}
    for rep in range(repetitions):
        for name in names if rep % 2 == 0 else names[::-1]:
            seconds, wall = time_import(name)
            imports[name].append(seconds)
            processes[name].append(wall)
    result: dict[str, Any] = {
        "repetitions": repetitions,
        "import_s": {n: median(imports[n]) for n in names},
        "process_s": {n: median(processes[n]) for n in names},
    }
    result["target_met"] = result["import_s"]["fusionsdk"] < TARGET_S
    return result


def table(r: dict[str, Any]) -> str:
    rows = []
    for name, statement in STATEMENTS.items():
        target = (f"< {TARGET_S}", verdict(r["target_met"])) if name == "fusionsdk" else ("-", "-")
        rows.append([f"`{statement}`", f"{r['import_s'][name]:.3f}", f"{r['process_s'][name]:.3f}", *target])
    header = ["statement", "import s (median)", "whole process s (median)", "target s", "result"]
    return (
        markdown_table(header, rows)
        + f"\n\n{r['repetitions']} fresh interpreters per statement, in alternating order."
    )


def main() -> None:
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--repetitions", type=int, default=5)
    options = args.parse_args()
    result = measure(options.repetitions)
    print(table(result))
    write_json(options.json, result)


if __name__ == "__main__":
    main()

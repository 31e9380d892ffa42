"""Helpers the benchmark scripts share: statistics, Markdown tables, machine facts.

Every benchmark prints a Markdown table and, with ``--json PATH``, writes its figures as JSON
(``run_all.py`` collects those into ``docs/benchmarks.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "REPLAY_DATA",
    "REPO",
    "machine_facts",
    "markdown_table",
    "median",
    "parser",
    "percentile",
    "require_replay_data",
    "verdict",
    "write_json",
]

REPO = Path(__file__).resolve().parent.parent
#: The full GSM8K replay set (1,319 questions, 42 models). It lives beside the repository, not in
#: it (too large to commit); the tests use the committed subset in ``tests/data/`` instead.
REPLAY_DATA = REPO.parent / "shared" / "data" / "replay" / "gsm8k.jsonl.gz"

# LiteLLM fetches its price map over the network at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")


def median(values: Sequence[float]) -> float:
    """The median of ``values``."""
    return float(statistics.median(values))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, linearly interpolated."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def require_replay_data(path: Path) -> Path:
    """``path`` if it exists; otherwise exit with a message saying what is missing and what to do.

    The GSM8K benchmarks need the full replay file, which a plain clone does not hold.
    """
    if not path.is_file():
        raise SystemExit(
            f"replay data not found: {path}\n"
            "The GSM8K benchmarks need the full replay file (gsm8k.jsonl.gz, 1,319 questions x 42 "
            "models), kept outside the repository in ../shared/data/replay/. Put it there or pass "
            "its path as the first argument. (The test suite does not need it: it uses "
            "tests/data/gsm8k_subset.jsonl.)"
        )
    return path


def verdict(met: bool) -> str:
    """``met`` or ``**missed**`` for the tables."""
    return "met" if met else "**missed**"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_facts() -> dict[str, str]:
    """Cores, CPU model, Python and the versions of the libraries the benchmarks compare."""
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    facts = {
        "cores": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "cpu": cpu,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
    for dist in ("fusionsdk", "litellm", "xllamacpp", "llama-cpp-python", "httpx", "openai"):
        try:
            facts[dist] = version(dist)
        except PackageNotFoundError:
            facts[dist] = "not installed"
    return facts


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the ``--json`` option every benchmark takes."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    return result


def write_json(path: Path | None, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` when one was given."""
    if path is not None:
        path.write_text(json.dumps(data, indent=2))

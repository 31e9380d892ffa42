"""GPU validation: TGI, vLLM and TensorRT-LLM (``trtllm-serve``) serving one small open model.

On a machine with an NVIDIA GPU and the engines installed, this script

1. starts each engine on 127.0.0.1 (its own port, a share of the GPU's memory each, so all three
   fit on one GPU at once) serving ``--model`` (default ``Qwen/Qwen2.5-0.5B-Instruct``; a local
   folder works too) and waits for its ``/health``;
2. runs the provider conformance kit against each (``benchmarks/gpu/conformance_gpu.py``,
   providers ``tgi``, ``vllm`` and ``trtllm``);
3. measures each engine through fusionsdk: single-stream completion tokens/s and latency
   (greedy, ``--max-tokens``), and calls/s with ``--concurrency`` calls in flight;
4. runs the 40 GSM8K questions committed in ``tests/data/gsm8k_subset.jsonl`` through each
   engine alone and through a panel of the three fused by ``majority_vote``;
5. writes the figures to ``docs/benchmarks.md`` (between the ``gpu-validation`` markers, which
   ``benchmarks/run_all.py`` keeps) and ``benchmarks/results/gpu-validation.json``.

An engine whose command is not installed is reported as such and left out. Commands are
templates (``{model}``, ``{port}``, ``{name}``, ``{memory}``) that can be changed with
``--tgi``, ``--vllm`` and ``--trtllm``; the defaults are the engines' documented launchers.

Run: ``python benchmarks/gpu/validate.py [--model M] [--engines tgi,vllm,trtllm] [--no-write]``
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))
from _common import markdown_table, median  # noqa: E402 - the benchmarks' shared helpers

PAGE = REPO / "docs" / "benchmarks.md"
GPU_START, GPU_END = "<!-- gpu-validation:start -->", "<!-- gpu-validation:end -->"
QUESTIONS = REPO / "tests" / "data" / "gsm8k_subset.jsonl"
PROMPT = "Write three sentences about the history of Paris."

#: Launch templates: the engines' own documented servers, each with a share of the GPU.
COMMANDS = {
    "tgi": "text-generation-launcher --model-id {model} --hostname 127.0.0.1 --port {port} "
    "--cuda-memory-fraction {memory}",
    "vllm": "vllm serve {model} --host 127.0.0.1 --port {port} --served-model-name {name} "
    "--gpu-memory-utilization {memory}",
    "trtllm": "trtllm-serve {model} --host 127.0.0.1 --port {port} "
    "--kv_cache_free_gpu_memory_fraction {memory}",
}
#: fusionsdk provider and base_url suffix per engine.
PROVIDERS = {"tgi": ("tgi", ""), "vllm": ("vllm", "/v1"), "trtllm": ("trtllm", "/v1")}


@dataclass
class Engine:
    """One engine as started: its fusionsdk model spec and where its log went."""

    name: str
    port: int
    log: Path
    model: str
    status: str = "not started"

    @property
    def spec(self) -> dict[str, Any]:
        provider, suffix = PROVIDERS[self.name]
        served = self.name if self.name == "vllm" else self.model
        return {
            "provider": provider,
            "model": served,
            "base_url": f"http://127.0.0.1:{self.port}{suffix}",
            "timeout_s": 300,
        }


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(engine: Engine, template: str, memory: float, timeout_s: float) -> Iterator[Engine]:
    """Start ``engine`` in its own process group, wait for ``/health``, stop it afterwards."""
    command = shlex.split(
        template.format(model=engine.model, port=engine.port, name=engine.name, memory=memory)
    )
    if shutil.which(command[0]) is None:
        engine.status = f"not installed ({command[0]} not found)"
        yield engine
        return
    with engine.log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        engine.status = "did not start"
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{engine.port}/health", timeout=2).is_success:
                    engine.status = "up"
                    break
            except httpx.HTTPError:
                pass
            time.sleep(3)
        if engine.status != "up":
            tail = engine.log.read_text(errors="replace").splitlines()[-15:]
            print(f"{engine.name} {engine.status}:\n" + "\n".join(tail), file=sys.stderr)
        yield engine
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def conformance(engine: Engine) -> str:
    """Run the conformance kit against ``engine``; pytest's summary line."""
    env = {
        **os.environ,
        "FUSIONSDK_GPU_PROVIDER": PROVIDERS[engine.name][0],
        "FUSIONSDK_GPU_BASE_URL": engine.spec["base_url"],
        "FUSIONSDK_GPU_MODEL": engine.spec["model"],
    }
    test = str(HERE / "conformance_gpu.py")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", test],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    lines = [line for line in done.stdout.splitlines() if " passed" in line or " failed" in line]
    return lines[-1].strip("= ") if lines else f"pytest exited {done.returncode}"


async def speed(model: Any, max_tokens: int, concurrency: int) -> dict[str, float]:
    """Single-stream tokens/s and latency (median of 5), then calls/s at ``concurrency``."""
    await model.acomplete(PROMPT, max_tokens=8, temperature=0)  # warm-up
    rates, latencies = [], []
    for _ in range(5):
        answer = await model.acomplete(PROMPT, max_tokens=max_tokens, temperature=0)
        rates.append(answer.usage.completion_tokens / answer.latency_s)
        latencies.append(answer.latency_s)
    started = time.perf_counter()
    answers = await asyncio.gather(
        *(model.acomplete(PROMPT, max_tokens=max_tokens, temperature=0) for _ in range(concurrency))
    )
    wall = time.perf_counter() - started
    tokens = sum(a.usage.completion_tokens for a in answers)
    return {
        "tokens_per_s": median(rates),
        "latency_p50_s": median(latencies),
        "concurrent_calls_per_s": concurrency / wall,
        "concurrent_tokens_per_s": tokens / wall,
    }


def accuracy(names: dict[str, dict[str, Any]], questions: int) -> dict[str, float]:
    """GSM8K-subset accuracy of each engine alone and of the majority-vote panel of all."""
    from fusionsdk.eval.harness import evaluate
    from fusionsdk.graph.builder import GraphBuilder
    from fusionsdk.providers.replay import load_replay
    from fusionsdk.registry import default_registry

    rows = load_replay(str(QUESTIONS)).rows[:questions]
    scorer = default_registry().get("scorers", "numeric")()
    builder = GraphBuilder()
    for name, spec in names.items():
        builder.model(name, **spec)
    builder.node("panel", "panel", models=list(names), quorum=1, max_tokens=512, temperature=0)
    builder.node("fuse", "fuse", strategy="majority_vote", options={"extract": "number"})
    graph = builder.edge("START", "panel").edge("panel", "fuse").edge("fuse", "END").compile()
    report = asyncio.run(evaluate(graph, rows, scorer, concurrency=8))
    return {
        **{m: v["accuracy"] for m, v in report.per_model.items()},
        "panel (majority vote)": report.accuracy,
    }


def gpu_name() -> str:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    return out.stdout.strip().replace("\n", "; ")


def render(results: dict[str, Any]) -> str:
    engines = results["engines"]
    rows = [
        [
            name,
            e["status"],
            e.get("conformance", ""),
            f"{e['tokens_per_s']:.1f}" if "tokens_per_s" in e else "",
            f"{e['latency_p50_s'] * 1000:.0f} ms" if "latency_p50_s" in e else "",
            f"{e['concurrent_tokens_per_s']:.0f}" if "concurrent_tokens_per_s" in e else "",
        ]
        for name, e in engines.items()
    ]
    header = [
        "engine",
        "status",
        "conformance kit",
        "tokens/s (1 stream)",
        "latency p50",
        "tokens/s (concurrent)",
    ]
    accuracy_rows = [[name, f"{value:.3f}"] for name, value in results.get("accuracy", {}).items()]
    return "\n".join(
        [
            GPU_START,
            "## GPU validation: TGI, vLLM and TensorRT-LLM",
            "",
            f"Measured on {results['date']} by `python benchmarks/gpu/validate.py` on {results['gpu']}, "
            f"model `{results['model']}`, {results['max_tokens']} tokens greedy, "
            f"{results['concurrency']} concurrent calls.",
            "",
            markdown_table(header, rows),
            "",
            f"GSM8K, the first {results['questions']} committed questions "
            "(`tests/data/gsm8k_subset.jsonl`), accuracy:",
            "",
            markdown_table(["model", "accuracy"], accuracy_rows) if accuracy_rows else "(no engine was up)",
            "",
            GPU_END,
        ]
    )


def write_page(block: str) -> None:
    page = PAGE.read_text()
    if GPU_START in page and GPU_END in page:
        page = page[: page.index(GPU_START)] + block + page[page.index(GPU_END) + len(GPU_END) :]
    else:
        page = page.rstrip("\n") + "\n\n" + block + "\n"
    PAGE.write_text(page)


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--model", default="Qwen/Qwen2.5-0.5B-Instruct")
    cli.add_argument("--engines", default="tgi,vllm,trtllm")
    cli.add_argument("--memory", type=float, default=0.25, help="Share of GPU memory per engine.")
    cli.add_argument("--startup-timeout", type=float, default=1200.0)
    cli.add_argument("--max-tokens", type=int, default=128)
    cli.add_argument("--concurrency", type=int, default=32)
    cli.add_argument("--questions", type=int, default=40, help="GSM8K questions (of the 40 committed).")
    cli.add_argument("--no-write", action="store_true", help="Print instead of writing the page.")
    cli.add_argument(
        "--allow-no-gpu",
        action="store_true",
        help="Dry-run the script's plumbing without a GPU (e.g. --engines vllm with a CPU vLLM).",
    )
    for name in COMMANDS:
        cli.add_argument(f"--{name}", default=COMMANDS[name], help=f"Launch template of {name}.")
    args = cli.parse_args()
    gpu = gpu_name() or ("no GPU (dry run)" if args.allow_no_gpu else "")
    if not gpu:
        raise SystemExit("no NVIDIA GPU found (nvidia-smi failed): this script validates GPU engines")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import fusionsdk

    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "gpu": gpu,
        "model": args.model,
        "max_tokens": args.max_tokens,
        "concurrency": args.concurrency,
        "questions": args.questions,
        "engines": {},
    }
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        engines = []
        for name in args.engines.split(","):
            engine = Engine(name, free_port(), Path(folder) / f"{name}.log", args.model)
            template = getattr(args, name)
            engines.append(stack.enter_context(running(engine, template, args.memory, args.startup_timeout)))
        up = {e.name: e for e in engines if e.status == "up"}
        hub = fusionsdk.ModelHub.from_dict({"version": 1, "models": {n: e.spec for n, e in up.items()}})
        for engine in engines:
            entry: dict[str, Any] = {"status": engine.status}
            if engine.name in up:
                entry["conformance"] = conformance(engine)
                entry.update(asyncio.run(speed(hub[engine.name], args.max_tokens, args.concurrency)))
            results["engines"][engine.name] = entry
        if up:
            results["accuracy"] = accuracy({n: e.spec for n, e in up.items()}, args.questions)
    block = render(results)
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu-validation.json").write_text(json.dumps(results, indent=2))
    print(block)
    if not args.no_write:
        write_page(block)


if __name__ == "__main__":
    main()

"""Server overhead: ``fusionsdk serve`` against LiteLLM's proxy, both in front of the same stub.

Three ways to get the same chat completion, one request at a time over keep-alive HTTP/1.1 from
one client, in alternation (the order rotating every triple):

* **direct**: the stub OpenAI-compatible server itself (``_stub_server.py``, its own process);
* **fusionsdk**: ``fusionsdk serve`` (one uvicorn worker, its own process) with one model,
  ``provider: openai_compatible`` pointing at the stub;
* **litellm**: LiteLLM's proxy (``litellm --config``, its own process) with the same model.

A server's *overhead* is its p50 latency minus the direct p50 in the same round; the reported
ratio is the median over rounds of fusionsdk's overhead over LiteLLM's (target: at most 1.0, i.e.
fusionsdk adds less than LiteLLM's proxy). Both servers check the same API key on every request
(LiteLLM's proxy as its master key, fusionsdk from ``FUSIONSDK_API_KEYS``) and log at warning.

LiteLLM's proxy needs ``litellm[proxy]`` (a few dozen packages: FastAPI, gunicorn, APScheduler,
cryptography, ...), which fusionsdk does not depend on. The benchmark runs it with the Python of
``FUSIONSDK_BENCH_LITELLM_PYTHON`` when set, else with this interpreter if it has the proxy;
without one it says so and reports fusionsdk's overhead over the direct call only::

    python -m venv /tmp/litellm-proxy && /tmp/litellm-proxy/bin/pip install 'litellm[proxy]'
    FUSIONSDK_BENCH_LITELLM_PYTHON=/tmp/litellm-proxy/bin/python python benchmarks/serve_overhead.py
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
from _common import markdown_table, median, parser, percentile, verdict, write_json
from _stub_server import free_port, serve_in_subprocess

LITELLM_ENV = "FUSIONSDK_BENCH_LITELLM_PYTHON"
BODY = {"model": "stub", "messages": [{"role": "user", "content": "What is the capital of France?"}]}
MAX_RATIO = 1.0
#: Both servers check this key on every request (LiteLLM's proxy refuses to start without one).
KEY = "sk-bench-0123456789abcdef0123456789abcdef"
HEADERS = {"Authorization": f"Bearer {KEY}"}


def _litellm_python() -> str | None:
    configured = os.environ.get(LITELLM_ENV)
    if configured:
        return configured
    try:
        found = importlib.util.find_spec("litellm.proxy.proxy_cli") is not None
        import backoff  # noqa: F401 - the proxy extra's marker: plain litellm lacks it
    except ImportError:
        return None
    return sys.executable if found else None


@contextlib.contextmanager
def _process(command: list[str], url: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run a server; yield ``url`` once a chat completion through it answers."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        try:
            _wait_until_serving(process, url, log)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_serving(process: subprocess.Popen[bytes], url: str, log: IO[bytes]) -> None:
    deadline = time.monotonic() + 180
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"{process.args!r} exited: {log.read()[-2000:].decode(errors='replace')}")
        try:
            if (
                httpx.post(url + "/v1/chat/completions", json=BODY, headers=HEADERS, timeout=5).status_code
                == 200
            ):
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process.args!r} did not start")
        time.sleep(0.25)


def fusionsdk_server(stub: str, folder: Path) -> contextlib.AbstractContextManager[str]:
    config = folder / "serve.yaml"
    config.write_text(
        "version: 1\nmodels:\n"
        f"  stub: {{provider: openai_compatible, model: stub, base_url: '{stub}', api_key_env: BENCH_KEY}}\n"
    )
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "fusionsdk.cli.app",
        "serve",
        str(config),
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    return _process(command, f"http://127.0.0.1:{port}", {"BENCH_KEY": "x", "FUSIONSDK_API_KEYS": KEY})


def litellm_server(python: str, stub: str, folder: Path) -> contextlib.AbstractContextManager[str]:
    config = folder / "litellm.yaml"
    config.write_text(
        "model_list:\n  - model_name: stub\n"
        f"    litellm_params: {{model: openai/stub, api_base: '{stub}', api_key: x}}\n"
        "litellm_settings: {telemetry: false}\n"
    )
    port = free_port()
    command = [
        python,
        "-m",
        "litellm.proxy.proxy_cli",
        "--config",
        str(config),
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--num_workers",
        "1",
    ]
    env = {
        "LITELLM_MASTER_KEY": KEY,
        "LITELLM_LOG": "ERROR",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY": "False",
    }
    return _process(command, f"http://127.0.0.1:{port}", env)


def measure(urls: dict[str, str], rounds: int, per_round: int, warmup: int) -> dict[str, list[list[float]]]:
    """Latencies (ms) per side and round, the sides alternating request by request."""
    clients = {side: httpx.Client(base_url=url, headers=HEADERS, timeout=30) for side, url in urls.items()}
    sides = list(urls)
    for _ in range(warmup):
        for side in sides:
            clients[side].post("/v1/chat/completions", json=BODY).raise_for_status()
    results: dict[str, list[list[float]]] = {side: [] for side in sides}
    for _ in range(rounds):
        times: dict[str, list[float]] = {side: [] for side in sides}
        for i in range(per_round):
            order = sides[i % len(sides) :] + sides[: i % len(sides)]
            for side in order:
                started = time.perf_counter()
                clients[side].post("/v1/chat/completions", json=BODY).raise_for_status()
                times[side].append((time.perf_counter() - started) * 1000)
        for side in sides:
            results[side].append(times[side])
    for client in clients.values():
        client.close()
    return results


def main() -> None:
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--rounds", type=int, default=9)
    args.add_argument("--per-round", type=int, default=100)
    args.add_argument("--warmup", type=int, default=50)
    options = args.parse_args()
    python = _litellm_python()
    with tempfile.TemporaryDirectory() as tmp, serve_in_subprocess() as stub, contextlib.ExitStack() as stack:
        urls = {
            "direct": stub.removesuffix("/v1"),
            "fusionsdk": stack.enter_context(fusionsdk_server(stub, Path(tmp))),
        }
        if python is not None:
            urls["litellm"] = stack.enter_context(litellm_server(python, stub, Path(tmp)))
        results = measure(urls, options.rounds, options.per_round, options.warmup)
    direct = [median(r) for r in results["direct"]]
    overhead = {
        side: [median(r) - d for r, d in zip(results[side], direct, strict=True)]
        for side in results
        if side != "direct"
    }
    rows = []
    for side, rounds in results.items():
        flat = [t for r in rounds for t in r]
        added = f"{median(overhead[side]):.3f}" if side in overhead else "-"
        rows.append([side, f"{percentile(flat, 50):.3f}", f"{percentile(flat, 95):.3f}", added])
    print("## Server overhead\n")
    print(markdown_table(["path", "p50 ms", "p95 ms", "added at p50 ms (median over rounds)"], rows))
    data: dict[str, object] = {
        "fusionsdk_added_ms_p50": median(overhead["fusionsdk"]),
        "litellm_proxy": python is not None,
    }
    if python is not None:
        ratios = [f / lt for f, lt in zip(overhead["fusionsdk"], overhead["litellm"], strict=True) if lt > 0]
        ratio = median(ratios)
        data.update(
            ratio=ratio, ratio_met=ratio <= MAX_RATIO, litellm_added_ms_p50=median(overhead["litellm"])
        )
        print()
        print(
            markdown_table(
                ["measure (median over rounds)", "value", "target", "result"],
                [
                    [
                        "added p50 ratio fusionsdk / LiteLLM proxy",
                        f"{ratio:.3f} (rounds: {min(ratios):.3f}-{max(ratios):.3f})",
                        f"<= {MAX_RATIO}",
                        verdict(ratio <= MAX_RATIO),
                    ]
                ],
            )
        )
    else:
        print("\nLiteLLM's proxy is not installed (`litellm[proxy]`): only the direct call is compared.")
    print(
        f"\n{options.rounds} rounds x {options.per_round} alternating requests per path, "
        f"after {options.warmup} warm-up requests each."
    )
    write_json(options.json, data)


if __name__ == "__main__":
    main()

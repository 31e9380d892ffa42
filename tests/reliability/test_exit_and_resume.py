"""The CLI always exits (LiteLLM's logging worker is stopped within a bound, even at DEBUG), and
resuming a paused thread works every time, from fresh graph objects (as from other processes),
with a clear message when there is nothing to resume."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from fusionsdk.errors import GraphError
from fusionsdk.graph import compile_config
from tests.servers.faults import FaultServer
from tests.servers.fixtures import fault_server, faults  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("run", range(2))
def test_the_cli_exits_with_litellm_debug_logging(faults: FaultServer, tmp_path: Path, run: int) -> None:  # noqa: F811
    config = tmp_path / "fusion.yaml"
    spec = {"provider": "openai_compatible", "base_url": faults.base_url, "timeout_s": 10}
    config.write_text(yaml.safe_dump({"version": 1, "models": {"m": spec}}))
    env = {**os.environ, "LITELLM_LOG": "DEBUG", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    code = "import sys; from fusionsdk.cli.app import main; sys.exit(main())"
    args = [sys.executable, "-c", code, "ask", "m", "hi", "--config", str(config)]
    completed = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "Hello from the fault server." in completed.stdout


def human_config() -> dict[str, Any]:
    return {
        "version": 1,
        "models": {"m": {"provider": "fake", "options": {"responses": ["draft"]}}},
        "nodes": {"a": {"kind": "agent", "model": "m"}, "review": {"kind": "human", "question": "OK?"}},
        "edges": [["START", "a"], ["a", "review"], ["review", "END"]],
    }


async def test_twenty_sequential_resumes_all_work(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    for i in range(20):
        paused = await compile_config(human_config()).arun("write", thread_id="t", checkpoint=store)
        assert paused.interrupted is not None, i
        done = await compile_config(human_config()).aresume("t", f"reply {i}", checkpoint=store)
        assert done.answer == f"reply {i}" and done.interrupted is None, i


async def test_nothing_to_resume_says_why(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    graph = compile_config(human_config())
    with pytest.raises(GraphError, match="no run of it is kept in this checkpoint"):
        await graph.aresume("never-ran", "x", checkpoint=store)
    paused = await graph.arun("write", thread_id="t", checkpoint=store)
    await graph.aresume(paused.thread_id, "ok", checkpoint=store)
    with pytest.raises(GraphError, match="its last run finished"):
        await graph.aresume("t", "again", checkpoint=store)

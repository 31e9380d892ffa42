"""Evaluation engines: in-process and Ray (a local 2-CPU cluster) give the same figures, feed
the progress callback, retry a task whose worker died, and run replayed and live models.

The Ray tests share one local cluster (about 20 s to start on a busy machine); skip them with
``python -m pytest -m "not ray"``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fusionsdk.answers import normalize_answer
from fusionsdk.errors import ConfigError
from fusionsdk.eval.base import Scorer
from fusionsdk.eval.engines import InProcessEngine, RayEngine, build_engine
from fusionsdk.eval.harness import EvalReport, evaluate
from fusionsdk.graph import compile_config, compile_file
from fusionsdk.providers.replay import load_replay
from tests.servers.faults import FaultServer, Reply
from tests.servers.fixtures import fault_server  # noqa: F401 - fixtures are found by name

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "replay.yaml"
ROWS = load_replay(str(ROOT / "tests" / "data" / "gsm8k_subset.jsonl")).rows


class LastNumber(Scorer):
    """Right when the last numbers agree."""

    def score(self, prediction: str, reference: str) -> float:
        return float(normalize_answer(prediction, "number") == normalize_answer(reference, "number"))


class DiesOnce(LastNumber):
    """Kills its worker process the first time it scores (a marker file remembers), as a
    crashed machine would: Ray must retry the task."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def score(self, prediction: str, reference: str) -> float:
        if not os.path.exists(self.marker):
            Path(self.marker).write_text("died", encoding="utf-8")
            os._exit(1)
        return super().score(prediction, reference)


def figures(report: EvalReport) -> dict[str, Any]:
    data = report.as_dict(with_rows=True)
    for key in ("latency_p50_s", "latency_p95_s"):
        data.pop(key)
    for row in data["rows"]:
        row.pop("latency_s")
    return data


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the example's dataset path is relative to the repository


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'fusionsdk[ray]'")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        _node_ip_address="127.0.0.1",
    )
    yield
    ray.shutdown()


def test_engines_are_plugins_chosen_by_name() -> None:
    assert isinstance(build_engine(None), InProcessEngine)
    assert isinstance(build_engine("ray", {"num_cpus": 2}), RayEngine)
    with pytest.raises(ConfigError, match="--engine-option.batch_size"):
        build_engine("ray", {"batch_size": 0})
    with pytest.raises(ConfigError, match="--engine"):
        build_engine("spark")


@pytest.mark.ray
async def test_ray_gives_the_in_process_figures_and_progress(ray_cluster: None) -> None:
    graph = compile_file(EXAMPLE)
    local = await evaluate(graph, ROWS, LastNumber(), concurrency=8)
    seen: list[str] = []
    engine = RayEngine({"batch_size": 7})
    spread = await evaluate(
        graph, ROWS, LastNumber(), concurrency=8, engine=engine, on_row=lambda r: seen.append(r.id)
    )
    assert figures(spread) == figures(local)
    assert sorted(seen) == sorted(r.id for r in ROWS)  # every row reported once, as batches end
    assert spread.errors == 0 and spread.n == 40


@pytest.mark.ray
async def test_a_dead_worker_is_retried(ray_cluster: None, tmp_path: Path) -> None:
    graph = compile_file(EXAMPLE)
    local = await evaluate(graph, ROWS, LastNumber())
    scorer = DiesOnce(str(tmp_path / "died"))
    spread = await evaluate(graph, ROWS, scorer, engine=RayEngine({"batch_size": 10, "max_retries": 2}))
    assert (tmp_path / "died").exists()  # a worker did die
    assert figures(spread) == figures(local)


@pytest.mark.ray
async def test_live_models_on_ray(ray_cluster: None, fault_server: FaultServer) -> None:  # noqa: F811
    fault_server.reset()
    fault_server.script("*", [Reply("The answer is 18.")] * 100)
    config = {
        "version": 1,
        "models": {
            "live": {"provider": "openai_compatible", "model": "m", "base_url": fault_server.base_url}
        },
        "nodes": {"ask": {"kind": "agent", "model": "live"}},
        "edges": [["START", "ask"], ["ask", "END"]],
    }
    rows = ROWS[:6]
    report = await evaluate(compile_config(config), rows, LastNumber(), engine=RayEngine({"batch_size": 3}))
    assert report.errors == 0, [r.error for r in report.rows]
    assert [r.answer for r in report.rows] == ["The answer is 18."] * 6
    assert len(fault_server.chat_requests()) == 6  # the workers called the server


@pytest.mark.ray
def test_eval_cli_with_the_ray_engine(ray_cluster: None, capsys: pytest.CaptureFixture[str]) -> None:
    from fusionsdk.cli.app import main

    data = str(ROOT / "tests" / "data" / "gsm8k_subset.jsonl")
    args = ["eval", str(EXAMPLE), "--dataset", data, "--scorer", "numeric", "--json"]
    assert main(args) == 0
    local = json.loads(capsys.readouterr().out)
    assert main([*args, "--engine", "ray"]) == 0
    spread = json.loads(capsys.readouterr().out)
    assert spread["accuracy"] == local["accuracy"] and spread["per_model"] == local["per_model"]
    assert main([*args, "--address", "auto"]) == 2
    assert "--address and --workers need --engine ray" in capsys.readouterr().err


@pytest.mark.ray
def test_tune_cli_with_the_ray_engine(
    ray_cluster: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    from fusionsdk.cli.app import main

    data = ROOT / "tests" / "data" / "gsm8k_subset.jsonl"
    models = {
        f"m{i}": {"provider": "replay", "model": m, "options": {"dataset": str(data)}}
        for i, m in enumerate(ROWS[0].outputs)
    }
    config = tmp_path / "models.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "models": models,
                "nodes": {"answer": {"kind": "agent", "model": "m0"}},
                "edges": [["START", "answer"], ["answer", "END"]],
            }
        )
    )
    args = ["tune", str(config), "-d", str(data), "-s", "numeric", "--json"]
    assert main([*args, "--out", str(tmp_path / "local.yaml")]) == 0
    local = json.loads(capsys.readouterr().out)
    assert main([*args, "--out", str(tmp_path / "ray.yaml"), "--engine", "ray"]) == 0
    spread = json.loads(capsys.readouterr().out)
    assert spread["test"] == local["test"] and spread["chosen"] == local["chosen"]
    assert (tmp_path / "ray.yaml").read_text() == (tmp_path / "local.yaml").read_text()

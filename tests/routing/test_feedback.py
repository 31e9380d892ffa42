"""Feedback: runs routed by a learning router are logged, and their scores update its model file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fusionsdk.errors import ConfigError, GraphError
from fusionsdk.graph.builder import GraphBuilder
from fusionsdk.graph.run import Graph
from fusionsdk.routing.feedback import FeedbackLog, apply_feedback, remember_run
from fusionsdk.routing.router_file import read_router_model, write_router_model
from fusionsdk.tuning.router_training import TrainingSet, fit_router_model

TEXTS = [f"compute {a} plus {b}" for a in range(10) for b in (1, 2)] + [
    f"a poem about {w}" for w in "abcdefghij"
]


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSIONSDK_HOME", str(tmp_path / "home"))


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    labels = np.array([[1.0, 1.0]] * 20 + [[0.0, 1.0]] * 10)
    data = TrainingSet(TEXTS, ["cheap", "big"], labels, np.tile([0.001, 0.01], (30, 1)))
    path = tmp_path / "router.json"
    fit = fit_router_model(
        data, method="knn", embedder="hashing", holdout=0, settings={"k": 5, "prior_strength": 1}
    )
    write_router_model(path, fit.model)
    return path


def graph(model_file: Path, **fields: Any) -> Graph:
    return (
        GraphBuilder()
        .model("cheap", provider="fake", options={"responses": ["cheap answer"]})
        .model("big", provider="fake", options={"responses": ["big answer"]})
        .node(
            "pick",
            "agent",
            router="learned",
            models=["cheap", "big"],
            router_options={"model_file": str(model_file), "threshold": 0.6},
            **fields,
        )
        .edge("START", "pick")
        .edge("pick", "END")
        .compile()
    )


def log_entries(tmp_path: Path) -> list[dict[str, Any]]:
    return FeedbackLog(tmp_path / "home" / "feedback" / "routing.jsonl").entries()


async def test_a_run_is_logged_and_its_feedback_updates_the_model_file(
    model_file: Path, tmp_path: Path
) -> None:
    result = await graph(model_file).arun("compute 3 plus 4")
    assert result.answer == "cheap answer"
    (decision,) = log_entries(tmp_path)
    assert decision["run_id"] == result.thread_id and decision["target"] == "cheap"
    assert (
        decision["options"]["model_file"] == str(model_file.resolve())
        and decision["text"] == "compute 3 plus 4"
    )
    outcome = result.feedback(0.0)
    assert outcome.decisions == 1 and outcome.updated == ["pick -> cheap"]
    model = read_router_model(model_file)
    assert model.feedback == 1 and model.counts["cheap"] == (20.0, 11.0)
    assert model.predictor.state["x"].shape[0] == 31
    with pytest.raises(GraphError, match="no routing decisions awaiting feedback"):
        result.feedback(1.0)  # each decision takes feedback once
    assert [e["type"] for e in log_entries(tmp_path)] == ["decision", "feedback"]


async def test_graph_feedback_and_the_router_learning_from_it(model_file: Path) -> None:
    routed = graph(model_file)
    first = await routed.arun("compute 5 plus 5")
    assert first.decisions[0]["target"] == "cheap"
    for _ in range(6):
        run = await routed.arun("compute 5 plus 5")
        routed.feedback(run.thread_id, 0.0)  # the cheap model keeps failing on this prompt
    again = await routed.arun("compute 5 plus 5")
    assert again.decisions[0]["target"] == "big"  # the router in the graph reloaded the file


async def test_evaluation_runs_are_not_logged(model_file: Path, tmp_path: Path) -> None:
    await graph(model_file).arun("compute 1 plus 1", evaluation=True)
    assert log_entries(tmp_path) == []
    with pytest.raises(GraphError, match="no run has been logged"):
        apply_feedback("nope", 1.0)


async def test_sensitive_text_is_not_logged_but_counts_learn(model_file: Path, tmp_path: Path) -> None:
    result = await graph(model_file).arun("compute 2 plus 2", metadata={"sensitive": True})
    (decision,) = log_entries(tmp_path)
    assert decision["text"] is None
    result.feedback(1.0)
    model = read_router_model(model_file)
    assert model.counts["cheap"] == (21.0, 10.0) and model.predictor.state["x"].shape[0] == 30


async def test_graphs_without_learning_routers_log_nothing(tmp_path: Path) -> None:
    rules = (
        GraphBuilder()
        .model("a", provider="fake", options={"responses": ["x"]})
        .node("pick", "agent", router="rules", models=["a"], router_options={"default": "a"})
        .edge("START", "pick")
        .edge("pick", "END")
        .compile()
    )
    result = await rules.arun("hello")
    assert log_entries(tmp_path) == []
    with pytest.raises(GraphError):
        result.feedback(1.0)


@pytest.mark.parametrize("score", [-0.1, 1.5, float("nan"), True, "1"])
def test_bad_scores_are_config_errors(score: Any) -> None:
    with pytest.raises(ConfigError, match="score: must be a number from 0"):
        apply_feedback("run", score)


def test_a_resumed_thread_does_not_log_its_decisions_twice(model_file: Path, tmp_path: Path) -> None:
    routed = graph(model_file)
    log = FeedbackLog(tmp_path / "log.jsonl")
    values = {"task": "compute 1 plus 2", "decisions": [{"node": "pick", "type": "route", "target": "cheap"}]}
    assert remember_run(routed, values, "t1", log=log) == 1
    values["decisions"].append({"node": "pick", "type": "route", "target": "big"})
    assert remember_run(routed, values, "t1", resumed=True, log=log) == 1
    assert [e["target"] for e in log.pending("t1")] == ["cheap", "big"]
    assert (
        remember_run(routed, {"decisions": [{"node": "gone", "type": "route", "target": "x"}]}, "t2", log=log)
        == 0
    )


def test_scored_decisions_become_training_data(model_file: Path, tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "log.jsonl")
    log.append(
        [
            {
                "type": "decision",
                "run_id": "r1",
                "target": "big",
                "text": "a poem about z",
                "strategy": "learned",
                "node": "pick",
                "options": {"model_file": str(model_file)},
            },
            {
                "type": "decision",
                "run_id": "r2",
                "target": "cheap",
                "text": None,
                "strategy": "learned",
                "node": "pick",
                "options": {"model_file": str(model_file)},
            },
        ]
    )
    with open(log.path, "a") as out:
        out.write("{half a line\n")  # a crash mid-write is skipped
    apply_feedback("r1", 1.0, log=log)
    apply_feedback("r2", 0.0, log=log)
    assert [(d["run_id"], s) for d, s in log.scored()] == [("r1", 1.0), ("r2", 0.0)]
    data = TrainingSet.from_feedback(log, ["cheap", "big"])
    assert data.texts == ["a poem about z"] and np.isnan(data.labels[0, 0]) and data.labels[0, 1] == 1.0
    assert json.loads(log.path.read_text().splitlines()[0])["run_id"] == "r1"


async def test_streamed_runs_are_logged_too(model_file: Path, tmp_path: Path) -> None:
    events = [event async for event in graph(model_file).astream("compute 7 plus 1")]
    result = events[-1].result
    assert result is not None and [e["run_id"] for e in log_entries(tmp_path)] == [result.thread_id]

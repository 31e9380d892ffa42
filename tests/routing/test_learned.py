"""The ``learned`` router: predictors, the model file, decisions and online updates."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fusionsdk.answers import normalize_answer
from fusionsdk.errors import ConfigError, GraphError
from fusionsdk.eval.base import Scorer
from fusionsdk.providers.replay import load_replay
from fusionsdk.routing.base import RouteRequest
from fusionsdk.routing.learned import LearnedRouter, choose
from fusionsdk.routing.predictors import PREDICTORS
from fusionsdk.routing.router_file import read_router_model, write_router_model
from fusionsdk.tuning.router_training import TrainingSet, fit_router_model

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "replay.yaml"
ROWS = load_replay(str(ROOT / "tests" / "data" / "gsm8k_subset.jsonl")).rows

MATHS = [f"compute {a} plus {b} and multiply the sum by {a}" for a in range(3, 13) for b in (2, 7)]
POEMS = [
    f"write a short poem about {w} in the {s}"
    for w in ("rain", "cats", "the sea", "trees", "love")
    for s in ("spring", "winter", "night", "morning")
]


class LastNumber(Scorer):
    """Right when the final numbers agree."""

    def score(self, prediction: str, reference: str) -> float:
        return float(normalize_answer(prediction, "number") == normalize_answer(reference, "number"))


def topics() -> TrainingSet:
    """Two topics: 'calc' is right on maths only, 'bard' on poems only, 'big' on both."""
    texts = MATHS + POEMS
    labels = np.array([[1.0, 0.0, 1.0]] * len(MATHS) + [[0.0, 1.0, 1.0]] * len(POEMS))
    costs = np.tile([0.001, 0.001, 0.01], (len(texts), 1))
    return TrainingSet(texts, ["calc", "bard", "big"], labels, costs)


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    fit = fit_router_model(topics(), method="knn", embedder="hashing", settings={"k": 5, "prior_strength": 1})
    path = tmp_path / "router.json"
    write_router_model(path, fit.model)
    return path


@pytest.mark.parametrize("method", sorted(PREDICTORS))
def test_every_method_learns_which_model_fits_which_topic(method: str) -> None:
    fit = fit_router_model(topics(), method=method, embedder="hashing", seed=1)
    assert fit.brier is not None and fit.brier < fit.brier_prior  # the text tells the topics apart
    x = fit.model.predictor
    from fusionsdk.registry import default_registry
    from fusionsdk.routing.embedding import embed_unit, shared_embedder

    probe = embed_unit(
        shared_embedder("hashing", registry=default_registry()),
        ["compute 20 plus 3 and multiply the sum by 4", "write a short poem about snow in the evening"],
    )
    predicted = x.predict(probe)
    assert predicted[0, 0] > predicted[0, 1] and predicted[1, 1] > predicted[1, 0]
    assert np.all((predicted >= 0) & (predicted <= 1))


@pytest.mark.parametrize("method", sorted(PREDICTORS))
def test_online_learning_moves_the_prediction(method: str) -> None:
    fit = fit_router_model(topics(), method=method, embedder="hashing", holdout=0)
    from fusionsdk.registry import default_registry
    from fusionsdk.routing.embedding import embed_unit, shared_embedder

    embedder = shared_embedder("hashing", registry=default_registry())
    x = embed_unit(embedder, ["compute 5 plus 5 and multiply the sum by 5"])
    before = fit.model.predictor.predict(x)[0, 2]
    for _ in range(5):
        fit.model.predictor.learn(x[0], 2, 0.0)
    assert fit.model.predictor.predict(x)[0, 2] < before


def test_the_model_file_round_trips(model_file: Path) -> None:
    model = read_router_model(model_file)
    assert model.method == "knn" and model.models == ["calc", "bard", "big"] and model.embedder == "hashing"
    assert model.costs == {"calc": 0.001, "bard": 0.001, "big": 0.01}
    assert model.counts["calc"] == (len(MATHS), len(POEMS))
    again = model_file.with_name("again.json")
    write_router_model(again, model)
    assert read_router_model(again).to_json() == model.to_json()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"version": 2}, "version"),
        ({"method": "forest"}, "method: must be one of"),
        ({"models": []}, "models: missing"),
        ({"embedder": 3}, "embedder: missing"),
        ({"costs": {"calc": -1}}, "costs.calc"),
        ({"counts": {"calc": {"correct": "x", "wrong": 1}}}, "counts.calc.correct"),
        ({"settings": {"k": 3, "depth": 2}}, "settings: unknown knn setting 'depth'"),
        ({"state": None}, "state: missing"),
        ({"state": {"x": {"shape": [2], "float32": "@@"}}}, "state.x: not an encoded array"),
    ],
)
def test_a_malformed_model_file_is_refused_with_the_key(
    model_file: Path, change: dict[str, Any], match: str
) -> None:
    data = {**json.loads(model_file.read_text()), **change}
    model_file.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=match):
        read_router_model(model_file)
    with pytest.raises(ConfigError, match=f"options.model_file: .*{match}"):
        LearnedRouter({"model_file": str(model_file)})


def test_bad_router_options_are_config_errors(model_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="options.model_file: .*not found"):
        LearnedRouter({"model_file": str(tmp_path / "none.json")})
    (tmp_path / "text.json").write_text("not json")
    with pytest.raises(ConfigError, match="is not JSON"):
        LearnedRouter({"model_file": str(tmp_path / "text.json")})
    with pytest.raises(ConfigError, match="options.costs"):
        LearnedRouter({"model_file": str(model_file), "costs": {"big": -1}})
    with pytest.raises(ConfigError, match="options.decision"):
        LearnedRouter({"model_file": str(model_file), "decision": "vibes"})
    with pytest.raises(ConfigError, match="options.model_file"):
        LearnedRouter({})


async def test_threshold_picks_the_cheapest_model_predicted_good_enough(model_file: Path) -> None:
    router = LearnedRouter({"model_file": str(model_file), "threshold": 0.7})
    maths = await router.route(
        RouteRequest("compute 4 plus 2 and multiply the sum by 4"), ["calc", "bard", "big"]
    )
    poem = await router.route(
        RouteRequest("write a short poem about cats in the spring"), ["calc", "bard", "big"]
    )
    assert (maths.target, poem.target) == ("calc", "bard")
    assert set(maths.scores) == {"calc", "bard", "big"} and "knn: cheapest" in maths.reason
    only_big = await router.route(RouteRequest("compute 4 plus 2 and multiply the sum by 4"), ["bard", "big"])
    assert only_big.target == "big"


async def test_utility_trades_quality_for_cost(model_file: Path) -> None:
    text = RouteRequest("write a short poem about rain at night")
    free = LearnedRouter({"model_file": str(model_file), "decision": "utility", "cost_weight": 0.0})
    pricey = LearnedRouter(
        {"model_file": str(model_file), "decision": "utility", "cost_weight": 5.0, "costs": {"bard": 0.02}}
    )
    assert (await free.route(text, ["bard", "big"])).target in {"bard", "big"}
    assert (await pricey.route(text, ["bard", "big"])).target == "big"  # bard now costs more


async def test_unknown_targets_fall_back(model_file: Path) -> None:
    router = LearnedRouter({"model_file": str(model_file), "default": "other"})
    decision = await router.route(RouteRequest("hi"), ["x", "other"])
    assert decision.target == "other" and "fallback" in decision.reason
    assert (
        await LearnedRouter({"model_file": str(model_file)}).route(RouteRequest("hi"), ["x", "y"])
    ).target == "x"
    with pytest.raises(GraphError, match="no targets"):
        await router.route(RouteRequest("hi"), [])


def test_choose_rules() -> None:
    predicted, costs = {"a": 0.8, "b": 0.95}, {"a": 1.0, "b": 10.0}
    assert choose(predicted, costs, "threshold", threshold=0.9)[0] == "b"
    assert choose(predicted, costs, "threshold", threshold=0.99)[0] == "b"  # none reaches: the likeliest
    assert choose(predicted, costs, "utility", cost_weight=0.0)[0] == "b"
    assert choose(predicted, costs, "utility", cost_weight=1.0)[0] == "a"


async def test_learning_updates_the_file_and_other_routers_reload_it(model_file: Path) -> None:
    writer = LearnedRouter({"model_file": str(model_file)})
    reader = LearnedRouter({"model_file": str(model_file)})
    text = "compute 9 plus 9 and multiply the sum by 9"
    before = reader.model.predictor.state["x"].shape[0]
    assert writer.learn(RouteRequest(text), "calc", 1.0)
    assert not writer.learn(RouteRequest(text), "unknown-model", 1.0)
    assert writer.learn(RouteRequest(""), "big", 0.0)  # no text (sensitive): counts only
    on_disk = read_router_model(model_file)
    assert on_disk.feedback == 2 and on_disk.counts["calc"] == (len(MATHS) + 1, len(POEMS))
    assert on_disk.counts["big"] == (len(MATHS) + len(POEMS), 1)
    assert reader.model.predictor.state["x"].shape[0] == before + 1  # reloaded on change


def test_concurrent_feedback_all_counts(model_file: Path) -> None:
    routers = [LearnedRouter({"model_file": str(model_file)}) for _ in range(4)]

    def give(i: int) -> None:
        for _ in range(5):
            routers[i].learn(RouteRequest(f"write a short poem number {i}"), "bard", 1.0)

    threads = [threading.Thread(target=give, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    model = read_router_model(model_file)
    assert model.feedback == 20 and model.counts["bard"][0] == len(POEMS) + 20

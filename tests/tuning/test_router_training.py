"""Training the ``learned`` router: training sets, fitting, and evaluating a config's models."""

from __future__ import annotations

import numpy as np
import pytest

from fusionsdk.config.file import load_config
from fusionsdk.errors import ConfigError
from fusionsdk.tuning.router_training import TrainingSet, fit_router_model, routed_models, train_config
from tests.routing.test_learned import EXAMPLE, ROOT, ROWS, LastNumber, topics


def test_training_set_from_a_report_and_bad_fits() -> None:
    data = topics()
    assert data.mean_costs() == {"calc": 0.001, "bard": 0.001, "big": 0.01}
    with pytest.raises(ConfigError, match="method"):
        fit_router_model(data, method="forest", embedder="hashing")
    with pytest.raises(ConfigError, match="settings"):
        fit_router_model(data, method="knn", embedder="hashing", settings={"depth": 3})
    with pytest.raises(ConfigError, match="at least 2 prompts"):
        fit_router_model(TrainingSet(["x"], ["a"], np.ones((1, 1)), np.ones((1, 1))), embedder="hashing")
    with pytest.raises(ConfigError, match="embeddings"):
        fit_router_model(data, embedder="hashing", embeddings=np.zeros((2, 4)))
    with pytest.raises(ConfigError, match="nothing to train on"):
        TrainingSet.from_report([], {})
    with pytest.raises(ConfigError, match="different models"):
        _ = data + TrainingSet(["x"], ["other"], np.ones((1, 1)), np.ones((1, 1)))


async def test_train_config_on_the_replay_example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    fit = await train_config(load_config(EXAMPLE), ROWS, LastNumber(), method="logistic", embedder="hashing")
    model = fit.model
    assert (
        model.models == ["gpt4o", "llama405b", "sonnet", "flash", "mini"] and model.extra["node"] == "panel"
    )
    assert len(fit.data.texts) == 40 and model.costs["flash"] < model.costs["gpt4o"]
    assert sum(model.counts["gpt4o"]) == 40
    with pytest.raises(ConfigError, match="method"):
        await train_config(load_config(EXAMPLE), ROWS, LastNumber(), method="forest")


def test_routed_models_finds_the_node() -> None:
    config = load_config(EXAMPLE)
    assert routed_models(config)[0] == "panel"
    with pytest.raises(ConfigError, match="'vote' is not a routed agent or a panel"):
        routed_models(config, "vote")

"""The installed distribution: fusionsdk finds both plugins by name, lists and uses them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from fusionsdk.cli.app import main
from fusionsdk.fusion.base import Candidate
from fusionsdk.registry import default_registry, reset_default_registry

from fusionsdk_plugin_example import AgreementThreshold, WeightedConfidence

DISTRIBUTION = "fusionsdk-plugin-example"


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in ("FUSIONSDK_PLUGINS", "FUSIONSDK_DISABLE_PLUGIN_AUTOLOAD"):
        monkeypatch.delenv(variable, raising=False)
    reset_default_registry()
    yield
    reset_default_registry()


def test_listed_by_fusionsdk_plugins_list_json() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUSIONSDK_")}
    out = subprocess.run(
        [sys.executable, "-m", "fusionsdk.cli.app", "plugins", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    rows = {(row["kind"], row["name"]): row for row in json.loads(out.stdout)}
    for key in [("fusers", "weighted_confidence"), ("arbiters", "agreement_threshold")]:
        row = rows[key]
        assert (row["distribution"], row["version"], row["status"]) == (DISTRIBUTION, "0.1.0", "loaded")
        assert row["builtin"] is False


async def test_usable_by_name_through_the_registry() -> None:
    registry = default_registry()
    fuser_class = registry.get("fusers", "weighted_confidence")
    assert fuser_class is WeightedConfidence
    assert registry.get("fusers", f"{DISTRIBUTION}:weighted_confidence") is WeightedConfidence
    panel = [Candidate("a", "42"), Candidate("b", "42."), Candidate("c", "41", weight=1.5)]
    result = await fuser_class({"default_confidence": 0.8}).fuse("What is 6 x 7?", panel)
    assert (result.text, result.winner) == ("42", "a")

    arbiter = registry.get("arbiters", "agreement_threshold")()
    assert isinstance(arbiter, AgreementThreshold)
    assert (await arbiter.resolve("What is 6 x 7?", panel)).text == "42"


def test_shown_with_its_options_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "show", "weighted_confidence", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["distribution"] == DISTRIBUTION
    options = set(info["options_schema"]["properties"])
    assert options == {"default_confidence", "min_support", "case_sensitive"}
    assert info["doc"].startswith("Confidence-weighted vote")


def test_blocked_by_an_allow_list_that_does_not_name_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSIONSDK_PLUGINS", "some-other-plugin")
    reset_default_registry()
    assert "weighted_confidence" not in default_registry().names("fusers")
    monkeypatch.setenv("FUSIONSDK_PLUGINS", DISTRIBUTION)
    reset_default_registry()
    assert "weighted_confidence" in default_registry().names("fusers")


async def test_a_graph_uses_the_strategy_and_the_arbiter_by_name() -> None:
    """What a user does after `pip install`: name the plugin's strategy and arbiter in a config."""
    from fusionsdk.graph import compile_config

    def fake(text: str) -> dict[str, object]:
        return {"provider": "fake", "options": {"responses": [text], "logprob": -0.1}}

    graph = compile_config(
        {
            "version": 1,
            "models": {"a": fake("Paris"), "b": fake("paris"), "c": fake("Lyon")},
            "nodes": {
                "panel": {"kind": "panel", "models": ["a", "b", "c"]},
                "fuse": {"kind": "fuse", "strategy": "weighted_confidence"},
                "settle": {"kind": "arbitrate", "arbiter": "agreement_threshold", "source": "panel"},
            },
            "edges": [["START", "panel"], ["panel", "fuse"], ["fuse", "settle"], ["settle", "END"]],
        }
    )
    result = await graph.arun("What is the capital of France?")
    assert result.answer.lower() == "paris"
    kinds = {d["type"]: d for d in result.decisions}
    assert kinds["fuse"]["strategy"] == "weighted_confidence"
    assert kinds["arbitrate"]["arbiter"] == "agreement_threshold"

"""Registry.build, and the registry passed through: a graph compiled with a custom registry
resolves every nested plugin (ladder steps, inner routers, embedders) from that registry only."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from fusionsdk.arbiters.confidence import ConfidenceArbiter
from fusionsdk.arbiters.ladder import EscalationLadder
from fusionsdk.errors import ConfigError, PluginError
from fusionsdk.fusion.majority_vote import MajorityVote
from fusionsdk.graph import compile_config
from fusionsdk.memory.embedders.hashing import HashingEmbedder
from fusionsdk.plugin import PluginBase
from fusionsdk.registry import PluginKind, Registry, default_registry
from fusionsdk.routing.rules import RulesRouter

STEP, INNER, EMBEDDER = "only_here_step", "only_here_rules", "only_here_embedder"


class _Recorded:
    """Remembers every instance, and the registry it was built with."""

    built: ClassVar[list[PluginBase[Any]]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        type(self).built.append(self)  # type: ignore[arg-type]


class OnlyHereStep(_Recorded, ConfidenceArbiter):
    built: ClassVar[list[PluginBase[Any]]] = []


class OnlyHereRules(_Recorded, RulesRouter):
    built: ClassVar[list[PluginBase[Any]]] = []


class OnlyHereEmbedder(_Recorded, HashingEmbedder):
    built: ClassVar[list[PluginBase[Any]]] = []


@pytest.fixture
def custom() -> Registry:
    registry = Registry()
    registry.register(PluginKind.ARBITERS, STEP, OnlyHereStep)
    registry.register(PluginKind.ROUTERS, INNER, OnlyHereRules)
    registry.register(PluginKind.EMBEDDERS, EMBEDDER, OnlyHereEmbedder)
    for cls in (OnlyHereStep, OnlyHereRules, OnlyHereEmbedder):
        cls.built.clear()
    return registry


def test_the_names_exist_only_in_the_custom_registry(custom: Registry) -> None:
    assert STEP not in default_registry().names(PluginKind.ARBITERS)
    assert INNER not in default_registry().names(PluginKind.ROUTERS)
    assert EMBEDDER not in default_registry().names(PluginKind.EMBEDDERS)
    assert STEP in custom.names(PluginKind.ARBITERS)


def test_build_validates_options_and_names_the_config_path() -> None:
    registry = Registry()
    vote = registry.build(PluginKind.FUSERS, "majority_vote", {"extract": "number"}, path="nodes.v.options")
    assert isinstance(vote, MajorityVote) and vote.options.extract == "number"
    with pytest.raises(ConfigError) as caught:
        registry.build(PluginKind.FUSERS, "majority_vote", {"extrct": "x"}, path="nodes.v.options")
    assert caught.value.path == "nodes.v.options.extrct"


def test_an_unknown_name_is_a_plugin_error_or_a_config_error_at_its_path() -> None:
    registry = Registry()
    with pytest.raises(PluginError, match="unknown fusers plugin 'nope'"):
        registry.build(PluginKind.FUSERS, "nope", {}, path="nodes.v.options")
    with pytest.raises(ConfigError) as caught:
        registry.build(PluginKind.FUSERS, "nope", {}, path="nodes.v.options", name_path="nodes.v.strategy")
    assert caught.value.path == "nodes.v.strategy"


def test_a_plugins_own_error_is_put_under_the_path(custom: Registry) -> None:
    with pytest.raises(ConfigError) as caught:
        custom.build(
            PluginKind.ARBITERS,
            "ladder",
            {"steps": [{"arbiter": STEP, "options": {"embedder": "nope"}}]},
            path="nodes.settle.options",
        )
    assert caught.value.path == "nodes.settle.options.steps[0].options.embedder"


def test_nested_plugins_come_from_the_registry_that_built_the_parent(custom: Registry) -> None:
    options = {"steps": [{"arbiter": STEP, "options": {"embedder": EMBEDDER}}]}
    ladder = custom.build(PluginKind.ARBITERS, "ladder", options, path="options")
    assert isinstance(ladder, EscalationLadder) and ladder.registry is custom
    assert [type(a) for a in OnlyHereStep.built] == [OnlyHereStep]
    assert OnlyHereStep.built[0].registry is custom
    with pytest.raises(ConfigError) as caught:  # the process-wide registry has no such step
        EscalationLadder(options)
    assert caught.value.path == "options.steps[0].arbiter"


def test_a_graph_with_a_custom_registry_resolves_nested_plugins_only_from_it(custom: Registry) -> None:
    config = {
        "version": 1,
        "models": {"smol": {"provider": "fake"}, "gemma": {"provider": "fake"}},
        "nodes": {
            "route": {
                "kind": "router",
                "strategy": "privacy",
                "options": {"strategy": INNER, "options": {"default": "ask"}},
            },
            "ask": {
                "kind": "agent",
                "router": "semantic",
                "router_options": {
                    "routes": [{"target": "smol", "utterances": ["hi"]}],
                    "embedder": EMBEDDER,
                },
                "models": ["smol", "gemma"],
            },
            "panel": {"kind": "panel", "models": ["smol", "gemma"]},
            "fuse": {"kind": "fuse", "strategy": "consensus", "options": {"embedder": EMBEDDER}},
            "settle": {
                "kind": "arbitrate",
                "arbiter": "ladder",
                "options": {"steps": [{"arbiter": STEP, "options": {"embedder": EMBEDDER}}]},
            },
        },
        "edges": [
            ["START", "route"],
            ["ask", "panel"],
            ["panel", "fuse"],
            ["fuse", "settle"],
            ["settle", "END"],
        ],
    }
    graph = compile_config(config, registry=custom)
    assert graph.context.registry is custom
    assert len(OnlyHereRules.built) == 1 and OnlyHereRules.built[0].registry is custom
    assert len(OnlyHereStep.built) == 1 and OnlyHereStep.built[0].registry is custom
    assert len(OnlyHereEmbedder.built) >= 3  # the semantic router's, the consensus fuser's, the step's
    assert all(e.registry is custom for e in OnlyHereEmbedder.built)
    with pytest.raises(ConfigError, match=f"unknown routers plugin '{INNER}'"):
        compile_config(config)  # the process-wide registry knows none of them


def test_a_chroma_store_takes_its_default_embedder_from_its_registry() -> None:
    pytest.importorskip("chromadb")
    registry = Registry()
    registry.register(PluginKind.EMBEDDERS, "minilm", OnlyHereEmbedder, replace=True)
    store = registry.build(PluginKind.MEMORY, "ephemeral", {"collection": "docs"}, path="memory.docs")
    assert isinstance(store.embedder, OnlyHereEmbedder) and store.embedder.registry is registry

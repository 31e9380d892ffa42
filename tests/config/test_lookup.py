"""Finding a node of a config by kind or by name."""

from __future__ import annotations

import pytest

from fusionsdk.config.file import parse_config
from fusionsdk.config.lookup import find_node
from fusionsdk.errors import ConfigError

CONFIG = parse_config(
    {
        "version": 1,
        "models": {"a": {"provider": "fake"}, "b": {"provider": "fake"}},
        "nodes": {
            "ask": {"kind": "panel", "models": ["a", "b"]},
            "vote": {"kind": "fuse", "strategy": "majority_vote", "options": {"extract": "number"}},
            "pick": {
                "kind": "agent",
                "models": ["a", "b"],
                "router": "rules",
                "router_options": {"default": "a"},
            },
            "split": {
                "kind": "router",
                "strategy": "rules",
                "targets": ["ask"],
                "options": {"default": "ask"},
            },
        },
        "edges": [["START", "split"], ["ask", "vote"], ["vote", "END"], ["pick", "END"]],
    }
)


def test_by_kind_and_by_name() -> None:
    panel = find_node(CONFIG, kind="panel")
    assert (panel.name, panel.kind, panel.path, panel.models()) == ("ask", "panel", "nodes.ask", ["a", "b"])
    assert find_node(CONFIG, "vote").options == {"extract": "number"}
    assert find_node(CONFIG, kind=("agent", "panel"), prefer=lambda n: n.kind == "agent").name == "pick"
    assert find_node(CONFIG, kind=("agent", "panel"), first=True).name == "ask"


def test_routers_of_router_and_routed_nodes() -> None:
    pick, split = find_node(CONFIG, "pick").router, find_node(CONFIG, "split").router
    assert pick is not None and (pick.strategy, pick.options, pick.path) == (
        "rules",
        {"default": "a"},
        "nodes.pick.router_options",
    )
    assert split is not None and split.path == "nodes.split.options"
    assert find_node(CONFIG, "ask").router is None


def test_errors_name_the_argument() -> None:
    with pytest.raises(ConfigError, match="--node: name the node to use \\(nodes: ask, pick\\)"):
        find_node(CONFIG, kind=("agent", "panel"), arg="--node")
    with pytest.raises(ConfigError, match="node: 'vote' is not such a node \\(those are: ask\\)"):
        find_node(CONFIG, "vote", kind="panel")
    with pytest.raises(ConfigError, match="nodes: no judges"):
        find_node(CONFIG, kind="judge", missing="no judges")
    with pytest.raises(ConfigError, match="nodes.vote.models: the fuser has no models"):
        find_node(CONFIG, "vote").models("fuser")

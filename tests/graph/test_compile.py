"""Graph configs: every malformed one is refused at compile time with its path."""

from __future__ import annotations

from typing import Any

import pytest

from fusionsdk.errors import ConfigError
from fusionsdk.graph import compile_config

MODELS = {"smol": {"provider": "fake"}, "gemma": {"provider": "fake"}}


def graph(nodes: dict[str, Any], edges: list[list[str]], **extra: Any) -> dict[str, Any]:
    return {"version": 1, "models": MODELS, "nodes": nodes, "edges": edges, **extra}


PANEL_FUSE = {"panel": {"kind": "panel", "models": ["smol", "gemma"]}, "fuse": {"kind": "fuse"}}
PANEL_FUSE_EDGES = [["START", "panel"], ["panel", "fuse"], ["fuse", "END"]]


def test_issue_example_compiles() -> None:
    compiled = compile_config(graph(PANEL_FUSE, PANEL_FUSE_EDGES))
    assert "panel" in compiled.mermaid() and "fuse" in compiled.mermaid()


@pytest.mark.parametrize(
    ("nodes", "edges", "path", "message"),
    [
        (
            {"panel": {"kind": "panel", "models": ["smol", "gemma", "gpt5"]}, "fuse": {"kind": "fuse"}},
            PANEL_FUSE_EDGES,
            "nodes.panel.models[2]",
            "unknown model 'gpt5' (known: gemma, smol)",
        ),
        (
            {**PANEL_FUSE, "x": {"kind": "teleport"}},
            [*PANEL_FUSE_EDGES, ["x", "END"]],
            "nodes.x.kind",
            "unknown nodes plugin 'teleport'",
        ),
        (
            {"panel": {"kind": "panel", "models": ["smol"], "quorm": 1}, "fuse": {"kind": "fuse"}},
            PANEL_FUSE_EDGES,
            "nodes.panel.quorm",
            "unknown field",
        ),
        (
            {"panel": {"kind": "panel", "models": ["smol"], "quorum": 2}, "fuse": {"kind": "fuse"}},
            PANEL_FUSE_EDGES,
            "nodes.panel",
            "quorum 2",
        ),
        (
            {"panel": {"kind": "panel", "models": []}, "fuse": {"kind": "fuse"}},
            PANEL_FUSE_EDGES,
            "nodes.panel.models",
            "at least 1",
        ),
        (
            {"panel": {"kind": "panel", "models": ["smol"], "prompt": "{taks}"}, "fuse": {"kind": "fuse"}},
            PANEL_FUSE_EDGES,
            "nodes.panel.prompt",
            "unknown placeholder {taks}",
        ),
        (
            {**PANEL_FUSE},
            [["START", "panel"], ["panel", "fuse"], ["fuse", "ENDD"]],
            "edges[2][1]",
            "unknown node 'ENDD'",
        ),
        ({**PANEL_FUSE}, [["panel", "fuse"], ["fuse", "END"]], "edges", "no edge leaves START"),
        (
            {**PANEL_FUSE},
            [["START", "panel"], ["panel", "fuse"]],
            "edges",
            "node 'fuse' has no outgoing edge",
        ),
        (
            {"panel": {"kind": "panel", "models": ["smol"]}, "fuse": {"kind": "fuse", "strategy": "nope"}},
            PANEL_FUSE_EDGES,
            None,
            "unknown fusers plugin 'nope'",
        ),
        (
            {
                "panel": {"kind": "panel", "models": ["smol"]},
                "fuse": {"kind": "fuse", "options": {"extract": "roman"}},
            },
            PANEL_FUSE_EDGES,
            "nodes.fuse.options.extract",
            "",
        ),
        ({"a": {"kind": "agent"}}, [["START", "a"], ["a", "END"]], "nodes.a", "either 'model' or 'router'"),
        (
            {"a": {"kind": "agent", "model": "gpt5"}},
            [["START", "a"], ["a", "END"]],
            "nodes.a.model",
            "unknown model 'gpt5'",
        ),
        (
            {"r": {"kind": "router", "options": {"routes": [{"target": "nowhere"}]}}},
            [["START", "r"]],
            "nodes.r.targets[0]",
            "router target 'nowhere' is not a node",
        ),
        (
            {"r": {"kind": "router", "options": {"routes": [{"target": "r", "regex": "("}]}}},
            [["START", "r"]],
            "nodes.r.options.routes[0].regex",
            "invalid regular expression",
        ),
        (
            {"j": {"kind": "arbitrate", "options": {"judge": "gpt5"}}},
            [["START", "j"], ["j", "END"]],
            "nodes.j.options.judge",
            "unknown model 'gpt5'",
        ),
        ({"START": {"kind": "fuse"}}, [["START", "END"]], "nodes", "reserved"),
    ],
)
def test_bad_graphs_name_their_path(
    nodes: dict[str, Any], edges: list[list[str]], path: str | None, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        compile_config(graph(nodes, edges))
    if path is not None:
        assert info.value.path == path, str(info.value)
    assert message in str(info.value)


def test_no_nodes_is_an_error() -> None:
    with pytest.raises(ConfigError, match="no nodes"):
        compile_config({"version": 1, "models": MODELS})


def test_budget_fields_are_checked() -> None:
    with pytest.raises(ConfigError) as info:
        compile_config(graph(PANEL_FUSE, PANEL_FUSE_EDGES, budget={"max_cost": 1}))
    assert info.value.path == "budget.max_cost"

"""Notebook rendering: graphs and run results as inline SVG and HTML tables, no script, no CDN."""

from __future__ import annotations

import re
from pathlib import Path

from fusionsdk.graph import compile_config, compile_file
from fusionsdk.graph.render import svg_diagram

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml"


def offline(html: str) -> None:
    assert "<script" not in html and "<link" not in html
    urls = set(re.findall(r"https?://[^\"' )]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls


def test_compiled_graph_renders_a_diagram_and_a_node_table() -> None:
    graph = compile_file(QUICKSTART)
    bundle = graph._repr_mimebundle_()
    html = bundle["text/html"]
    offline(html)
    assert html.count("<rect") == 6  # START, route, panel, fuse, solo, END
    assert html.count('stroke-dasharray="5,4"') == 2  # the router's two conditional edges
    for text in ("route (router)", "panel (panel)", "smol, gemma", "majority_vote"):
        assert text in html
    assert bundle["text/plain"] == "Graph(name='quickstart', nodes=['route', 'panel', 'fuse', 'solo'])"


def test_run_result_renders_its_path_and_steps() -> None:
    fake = {"provider": "fake", "options": {"responses": ["<b>42</b>"]}}
    cfg = {
        "version": 1,
        "models": {"a": fake, "b": fake},
        "nodes": {"panel": {"kind": "panel", "models": ["a", "b"]}, "fuse": {"kind": "fuse"}},
        "edges": [["START", "panel"], ["panel", "fuse"], ["fuse", "END"]],
    }
    result = compile_config(cfg).run("q")
    html = result._repr_mimebundle_()["text/html"]
    offline(html)
    assert "&lt;b&gt;42&lt;/b&gt;" in html and "<b>42</b>" not in html  # answers are escaped
    assert html.count("<rect") == 4 and "fuse: a" in html and "panel: [" in html
    assert html.count("<tr>") == 3  # header and two steps


def test_diagram_handles_cycles_and_unreachable_nodes() -> None:
    svg = svg_diagram(
        ["START", "a", "b", "lonely"], [("START", "a", False), ("a", "b", False), ("b", "a", True)]
    )
    assert svg.count("<rect") == 4 and svg.count("<line") == 3

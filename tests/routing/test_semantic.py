"""The ``semantic`` router, its threshold fitting, the ``hashing`` embedder and the default embedder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from fusionsdk.errors import ConfigError, GraphError, PluginError
from fusionsdk.graph.builder import GraphBuilder
from fusionsdk.memory.base import Embedder
from fusionsdk.memory.embedders.hashing import HashingEmbedder
from fusionsdk.plugin import PluginOptions
from fusionsdk.registry import Registry
from fusionsdk.routing.base import RouteRequest
from fusionsdk.routing.embedding import default_embedder
from fusionsdk.routing.semantic import SemanticRouter
from fusionsdk.settings import Settings
from fusionsdk.tuning.semantic_routes import fit_thresholds, read_examples, write_routes_file

ROUTES: list[dict[str, Any]] = [
    {
        "target": "math",
        "utterances": ["solve the equation for x", "what is 15 percent of 80", "add these numbers"],
    },
    {
        "target": "code",
        "utterances": ["fix my python function", "why does this loop crash", "write a sql query"],
    },
]
EXAMPLES = [
    ("solve this equation: 3x + 2 = 11", "math"),
    ("what is 20 percent of 150", "math"),
    ("add 17 and 25", "math"),
    ("my python function raises a TypeError", "code"),
    ("write a sql query that counts orders", "code"),
    ("this loop never ends, why", "code"),
    ("tell me a joke about cats", None),
    ("what a lovely morning", None),
    ("recommend a good novel", None),
]


def router(**options: Any) -> SemanticRouter:
    return SemanticRouter({"routes": ROUTES, "embedder": "hashing", "default": "chat", **options})


async def test_routes_to_the_most_similar_route() -> None:
    decision = await router(threshold=0.2).route(
        RouteRequest("please solve this equation for x"), ["math", "code", "chat"]
    )
    assert decision.target == "math" and "similarity" in decision.reason
    assert set(decision.scores) == {"math", "code"} and decision.scores["math"] > decision.scores["code"]


async def test_falls_back_to_default_below_the_threshold() -> None:
    decision = await router(threshold=0.95).route(
        RouteRequest("solve the equation"), ["math", "code", "chat"]
    )
    assert decision.target == "chat" and "default" in decision.reason


async def test_only_offered_targets_count() -> None:
    decision = await router(threshold=0.0).route(RouteRequest("solve the equation for x"), ["code", "chat"])
    assert decision.target == "code" and set(decision.scores) == {"code"}


async def test_no_match_and_no_default_is_a_graph_error() -> None:
    strict = SemanticRouter({"routes": ROUTES, "embedder": "hashing", "threshold": 0.99})
    with pytest.raises(GraphError, match="no route reached"):
        await strict.route(RouteRequest("a cat on a mat"), ["math", "code"])
    with pytest.raises(GraphError, match="no targets"):
        await strict.route(RouteRequest("x"), [])


def test_declared_targets() -> None:
    assert router().declared_targets() == ["math", "code", "chat"]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({}, "either 'routes' or 'routes_file'"),
        ({"routes": [{"target": "a", "utterances": []}]}, r"options.routes\[0\].utterances"),
        ({"routes": [ROUTES[0], ROUTES[0]]}, "two routes go to 'math'"),
        ({"routes": ROUTES, "threshold": 2}, "options.threshold"),
        ({"routes": ROUTES, "embedder": "nope"}, "options.embedder"),
        (
            {"routes": ROUTES, "embedder": "hashing", "embedder_options": {"dimension": 2}},
            "options.embedder_options",
        ),
        ({"routes_file": "/no/such/routes.json"}, "options.routes_file"),
        ({"routes": ROUTES, "surprise": 1}, "options.surprise"),
    ],
)
def test_bad_options_are_config_errors_with_paths(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SemanticRouter(options)


async def test_fitted_thresholds_route_the_examples_better_and_round_trip(tmp_path: Path) -> None:
    start = router(threshold=0.9)
    fit = fit_thresholds(start, EXAMPLES)
    assert fit.n == len(EXAMPLES) and fit.accuracy >= fit.accuracy_before and fit.accuracy >= 8 / 9
    out = tmp_path / "routes.json"
    data = write_routes_file(out, start, fit, note="test")
    assert data["embedder"] == "hashing" and data["fit"]["note"] == "test"
    assert [r["threshold"] for r in json.loads(out.read_text())["routes"]] == fit.thresholds
    fitted = SemanticRouter({"routes_file": str(out)})
    assert fitted.thresholds() == fit.thresholds and fitted.default == "chat"
    right = 0
    for text, label in EXAMPLES:
        decision = await fitted.route(RouteRequest(text), ["math", "code", "chat"])
        right += decision.target == (label or "chat")
    assert right / len(EXAMPLES) == pytest.approx(fit.accuracy)


def test_a_routes_file_keeps_its_embedder(tmp_path: Path) -> None:
    out = tmp_path / "routes.json"
    start = router()
    write_routes_file(out, start, fit_thresholds(start, EXAMPLES))
    with pytest.raises(
        ConfigError, match="options.embedder: the routes file was fitted with embedder 'hashing'"
    ):
        SemanticRouter({"routes_file": str(out), "embedder": "fake"})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"routes": [{"target": "a"}]}))
    with pytest.raises(ConfigError, match=r"routes\[0\].utterances"):
        SemanticRouter({"routes_file": str(bad)})


def test_read_examples_checks_every_line(tmp_path: Path) -> None:
    good = tmp_path / "examples.jsonl"
    good.write_text('{"text": "hi", "route": "chat"}\n\n{"text": "sum 2 and 2", "route": null}\n')
    assert read_examples(good) == [("hi", "chat"), ("sum 2 and 2", None)]
    for content, match in [
        ('{"text": "hi"}\nnot json\n', "line 2"),
        ('{"route": "x"}\n', "line 1"),
        ('{"text": 3, "route": "x"}\n', "line 1: 'text' must be a string"),
        ("\n", "has no examples"),
    ]:
        good.write_text(content)
        with pytest.raises(ConfigError, match=match):
            read_examples(good)
    with pytest.raises(ConfigError, match="cannot read examples file"):
        read_examples(tmp_path / "missing.jsonl")
    with pytest.raises(ConfigError, match="no examples"):
        fit_thresholds(router(), [])


async def test_semantic_router_node_in_a_graph() -> None:
    graph = (
        GraphBuilder()
        .model("a", provider="fake", options={"responses": ["math answer"]})
        .model("b", provider="fake", options={"responses": ["chat answer"]})
        .node(
            "route",
            "router",
            strategy="semantic",
            options={"routes": [ROUTES[0]], "default": "chat", "embedder": "hashing", "threshold": 0.3},
        )
        .node("math", "agent", model="a")
        .node("chat", "agent", model="b")
        .edge("START", "route")
        .edge("math", "END")
        .edge("chat", "END")
        .compile()
    )
    assert (await graph.arun("solve the equation for x")).answer == "math answer"
    result = await graph.arun("hello there, how are you")
    assert result.answer == "chat answer" and result.decisions[0]["target"] == "chat"


# -- embedders ---------------------------------------------------------------------------------------


def test_hashing_embeds_similar_texts_nearby() -> None:
    embedder = HashingEmbedder({"dimension": 256})
    a, b, c = embedder.embed(["refund my order", "refunds for my orders", "the weather is sunny"])
    assert len(a) == 256 and embedder.dimension == 256
    assert sum(x * y for x, y in zip(a, b, strict=True)) > 0.3 > sum(x * y for x, y in zip(a, c, strict=True))
    assert embedder.embed([""])[0] == [0.0] * 256
    with pytest.raises(ConfigError, match="char_ngrams"):
        HashingEmbedder({"char_ngrams": [0]})


class _Broken(Embedder):
    """An embedder whose model is missing."""

    dimension: ClassVar[int] = 4

    class Options(PluginOptions):
        """None."""

    def embed(self, texts: Any) -> list[list[float]]:
        raise PluginError("model files missing")


class _Working(_Broken):
    """An embedder that works."""

    def embed(self, texts: Any) -> list[list[float]]:
        return [[1.0, 0.0, 0.0, 0.0] for _ in texts]


def _registry(**embedders: type[Embedder]) -> Registry:
    registry = Registry(Settings(plugins="", disable_plugin_autoload=False), discover=lambda kind: ())
    for name, cls in embedders.items():
        registry.register("embedders", name, cls)
    return registry


def test_default_embedder_prefers_a_working_minilm_else_hashing() -> None:
    assert default_embedder(_registry(minilm=_Working, hashing=HashingEmbedder)) == "minilm"
    assert default_embedder(_registry(minilm=_Broken, hashing=HashingEmbedder)) == "hashing"
    assert default_embedder(_registry(hashing=HashingEmbedder)) == "hashing"
    with pytest.raises(ConfigError, match="no embedder works"):
        default_embedder(_registry())

"""The ``llm`` router: a classifier model names the route."""

from __future__ import annotations

from typing import Any

import pytest

from fusionsdk.errors import ConfigError, GraphError, ProviderUnavailable
from fusionsdk.graph.builder import GraphBuilder
from fusionsdk.graph.run import Graph
from fusionsdk.routing.base import RouteRequest
from fusionsdk.routing.llm import LLMRouter, parse_route
from fusionsdk.testing import fake_model

ROUTES = [
    {"target": "maths", "description": "arithmetic and word problems"},
    {"target": "code", "description": "programming questions"},
]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("code", "code"),
        ("  'Maths'. ", "maths"),
        ("The route is: code", "code"),
        ("maths or code? I'd say code", "maths"),  # the earliest mention
        ("2", "code"),
        ("Route 1.", "maths"),
        ("7", None),
        ("encode", None),  # not a whole word
        ("", None),
    ],
)
def test_parse_route(reply: str, expected: str | None) -> None:
    assert parse_route(reply, ["maths", "code"]) == expected


def test_the_longest_name_wins_at_the_same_place() -> None:
    assert parse_route("code-review please", ["code", "code-review"]) == "code-review"


def router(script: list[Any], **options: Any) -> tuple[LLMRouter, Any]:
    classifier = fake_model("small", script)
    built = LLMRouter({"model": "small", "routes": ROUTES, "default": "chat", **options})
    built.bind({"small": classifier})
    return built, classifier


async def test_the_classifier_sees_the_routes_and_the_request() -> None:
    built, classifier = router(["code"])
    decision = await built.route(
        RouteRequest("Why does my loop crash?", {"sensitive": True}), ["maths", "code", "chat"]
    )
    assert decision.target == "code" and decision.scores == {"code": 1.0} and "'small'" in decision.reason
    request = classifier.provider.requests[0]
    prompt = request.messages[0]["content"]
    assert "1. maths: arithmetic and word problems" in prompt and "Why does my loop crash?" in prompt
    assert request.metadata["sensitive"] is True and request.params.temperature == 0.0


async def test_unparseable_or_failed_replies_fall_back_to_default() -> None:
    built, _ = router(["no idea, sorry"])
    decision = await built.route(RouteRequest("hello"), ["maths", "code", "chat"])
    assert decision.target == "chat" and "names no route" in decision.reason
    built, _ = router([ProviderUnavailable("down")])
    decision = await built.route(RouteRequest("hello"), ["maths", "code", "chat"])
    assert decision.target == "chat" and "failed" in decision.reason


async def test_without_a_default_a_bad_reply_is_a_graph_error() -> None:
    built = LLMRouter({"model": "small", "routes": ROUTES})
    built.bind({"small": fake_model("small", ["poetry"])})
    with pytest.raises(GraphError, match="no default"):
        await built.route(RouteRequest("hello"), ["maths", "code"])
    with pytest.raises(GraphError, match="no targets"):
        await built.route(RouteRequest("hello"), [])


async def test_without_routes_the_offered_targets_are_classified() -> None:
    built = LLMRouter({"model": "small"})
    classifier = fake_model("small", ["beta"])
    built.bind({"small": classifier})
    assert (await built.route(RouteRequest("x"), ["alpha", "beta"])).target == "beta"
    assert "2. beta" in classifier.provider.requests[0].messages[0]["content"]


async def test_unbound_router_is_a_graph_error() -> None:
    with pytest.raises(GraphError, match="no models bound"):
        await LLMRouter({"model": "small"}).route(RouteRequest("x"), ["a"])


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="options.model"):
        LLMRouter({})
    with pytest.raises(ConfigError, match="options.prompt"):
        LLMRouter({"model": "m", "prompt": "no task here"})
    with pytest.raises(ConfigError, match="options.routes"):
        LLMRouter({"model": "m", "routes": [{"target": ""}]})
    with pytest.raises(ConfigError, match="options.model: unknown model 'm'"):
        LLMRouter({"model": "m"}).bind({"other": fake_model("other")})


def graph(reply: str, **options: Any) -> Graph:
    return (
        GraphBuilder()
        .model("small", provider="fake", options={"responses": [reply]})
        .model("a", provider="fake", options={"responses": ["maths answer"]})
        .model("b", provider="fake", options={"responses": ["code answer"]})
        .model("c", provider="fake", options={"responses": ["chat answer"]})
        .node(
            "route",
            "router",
            strategy="llm",
            options={"model": "small", "routes": ROUTES, "default": "chat", **options},
        )
        .node("maths", "agent", model="a")
        .node("code", "agent", model="b")
        .node("chat", "agent", model="c")
        .edge("START", "route")
        .edge("maths", "END")
        .edge("code", "END")
        .edge("chat", "END")
        .compile()
    )


async def test_llm_router_node_in_a_graph() -> None:
    assert (await graph("maths").arun("What is 2 + 2?")).answer == "maths answer"
    result = await graph("no clue").arun("Hello!")
    assert result.answer == "chat answer" and result.decisions[0]["target"] == "chat"
    with pytest.raises(ConfigError, match="options.model: unknown model"):
        graph("x", model="ghost")

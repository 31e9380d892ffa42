"""LangChain interop on fakes: ChatFusion (invoke/stream/async, tools, structured output),
graph.as_runnable(), and a LangChain chat model as the ``langchain`` provider."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from pydantic import BaseModel

from fusionsdk import ModelHub
from fusionsdk.errors import ConfigError, StructuredOutputError
from fusionsdk.graph import compile_config
from fusionsdk.integrations.langchain import ChatFusion
from fusionsdk.testing import fake_model


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class City(BaseModel):
    name: str
    population_m: float


def test_chat_fusion_in_an_lcel_chain_sync_and_streamed() -> None:
    chat = ChatFusion(model=fake_model("m", ["Paris is the capital."]), max_tokens=16)
    chain = ChatPromptTemplate.from_template("Capital of {country}?") | chat | StrOutputParser()
    assert chain.invoke({"country": "France"}) == "Paris is the capital."
    sent = chat.model.provider.requests[0]  # type: ignore[attr-defined]
    assert (
        sent.messages == [{"role": "user", "content": "Capital of France?"}] and sent.params.max_tokens == 16
    )
    assert "".join(chain.stream({"country": "France"})) == "Paris is the capital."
    message = chat.invoke("hi")
    assert message.usage_metadata is not None and message.usage_metadata["total_tokens"] > 0
    assert message.response_metadata["model_name"] == "m"


async def test_chat_fusion_async_and_astream() -> None:
    chat = ChatFusion(model=fake_model("m", ["one two three"]))
    assert (await chat.ainvoke("x")).content == "one two three"
    chunks = [c async for c in chat.astream("x")]
    assert "".join(str(c.content) for c in chunks) == "one two three"
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert total.usage_metadata is not None and total.usage_metadata["output_tokens"] > 0


async def test_bind_tools_round_trip_with_langchain_messages() -> None:
    model = fake_model("m", [{"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]}, "5"])
    chat = ChatFusion(model=model).bind_tools([add], tool_choice="any")
    first = await chat.ainvoke([HumanMessage("2+3?")])
    assert first.tool_calls == [
        {"name": "add", "args": {"a": 2, "b": 3}, "id": "call_0", "type": "tool_call"}
    ]
    sent = model.provider.requests[0]  # type: ignore[attr-defined]
    assert sent.tools[0].name == "add" and sent.tool_choice == "required"
    output = add.invoke(first.tool_calls[0]["args"])
    final = await chat.ainvoke([HumanMessage("2+3?"), first, ToolMessage(str(output), tool_call_id="call_0")])
    assert final.content == "5"
    history = model.provider.requests[1].messages  # type: ignore[attr-defined]
    assert history[1]["tool_calls"][0]["function"]["name"] == "add" and history[2]["role"] == "tool"


async def test_streamed_tool_calls_become_tool_call_chunks() -> None:
    model = fake_model("m", [{"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]}])
    chunks = [c async for c in ChatFusion(model=model).bind_tools([add]).astream("1+2?")]
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert total.tool_calls[0]["name"] == "add" and total.tool_calls[0]["args"] == {"a": 1, "b": 2}


async def test_with_structured_output_retries_through_the_adapter() -> None:
    model = fake_model("m", ["not json", '{"name": "Paris", "population_m": 2.1}'])
    structured = ChatFusion(model=model).with_structured_output(City)
    assert await structured.ainvoke("Largest French city?") == City(name="Paris", population_m=2.1)
    raw = ChatFusion(model=fake_model("m", ['{"name": "Oslo", "population_m": 0.7}'])).with_structured_output(
        City, include_raw=True
    )
    out: dict[str, Any] = raw.invoke("q")  # type: ignore[assignment]
    assert isinstance(out["raw"], AIMessage) and out["parsed"].name == "Oslo" and out["parsing_error"] is None
    with pytest.raises(StructuredOutputError):
        ChatFusion(model=fake_model("m", ["never"])).with_structured_output(City).invoke("q")


GRAPH = {
    "version": 1,
    "models": {
        "a": {"provider": "fake", "options": {"responses": ["42"]}},
        "b": {"provider": "fake", "options": {"responses": ["42"]}},
        "solo": {"provider": "fake", "options": {"responses": ["The answer is 7"]}},
    },
    "nodes": {
        "route": {
            "kind": "router",
            "strategy": "rules",
            "options": {"routes": [{"target": "panel", "max_length": 20}], "default": "solo"},
        },
        "panel": {"kind": "panel", "models": ["a", "b"]},
        "fuse": {"kind": "fuse", "strategy": "majority_vote"},
        "solo": {"kind": "agent", "model": "solo"},
    },
    "edges": [["START", "route"], ["panel", "fuse"], ["fuse", "END"], ["solo", "END"]],
}


async def test_graph_as_runnable_invoke_batch_and_stream() -> None:
    runnable = compile_config(GRAPH).as_runnable()
    assert runnable.invoke("short?") == "42"
    assert (
        await runnable.ainvoke({"task": "a much longer question than twenty characters"}) == "The answer is 7"
    )
    assert runnable.batch(["q1", "q2"]) == ["42", "42"]
    assert await runnable.abatch(["q1"]) == ["42"]
    assert list(runnable.stream("q")) == ["42"]  # a fuser's decided answer, once
    pieces = [p async for p in runnable.astream("a much longer question than twenty characters")]
    assert pieces == ["The", " answer", " is", " 7"]  # the agent's tokens
    chain = ChatPromptTemplate.from_template("{q}") | runnable | (lambda s: s.upper())
    assert chain.invoke({"q": "short"}) == "42"
    result = compile_config(GRAPH).as_runnable("result").invoke("q")
    assert result["answer"] == "42" and [t["node"] for t in result["trace"]] == ["route", "panel", "fuse"]


async def test_langchain_chat_model_as_a_provider() -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    spec = {
        "provider": "langchain",
        "model": "langchain_core.language_models.fake_chat_models:FakeListChatModel",
        "options": {"kwargs": {"responses": ["Bonjour le monde"]}},
    }
    model = ModelHub.from_dict({"version": 1, "models": {"lc": spec}})["lc"]
    completion = await model.acomplete("Say hello in French")
    assert completion.text == "Bonjour le monde" and completion.model == "lc"
    pieces = [c.text async for c in model.astream("again")]
    assert "".join(pieces) == "Bonjour le monde"
    assert isinstance(model.provider._chat, FakeListChatModel)  # type: ignore[attr-defined]


BOUND: list[Any] = []


class ToolCallingFake(GenericFakeChatModel):
    """A fake that accepts tools (recorded in BOUND) and answers from its script."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        BOUND.append((tools, kwargs))
        return self


async def test_langchain_provider_maps_tool_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSIONSDK_LANGCHAIN_MODULES", "tests.integrations")
    call = AIMessage(content="", tool_calls=[{"name": "add", "args": {"a": 1, "b": 1}, "id": "t1"}])
    spec = {
        "provider": "langchain",
        "model": f"{__name__}:ToolCallingFake",
        "options": {"kwargs": {"messages": iter([call, AIMessage("2")])}},
    }
    model = ModelHub.from_dict({"version": 1, "models": {"lc": spec}})["lc"]
    first = await model.acomplete("1+1?", tools=[add_function], tool_choice="add_function")
    assert [(c.id, c.name, c.arguments) for c in first.tool_calls] == [("t1", "add", {"a": 1, "b": 1})]
    tools, kwargs = BOUND[-1]
    assert tools[0]["function"]["name"] == "add_function"
    assert kwargs == {"tool_choice": {"type": "function", "function": {"name": "add_function"}}}
    reply = {"role": "tool", "tool_call_id": "t1", "content": "2"}
    second = await model.acomplete(
        [{"role": "user", "content": "1+1?"}, first.message(), reply], tools=[add_function]
    )
    assert second.text == "2"


def add_function(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_langchain_provider_refuses_modules_off_the_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = {"provider": "langchain", "model": "os:system"}
    with pytest.raises(ConfigError, match="not allowed for provider langchain"):
        ModelHub.from_dict({"version": 1, "models": {"lc": spec}})["lc"]
    monkeypatch.setenv("FUSIONSDK_LANGCHAIN_MODULES", "os")
    with pytest.raises(ConfigError, match="not a LangChain BaseChatModel"):
        ModelHub.from_dict({"version": 1, "models": {"lc": spec}})["lc"]

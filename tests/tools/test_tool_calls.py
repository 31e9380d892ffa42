"""Tool calling at the provider boundary: specs, OpenAI mapping (LiteLLM and the
OpenAI-compatible servers), streamed deltas assembled, text tool calls, the fake provider."""

from __future__ import annotations

import json
from typing import Any

import pytest

import fusionsdk
from fusionsdk.errors import BadRequest
from fusionsdk.providers.base import ToolCall, ToolCallDelta, ToolSpec
from fusionsdk.providers.tool_calls import (
    ToolCallAssembler,
    coerce_tools,
    parse_text_tool_calls,
    spec_from_function,
)
from fusionsdk.testing import fake_model
from fusionsdk.tools.base import python_tool
from tests.servers.faults import CallTools, FaultServer, Reply


def add(a: int, b: int = 0) -> int:
    """Add two integers.

    Longer notes the model need not see.
    """
    return a + b


def test_spec_from_function_reads_the_signature() -> None:
    spec = spec_from_function(add)
    assert spec.name == "add" and spec.description == "Add two integers."
    assert spec.parameters["properties"] == {"a": {"type": "integer"}, "b": {"type": "integer", "default": 0}}
    assert spec.parameters["required"] == ["a"]
    assert spec.to_openai()["function"]["name"] == "add"
    assert ToolSpec.from_openai(spec.to_openai()) == spec


def test_coerce_tools_accepts_every_form() -> None:
    openai = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    specs = coerce_tools([add, openai, ToolSpec("g"), python_tool(add)])
    assert [s.name for s in specs] == ["add", "f", "g", "add"]
    with pytest.raises(BadRequest, match="not a tool"):
        coerce_tools([42])
    with pytest.raises(BadRequest, match="tool name"):
        coerce_tools([ToolSpec("has space")])


def test_assembler_joins_pieces_by_index() -> None:
    assembler = ToolCallAssembler()
    assembler.add([ToolCallDelta(1, "c2", "add", '{"a": '), ToolCallDelta(0, "c1", "f", "{}")])
    assembler.add([ToolCallDelta(1, arguments="2}")])
    assert assembler.calls() == (ToolCall("c1", "f", {}), ToolCall("c2", "add", {"a": 2}))


def test_text_tool_calls_are_found_only_for_offered_tools() -> None:
    tools = [ToolSpec("add")]
    text, calls = parse_text_tool_calls(
        'Sure.\n<tool_call>{"name": "add", "arguments": {"a": 1}}</tool_call>', tools
    )
    assert text == "Sure." and calls[0].name == "add" and calls[0].arguments == {"a": 1}
    _, calls = parse_text_tool_calls('{"name": "add", "parameters": {"a": 3}}', tools)
    assert calls[0].arguments == {"a": 3}
    assert parse_text_tool_calls('{"name": "rm", "arguments": {}}', tools) == (
        '{"name": "rm", "arguments": {}}',
        (),
    )
    assert parse_text_tool_calls("Paris.", tools) == ("Paris.", ())


async def test_fake_provider_scripts_tool_calls_streamed_and_not() -> None:
    turn = {"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]}
    model = fake_model("m", [turn])
    completion = await model.acomplete("2+3?", tools=[add])
    assert completion.tool_calls == (ToolCall("call_0", "add", {"a": 2, "b": 3}),)
    assert completion.finish_reason == "tool_calls"
    assert completion.message()["tool_calls"][0]["function"]["arguments"] == json.dumps({"a": 2, "b": 3})
    sent = model.provider.requests[0]  # type: ignore[attr-defined]
    assert sent.tools == (spec_from_function(add),)
    deltas: list[ToolCallDelta] = []
    final = None
    async for chunk in model.astream("2+3?", tools=[add]):
        deltas.extend(chunk.tool_calls)
        final = chunk.completion or final
    assert len(deltas) == 2  # the arguments came in two pieces
    assert final is not None and final.tool_calls[0].arguments == {"a": 2, "b": 3}


def _model(faults: FaultServer) -> fusionsdk.Model:
    spec = {
        "provider": "openai_compatible",
        "base_url": faults.base_url,
        "model": "m",
        "retry": {"attempts": 1},
    }
    return fusionsdk.ModelHub.from_dict({"version": 1, "models": {"m": spec}})["m"]


@pytest.mark.usefixtures("warm_litellm")
async def test_openai_compatible_tool_calls_round_trip(faults: FaultServer) -> None:
    faults.script("m", [CallTools((("add", {"a": 2, "b": 3}),)), Reply("5")])
    model = _model(faults)
    first = await model.acomplete("2+3?", tools=[add], tool_choice="add")
    assert first.tool_calls[0].name == "add" and first.tool_calls[0].arguments == {"a": 2, "b": 3}
    body: dict[str, Any] = faults.chat_requests()[0].body
    assert body["tools"][0]["function"]["name"] == "add"
    assert body["tool_choice"] == {"type": "function", "function": {"name": "add"}}
    reply = {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": "5"}
    second = await model.acomplete([{"role": "user", "content": "2+3?"}, first.message(), reply], tools=[add])
    assert second.text == "5"
    sent = faults.chat_requests()[1].body["messages"]
    assert sent[1]["tool_calls"][0]["id"] == "call_0" and sent[2]["role"] == "tool"


@pytest.mark.usefixtures("warm_litellm")
async def test_openai_compatible_streamed_tool_calls_are_assembled(faults: FaultServer) -> None:
    faults.script("m", [CallTools((("add", {"a": 2}), ("add", {"a": 7, "b": 1})))])
    final = None
    async for chunk in _model(faults).astream("sums", tools=[add]):
        final = chunk.completion or final
    assert final is not None
    assert [c.arguments for c in final.tool_calls] == [{"a": 2}, {"a": 7, "b": 1}]
    assert final.finish_reason == "tool_calls"


def test_llamacpp_maps_tools_turns_and_response_format_for_templates() -> None:
    import threading

    from fusionsdk.config.models import ModelSpec
    from fusionsdk.providers.base import CompletionRequest
    from fusionsdk.providers.llamacpp import LlamaCppProvider, _template_messages

    call = ToolCall("c1", "add", {"a": 1})
    messages = [
        {"role": "user", "content": "1+?"},
        {"role": "assistant", "content": None, "tool_calls": [call.to_openai()]},
        {"role": "tool", "tool_call_id": "c1", "content": "1"},
    ]
    rendered = _template_messages(messages)
    assert rendered[1] == {
        "role": "assistant",
        "content": '<tool_call>{"name": "add", "arguments": {"a": 1}}</tool_call>',
    }
    assert rendered[2] == {"role": "user", "content": "<tool_response>\n1\n</tool_response>"}
    provider = LlamaCppProvider(ModelSpec(name="s", provider="llamacpp", model="smollm2-135m-instruct"))
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    request = CompletionRequest(
        messages, response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}
    )
    args = provider._call_args(request, threading.Event())
    assert args["response_format"] == {"type": "json_object", "schema": schema}


async def test_budget_is_checked_between_tool_steps() -> None:
    from fusionsdk.errors import BudgetExceeded
    from fusionsdk.graph import compile_config
    from fusionsdk.registry import default_registry

    default_registry().register("tools", "add_budget", add, replace=True)
    try:
        turn = {"tool_calls": [{"name": "add_budget", "arguments": {"a": 1}}]}
        cfg = {
            "version": 1,
            "models": {"m": {"provider": "fake", "options": {"responses": [turn]}}},
            "nodes": {"a": {"kind": "agent", "model": "m", "tools": ["add_budget"], "max_steps": 50}},
            "edges": [["START", "a"], ["a", "END"]],
            "budget": {"max_tokens": 40},
        }
        graph = compile_config(cfg)
        with pytest.raises(BudgetExceeded, match="max_tokens"):
            await graph.arun("loop")
        assert len(graph.hub["m"].provider.requests) < 50
    finally:
        default_registry().unregister("tools", "add_budget")

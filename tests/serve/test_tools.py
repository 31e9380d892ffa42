"""Tool calling and structured output through `fusionsdk serve`, with the official openai client
(and LangChain's ChatOpenAI) against fake models scripted to call tools or to answer JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import AIMessageChunk
from langchain_openai import ChatOpenAI
from openai.types.chat import ChatCompletionMessageFunctionToolCall
from pydantic import BaseModel

from fusionsdk.providers.base import ToolSpec
from fusionsdk.serve.app import create_app
from fusionsdk.testing.fakes import FakeProvider
from tests.serve.helpers import QUICKSTART_FAKE, AppServer, write_config

CALL = {"id": "call_w1", "name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
    },
}
QUESTION: Any = [{"role": "user", "content": "What is the weather in Paris?"}]

MODELS = f"""
version: 1
models:
  caller:   {{provider: fake, options: {{responses: [{{tool_calls: [{json.dumps(CALL)}]}}]}}}}
  streamer: {{provider: fake, options: {{responses: [{{tool_calls: [{json.dumps(CALL)}]}}]}}}}
  chatty:   {{provider: fake, options: {{responses: [{{text: "Let me look.", tool_calls: [{json.dumps(CALL)}]}}]}}}}
  turns:    {{provider: fake, options: {{responses: [{{tool_calls: [{json.dumps(CALL)}]}}, "Sunny, 21 C."]}}}}
  lc:       {{provider: fake, options: {{responses: [{{tool_calls: [{json.dumps(CALL)}]}}]}}}}
  json:     {{provider: fake, options: {{responses: ["Sure!", "```json\\n{{\\"city\\": \\"Paris\\", \\"temp_c\\": 21}}\\n```"]}}}}
  jstream:  {{provider: fake, options: {{responses: ['{{"city": "Rome", "temp_c": 25}}']}}}}
  prose:    {{provider: fake, options: {{responses: ["no JSON here"]}}}}
  lcjson:   {{provider: fake, options: {{responses: ['{{"city": "Oslo", "temp_c": 3}}']}}}}
"""


class Weather(BaseModel):
    city: str
    temp_c: int


@pytest.fixture(scope="module")
def tool_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    folder: Path = tmp_path_factory.mktemp("serve-tools")
    configs = [
        write_config(folder, "models.yaml", MODELS),
        write_config(folder, "quickstart.yaml", QUICKSTART_FAKE),
    ]
    with AppServer(create_app(configs, environ={})) as server:
        yield server


def _client(served: AppServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.url + "/v1", api_key="unused", max_retries=0)


def _provider(served: AppServer, name: str) -> FakeProvider:
    provider: FakeProvider = served.app.state.server.catalog.models[name].provider
    return provider


def test_tool_call_returned_whole(tool_server: AppServer) -> None:
    response = _client(tool_server).chat.completions.create(
        model="caller",
        messages=QUESTION,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert len(calls) == 1 and isinstance(calls[0], ChatCompletionMessageFunctionToolCall)
    assert (calls[0].id, calls[0].type, calls[0].function.name) == ("call_w1", "function", "get_weather")
    assert json.loads(calls[0].function.arguments) == CALL["arguments"]
    sent = _provider(tool_server, "caller").requests[-1]
    assert sent.tools == (ToolSpec.from_openai(WEATHER_TOOL),)
    assert sent.tool_choice == "get_weather"
    assert sent.params.extra == {}  # tools travel in the adapter's own fields


def test_tool_call_with_text_keeps_the_text(tool_server: AppServer) -> None:
    response = _client(tool_server).chat.completions.create(
        model="chatty",
        messages=QUESTION,
        tools=[WEATHER_TOOL],
    )
    assert response.choices[0].message.content == "Let me look."
    assert response.choices[0].message.tool_calls and response.choices[0].finish_reason == "tool_calls"


def test_tool_call_streamed_in_openai_chunks(tool_server: AppServer) -> None:
    client = _client(tool_server)
    chunks = list(
        client.chat.completions.create(
            model="streamer",
            messages=QUESTION,
            tools=[WEATHER_TOOL],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    pieces = [d for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or ()]
    assert len(pieces) == 2  # the fake sends the arguments in two pieces
    first, second = pieces
    assert first.function is not None and first.function.name == "get_weather"
    assert (first.index, first.id, first.type) == (0, "call_w1", "function")
    assert second.id is None and second.function and second.function.name is None
    arguments = "".join(p.function.arguments or "" for p in pieces if p.function)
    assert json.loads(arguments) == CALL["arguments"]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert chunks[-1].usage is not None
    # the client's own stream helper assembles the same call from the chunks
    with client.chat.completions.stream(
        model="streamer",
        messages=QUESTION,
        tools=[WEATHER_TOOL],
    ) as stream:
        final = stream.get_final_completion()
    call = (final.choices[0].message.tool_calls or [])[0]
    assert call.id == "call_w1" and json.loads(call.function.arguments) == CALL["arguments"]


async def test_async_streamed_tool_call(tool_server: AppServer) -> None:
    client = openai.AsyncOpenAI(base_url=tool_server.url + "/v1", api_key="unused", max_retries=0)
    stream = await client.chat.completions.create(
        model="caller",
        messages=QUESTION,
        tools=[WEATHER_TOOL],
        stream=True,
    )
    names = [
        d.function.name
        async for c in stream
        if c.choices
        for d in c.choices[0].delta.tool_calls or ()
        if d.function
    ]
    assert [n for n in names if n] == ["get_weather"]
    await client.close()


def test_tool_result_goes_back_to_the_model(tool_server: AppServer) -> None:
    client = _client(tool_server)
    first = client.chat.completions.create(model="turns", messages=QUESTION, tools=[WEATHER_TOOL])
    message = first.choices[0].message
    call = (message.tool_calls or [])[0]
    follow_up = [
        *QUESTION,
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21, "sky": "sunny"}'},
    ]
    second = client.chat.completions.create(model="turns", messages=follow_up, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == "Sunny, 21 C."
    assert second.choices[0].finish_reason == "stop"
    sent = _provider(tool_server, "turns").requests[-1].messages
    assert sent[1]["tool_calls"][0]["id"] == "call_w1"
    assert sent[2] == {"role": "tool", "content": '{"temp_c": 21, "sky": "sunny"}', "tool_call_id": "call_w1"}


def test_langchain_bind_tools(tool_server: AppServer) -> None:
    chat = ChatOpenAI(model="lc", base_url=tool_server.url + "/v1", api_key="unused", max_retries=0)
    bound = chat.bind_tools([WEATHER_TOOL])
    reply = bound.invoke("What is the weather in Paris?")
    assert [(c["name"], c["args"], c["id"]) for c in reply.tool_calls] == [
        ("get_weather", CALL["arguments"], "call_w1")
    ]
    pieces = list(bound.stream("What is the weather in Paris?"))
    assert all(isinstance(p, AIMessageChunk) for p in pieces)
    merged = sum(pieces[1:], pieces[0])
    assert isinstance(merged, AIMessageChunk) and merged.tool_calls[0]["args"] == CALL["arguments"]


def test_langchain_with_structured_output(tool_server: AppServer) -> None:
    chat = ChatOpenAI(model="lcjson", base_url=tool_server.url + "/v1", api_key="unused", max_retries=0)
    assert chat.with_structured_output(Weather).invoke("Oslo weather") == Weather(city="Oslo", temp_c=3)


def test_structured_output_is_validated_and_retried(tool_server: AppServer) -> None:
    completion = _client(tool_server).chat.completions.parse(
        model="json",
        messages=[{"role": "user", "content": "Weather in Paris as JSON."}],
        response_format=Weather,
    )
    assert completion.choices[0].message.parsed == Weather(city="Paris", temp_c=21)
    assert completion.choices[0].message.content == '{"city": "Paris", "temp_c": 21}'  # fences gone
    provider = _provider(tool_server, "json")
    asked = provider.requests[-2:]
    assert (asked[0].response_format or {})["type"] == "json_schema"
    assert "not valid" in asked[1].messages[-1]["content"]  # the retry told the model why
    assert completion.usage is not None and completion.usage.prompt_tokens > 0


def test_structured_output_streamed(tool_server: AppServer) -> None:
    with _client(tool_server).chat.completions.stream(
        model="jstream",
        messages=[{"role": "user", "content": "Weather in Rome as JSON."}],
        response_format=Weather,
    ) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.parsed == Weather(city="Rome", temp_c=25)


def test_structured_output_that_never_validates_is_502(tool_server: AppServer) -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "w", "schema": Weather.model_json_schema()}}
    reply = httpx.post(
        tool_server.url + "/v1/chat/completions",
        json={"model": "prose", "messages": QUESTION, "response_format": schema},
    )
    assert reply.status_code == 502
    assert reply.json()["error"]["code"] == "structured_output_invalid"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [WEATHER_TOOL]}, "tools"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_graphs_refuse_tools_and_json(
    tool_server: AppServer, extra: dict[str, object], param: str, stream: bool
) -> None:
    body = {"model": "graph:quickstart", "messages": QUESTION, "stream": stream, **extra}
    reply = httpx.post(tool_server.url + "/v1/chat/completions", json=body)
    assert reply.status_code == 400 and reply.json()["error"]["param"] == param


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        (
            {"tools": [WEATHER_TOOL], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice",
        ),
        ({"tools": [WEATHER_TOOL], "tool_choice": "sometimes"}, "tool_choice"),
        ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}, "tools"),
        ({"tools": [{"type": "function"}]}, "tools[0].function"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"response_format": {"type": "json_schema"}}, "response_format"),
    ],
)
def test_bad_tool_or_format_requests_are_400(
    tool_server: AppServer, extra: dict[str, object], param: str
) -> None:
    body = {"model": "caller", "messages": QUESTION, **extra}
    reply = httpx.post(tool_server.url + "/v1/chat/completions", json=body)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["param"] == param

"""The official openai client (sync, async, streaming) and LangChain's ChatOpenAI against the
served quickstart: answers from a model and from graph:quickstart."""

from __future__ import annotations

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI

from tests.serve.helpers import AppServer

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
ANSWER = "Paris is the capital of France."


def _client(served: AppServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.url + "/v1", api_key="unused", max_retries=0)


@pytest.mark.parametrize("model", ["smol", "graph:quickstart"])
def test_sync_client_gets_an_answer(served: AppServer, model: str) -> None:
    response = _client(served).chat.completions.create(model=model, messages=QUESTION)  # type: ignore[arg-type]
    assert response.choices[0].message.content == ANSWER
    assert response.choices[0].finish_reason == "stop"
    assert response.model == model
    assert response.usage is not None and response.usage.total_tokens > 0
    assert (response.usage.model_extra or {})["cost_usd"] == 0.0


@pytest.mark.parametrize("model", ["smol", "graph:quickstart"])
async def test_async_client_gets_an_answer(served: AppServer, model: str) -> None:
    client = openai.AsyncOpenAI(base_url=served.url + "/v1", api_key="unused", max_retries=0)
    response = await client.chat.completions.create(model=model, messages=QUESTION)  # type: ignore[arg-type]
    assert response.choices[0].message.content == ANSWER
    await client.close()


@pytest.mark.parametrize("model", ["echo", "graph:quickstart"])
def test_streaming_with_usage_ends_with_done(served: AppServer, model: str) -> None:
    stream = _client(served).chat.completions.create(
        model=model,
        messages=QUESTION,
        stream=True,
        stream_options={"include_usage": True},  # type: ignore[arg-type]
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    expected = QUESTION[0]["content"] if model == "echo" else ANSWER
    assert text == expected
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    raw = httpx.post(
        served.url + "/v1/chat/completions", json={"model": model, "messages": QUESTION, "stream": True}
    ).text
    assert raw.rstrip().endswith("data: [DONE]")
    assert '"usage"' not in raw  # only with include_usage


async def test_async_streaming(served: AppServer) -> None:
    client = openai.AsyncOpenAI(base_url=served.url + "/v1", api_key="unused", max_retries=0)
    stream = await client.chat.completions.create(model="echo", messages=QUESTION, stream=True)  # type: ignore[arg-type]
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == QUESTION[0]["content"]
    await client.close()


@pytest.mark.parametrize("model", ["smol", "graph:quickstart"])
def test_langchain_chat_openai(served: AppServer, model: str) -> None:
    chat = ChatOpenAI(model=model, base_url=served.url + "/v1", api_key="unused", max_retries=0)  # type: ignore[arg-type]
    assert chat.invoke("What is the capital of France?").content == ANSWER
    assert "".join(str(c.content) for c in chat.stream("What is the capital of France?")) == ANSWER


def test_n_and_parameters_reach_the_model(served: AppServer) -> None:
    response = _client(served).chat.completions.create(
        model="echo",
        messages=QUESTION,
        n=3,
        max_tokens=7,
        temperature=0.5,
        stop=["\n"],  # type: ignore[arg-type]
        response_format={"type": "text"},
        tools=[{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
        tool_choice="auto",
    )
    assert [c.index for c in response.choices] == [0, 1, 2]
    echo = served.app.state.server.catalog.models["echo"].provider
    sent = echo.requests[-1]
    assert sent.params.max_tokens == 7 and sent.params.temperature == 0.5 and sent.params.stop == ["\n"]
    assert sent.params.extra == {} and sent.response_format is None  # "text" asks for nothing
    assert [t.name for t in sent.tools] == ["lookup"] and sent.tool_choice == "auto"


def test_trace_id_header_and_models_list(served: AppServer) -> None:
    reply = httpx.post(
        served.url + "/v1/chat/completions", json={"model": "graph:quickstart", "messages": QUESTION}
    )
    assert reply.status_code == 200 and len(reply.headers["x-fusion-trace-id"]) == 32
    assert reply.json()["id"] == "chatcmpl-" + reply.headers["x-fusion-trace-id"]
    ids = [m.id for m in _client(served).models.list()]
    assert ids == ["smol", "gemma", "echo", "graph:quickstart"]
    assert _client(served).models.retrieve("graph:quickstart").owned_by == "fusionsdk-graph"


def test_metrics_count_model_calls_inside_graphs(served: AppServer) -> None:
    before = httpx.get(served.url + "/metrics").text
    assert _client(served).chat.completions.create(model="graph:quickstart", messages=QUESTION)  # type: ignore[arg-type]
    after = httpx.get(served.url + "/metrics").text

    def calls(text: str, model: str) -> float:
        prefix = f'fusionsdk_model_calls_total{{model="{model}"}} '
        return next(
            (float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)), 0.0
        )

    assert calls(after, "smol") == calls(before, "smol") + 1  # the panel called both models
    assert calls(after, "gemma") == calls(before, "gemma") + 1
    assert 'fusionsdk_requests_total{status="200",target="graph:quickstart"}' in after

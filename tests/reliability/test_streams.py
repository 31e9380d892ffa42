"""Streams that break: at every cut point the caller ends with the whole answer exactly once.

The fault server cuts a stream after ``n`` content chunks (with or without vLLM's empty ``role``
chunk first), or answers a stream with a body that is not an event stream. A stream that breaks
before any text fails over silently; one that breaks after some text fails over with a typed
``discard`` chunk (drop what you have, the answer starts again), so applying the discards always
gives the fallback's answer, never duplicated text. Without a fallback the error is raised and
the text already given stays a prefix of the answer.
"""

from __future__ import annotations

from typing import Any

import pytest

from fusionsdk.errors import ProviderUnavailable
from fusionsdk.graph import compile_config
from fusionsdk.providers.hub import ModelHub
from fusionsdk.providers.model import ModelStreamChunk
from tests.servers.faults import Disconnect, FaultServer, NotSSE
from tests.servers.fixtures import fault_server, faults, warm_litellm  # noqa: F401

pytestmark = pytest.mark.usefixtures("warm_litellm")

ANSWER = "Hello from the fault server."
WORDS = len(ANSWER.split(" "))
FAST = {"retry": {"attempts": 1}, "timeout_s": 10}


def hub(server: FaultServer, fallback: bool = True) -> ModelHub:
    spec = {"provider": "openai_compatible", "base_url": server.base_url, **FAST}
    models = {"a": {**spec, **({"fallbacks": ["b"]} if fallback else {})}, "b": spec}
    return ModelHub.from_dict({"version": 1, "models": models})


def one_agent_with_fallback(server: FaultServer) -> dict[str, Any]:
    """A one-agent graph config whose model ``a`` falls back to ``b``, both on ``server``."""
    spec = {"provider": "openai_compatible", "base_url": server.base_url, **FAST}
    return {
        "version": 1,
        "models": {"a": {**spec, "fallbacks": ["b"]}, "b": spec},
        "nodes": {"ask": {"kind": "agent", "model": "a"}},
        "edges": [["START", "ask"], ["ask", "END"]],
    }


def visible(chunks: list[ModelStreamChunk]) -> str:
    """The text a caller shows once it applies every discard."""
    text = ""
    for chunk in chunks:
        text = "" if chunk.discard else text + chunk.text
    return text


@pytest.mark.parametrize("role_chunk", [False, True], ids=["plain", "role-chunk"])
@pytest.mark.parametrize("cut", range(WORDS + 1))
async def test_every_cut_point_fails_over_without_duplicating_text(
    faults: FaultServer,  # noqa: F811
    cut: int,
    role_chunk: bool,
) -> None:
    faults.script("a", [Disconnect(cut, role_chunk=role_chunk)])
    chunks = [c async for c in hub(faults)["a"].astream("hi")]
    completion = chunks[-1].completion
    assert completion is not None and visible(chunks) == ANSWER == completion.text
    if cut == WORDS:  # the cut falls after the last word: "a" finishes its answer
        assert completion.model == "a" and not any(c.discard for c in chunks)
        return
    assert completion.model == "b" and completion.fallback_from == "a"
    discards = [c for c in chunks if c.discard]
    assert len(discards) == (1 if cut > 0 else 0)  # no text sent: nothing to discard
    assert all(not c.text for c in discards) and all(c.failed == "a" for c in discards)


@pytest.mark.parametrize("cut", range(WORDS))
async def test_without_a_fallback_the_error_is_raised_and_the_text_is_a_prefix(
    faults: FaultServer,  # noqa: F811
    cut: int,
) -> None:
    faults.script("a", [Disconnect(cut, role_chunk=True)])
    seen: list[ModelStreamChunk] = []
    with pytest.raises(ProviderUnavailable):
        async for chunk in hub(faults, fallback=False)["a"].astream("hi"):
            seen.append(chunk)
    assert ANSWER.startswith(visible(seen)) and not any(c.discard for c in seen)


@pytest.mark.parametrize(
    "body", [NotSSE(), NotSSE('{"choices": []}', "application/json"), NotSSE("", "text/plain")]
)
async def test_a_body_that_is_not_an_event_stream_fails_over(
    faults: FaultServer,  # noqa: F811
    body: NotSSE,
) -> None:
    faults.script("a", [body])
    chunks = [c async for c in hub(faults)["a"].astream("hi")]
    assert chunks[-1].completion is not None and chunks[-1].completion.model == "b"
    assert visible(chunks) == ANSWER
    faults.script("a", [body])
    with pytest.raises(ProviderUnavailable, match="not an event stream"):
        async for _ in hub(faults, fallback=False)["a"].astream("hi"):
            pass


async def test_an_empty_role_chunk_is_not_text_sent_so_retries_still_apply(
    faults: FaultServer,  # noqa: F811
) -> None:
    spec = {"provider": "openai_compatible", "base_url": faults.base_url, "timeout_s": 10}
    retrying = {**spec, "retry": {"attempts": 2, "initial_wait_s": 0, "max_wait_s": 0, "jitter_s": 0}}
    model = ModelHub.from_dict({"version": 1, "models": {"a": retrying}})["a"]
    faults.script("a", [Disconnect(0, role_chunk=True)])
    chunks = [c async for c in model.astream("hi")]
    assert visible(chunks) == ANSWER and chunks[-1].completion is not None
    assert chunks[-1].completion.attempts == 2


@pytest.mark.parametrize("cut", range(1, WORDS))
async def test_graph_token_events_carry_the_discard(faults: FaultServer, cut: int) -> None:  # noqa: F811
    config = one_agent_with_fallback(faults)
    faults.script("a", [Disconnect(cut)])
    text, result = "", None
    async for event in compile_config(config).astream("hi"):
        if event.type == "discard":
            text = ""
        elif event.type == "token":
            text += event.text
        elif event.result is not None:
            result = event.result
    assert result is not None and text == result.answer == ANSWER


async def test_a_role_chunk_then_tool_calls_keeps_every_tool_call_piece(faults: FaultServer) -> None:  # noqa: F811
    """The empty ``role`` chunk is skipped before the first chunk, but a chunk carrying a tool
    call is something sent: its pieces are kept and assembled."""
    from tests.servers.faults import CallTools

    faults.script("a", [CallTools((("add", {"a": 2, "b": 3}),))])
    chunks = [
        c
        async for c in hub(faults)["a"].astream(
            "2+3?",
            tools=[{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}],
        )
    ]
    completion = chunks[-1].completion
    assert completion is not None and completion.tool_calls[0].arguments == {"a": 2, "b": 3}
    assert any(c.tool_calls for c in chunks[:-1])


@pytest.mark.parametrize("cut", [1, 3])
async def test_langchain_streams_refuse_a_discard_they_cannot_apply(faults: FaultServer, cut: int) -> None:  # noqa: F811
    """LangChain adds streamed chunks up, so text already sent cannot be dropped: a discard is a
    typed error there (never duplicated text), while ``ainvoke`` fails over cleanly."""
    pytest.importorskip("langchain_core")
    from fusionsdk.integrations.langchain import ChatFusion

    faults.script("a", [Disconnect(cut)])
    chat = ChatFusion(model=hub(faults)["a"])
    with pytest.raises(ProviderUnavailable, match="restarted on a fallback"):
        _ = [c async for c in chat.astream("hi")]
    faults.script("a", [Disconnect(cut)])
    assert (await chat.ainvoke("hi")).content == ANSWER


async def test_graph_runnable_streams_refuse_a_discard_of_streamed_text(faults: FaultServer) -> None:  # noqa: F811
    pytest.importorskip("langchain_core")
    from fusionsdk.errors import GraphError

    config = one_agent_with_fallback(faults)
    runnable = compile_config(config).as_runnable(checkpoint=False)
    faults.script("a", [Disconnect(2)])
    with pytest.raises(GraphError, match="restarted its streamed answer"):
        _ = [piece async for piece in runnable.astream("hi")]
    faults.script("a", [Disconnect(2)])
    assert await runnable.ainvoke("hi") == ANSWER

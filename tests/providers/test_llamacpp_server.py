"""OpenAI-compatible providers against a real server: llama-cpp-python's ``llama_cpp.server``
with SmolLM2-135M, started once for this module (see :mod:`tests.servers.llamacpp`)."""

from __future__ import annotations

from typing import Any

import pytest

import fusionsdk
from fusionsdk.errors import ContextWindowExceeded, ProviderError
from fusionsdk.providers.model import Completion, Model
from tests.servers.llamacpp import LlamaCppServer

pytestmark = pytest.mark.integration

PROMPT = "What is the capital of France? Answer in one word."


def served_model(server: LlamaCppServer, provider: str = "llamacpp_server", **spec: Any) -> Model:
    """The model ``s`` on the llama.cpp server, through ``provider``."""
    models = {"s": {"provider": provider, "base_url": server.base_url, "model": "smollm2", **spec}}
    return fusionsdk.ModelHub.from_dict({"version": 1, "models": models})["s"]


async def test_complete_with_usage(llamacpp_server: LlamaCppServer) -> None:
    completion = await served_model(llamacpp_server).acomplete(PROMPT, max_tokens=8, temperature=0)
    assert completion.text.strip()
    assert completion.finish_reason in ("stop", "length")
    assert completion.usage.prompt_tokens > 5 and 0 < completion.usage.completion_tokens <= 8
    assert completion.locality == "local" and completion.cost_usd == 0.0
    assert completion.deployment == f"llamacpp_server:smollm2@{llamacpp_server.base_url}"


async def test_greedy_answers_are_repeatable(llamacpp_server: LlamaCppServer) -> None:
    model = served_model(llamacpp_server)
    first = await model.acomplete(PROMPT, max_tokens=6, temperature=0)
    second = await model.acomplete(PROMPT, max_tokens=6, temperature=0)
    assert first.text == second.text


async def test_stream_with_usage(llamacpp_server: LlamaCppServer) -> None:
    pieces: list[str] = []
    final: Completion | None = None
    async for chunk in served_model(llamacpp_server).astream(PROMPT, max_tokens=8, temperature=0):
        if chunk.completion is None:
            pieces.append(chunk.text)
        else:
            final = chunk.completion
    assert pieces and final is not None
    assert final.text == "".join(pieces) and final.text.strip()
    assert final.usage.completion_tokens > 0 and final.usage.prompt_tokens > 0


async def test_logprobs_when_the_server_gives_them(llamacpp_server: LlamaCppServer) -> None:
    completion = await served_model(llamacpp_server).acomplete(
        PROMPT, max_tokens=4, temperature=0, logprobs=True, top_logprobs=2
    )
    if completion.logprobs is None:
        pytest.skip("this llama_cpp.server build returns no chat logprobs")
    assert all(t.logprob <= 0 for t in completion.logprobs)
    assert "".join(t.token for t in completion.logprobs).strip() == completion.text.strip()
    assert all(len(t.top) == 2 and t.top[0][1] >= t.top[1][1] for t in completion.logprobs)


async def test_reachability_is_ok(llamacpp_server: LlamaCppServer) -> None:
    hub = fusionsdk.ModelHub.from_dict(
        {"version": 1, "models": {"s": {"provider": "llamacpp_server", "base_url": llamacpp_server.base_url}}}
    )
    assert (await hub.reachability())["s"].ok


async def test_a_prompt_beyond_the_context_window_fails_cleanly(llamacpp_server: LlamaCppServer) -> None:
    model = served_model(llamacpp_server, retry={"attempts": 1})
    with pytest.raises(ProviderError) as caught:
        await model.acomplete("hello " * 2000, max_tokens=4)
    assert isinstance(caught.value, ContextWindowExceeded)
    assert "maximum context length is 1024" in str(caught.value)


PRESETS = ["vllm", "sglang", "ollama", "trtllm", "tgi_messages", "openai_compatible"]


@pytest.mark.parametrize("provider", PRESETS)
async def test_openai_compatible_presets_talk_to_it(llamacpp_server: LlamaCppServer, provider: str) -> None:
    model = served_model(llamacpp_server, provider)
    completion = await model.acomplete(PROMPT, max_tokens=8, temperature=0)
    assert completion.text.strip() and completion.usage.completion_tokens > 0
    assert completion.deployment.startswith(f"{provider}:")
    chunks = [c async for c in model.astream(PROMPT, max_tokens=8, temperature=0)]
    assert chunks[-1].completion is not None and chunks[-1].completion.text.strip()

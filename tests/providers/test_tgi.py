"""The ``tgi`` provider against a TGI look-alike that validates every request against TGI's
OpenAPI spec (see :mod:`tests.servers.tgi`)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

import fusionsdk
from fusionsdk.errors import (
    BadRequest,
    ContextWindowExceeded,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)
from fusionsdk.providers.model import Model
from tests.servers.base import free_port
from tests.servers.tgi import TGIServer

ANSWER = "Paris is the capital of France."
FAST_RETRY = {"attempts": 3, "initial_wait_s": 0.01, "max_wait_s": 2.0, "jitter_s": 0}


def tgi_model(url: str, **spec: Any) -> Model:
    """The model ``t`` served by TGI at ``url``."""
    models = {"t": {"provider": "tgi", "base_url": url, "retry": FAST_RETRY, **spec}}
    return fusionsdk.ModelHub.from_dict({"version": 1, "models": models})["t"]


def sent_parameters(tgi: TGIServer) -> dict[str, Any]:
    """The ``parameters`` of the last generation request the server got."""
    return tgi.requests()[-1].body["parameters"]


def assert_no_foreign_error(err: BaseException) -> None:
    assert type(err).__module__.startswith("fusionsdk"), type(err)


# -- the test server is strict ---------------------------------------------------------------


@pytest.mark.parametrize(
    "parameters",
    [
        {"temperature": 0},
        {"seed": 0},
        {"top_p": 1.5},
        {"stop": ["a", "b", "c", "d", "e"]},
        {"max_new_tokens": -1},
        {"top_n_tokens": "3"},
    ],
)
def test_server_rejects_what_the_spec_forbids(tgi: TGIServer, parameters: dict[str, Any]) -> None:
    response = httpx.post(f"{tgi.url}/generate", json={"inputs": "hi", "parameters": parameters})
    assert response.status_code == 422
    assert response.json()["error_type"] == "validation"


def test_server_rejects_a_body_without_inputs(tgi: TGIServer) -> None:
    response = httpx.post(f"{tgi.url}/generate", json={"parameters": {}})
    assert response.status_code == 422
    assert "'inputs' is a required property" in response.json()["error"]


def test_info_and_metrics_follow_the_spec(tgi: TGIServer) -> None:
    info = httpx.get(f"{tgi.url}/info").json()
    tgi.schemas.check("Info", info)
    assert info["max_stop_sequences"] == 4
    metrics = httpx.get(f"{tgi.url}/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "tgi_queue_size 0" in metrics.text


# -- completion ------------------------------------------------------------------------------


async def test_complete_returns_text_usage_and_logprobs(tgi: TGIServer) -> None:
    model = tgi_model(tgi.url)
    completion = await model.acomplete("What is the capital of France?", max_tokens=32)

    assert completion.text == ANSWER
    assert completion.finish_reason == "stop"
    assert completion.usage.completion_tokens == len(ANSWER.split()) + 1  # TGI counts the EOS
    assert completion.usage.prompt_tokens > 0
    assert completion.cost_usd == 0.0 and completion.locality == "local"
    assert completion.logprobs is not None
    assert "".join(t.token for t in completion.logprobs) == ANSWER  # the EOS is not text
    assert all(t.logprob < 0 for t in completion.logprobs)

    request = tgi.requests()[-1]
    assert request.path == "/generate"
    assert tgi.schemas.errors("GenerateRequest", request.body) == []
    assert request.body["parameters"]["details"] is True
    assert request.body["parameters"]["max_new_tokens"] == 32
    tgi.schemas.check("GenerateResponse", tgi.sent[-1])


async def test_top_logprobs_become_top_n_tokens(tgi: TGIServer) -> None:
    completion = await tgi_model(tgi.url).acomplete("Capital?", logprobs=True, top_logprobs=3)
    assert sent_parameters(tgi)["top_n_tokens"] == 3
    assert completion.logprobs is not None
    first = completion.logprobs[0]
    assert len(first.top) == 3 and first.top[0] == (first.token, first.logprob)
    tgi.schemas.check("GenerateResponse", tgi.sent[-1])


async def test_max_tokens_cuts_the_answer(tgi: TGIServer) -> None:
    completion = await tgi_model(tgi.url).acomplete("Capital?", max_tokens=2)
    assert completion.text == "Paris is"
    assert completion.finish_reason == "length"
    assert completion.usage.completion_tokens == 2


async def test_stop_sequences_are_sent_and_honoured(tgi: TGIServer) -> None:
    completion = await tgi_model(tgi.url).acomplete("Capital?", stop=["capital"])
    assert sent_parameters(tgi)["stop"] == ["capital"]
    assert completion.text == "Paris is the capital"
    assert completion.finish_reason == "stop"


async def test_temperature_zero_is_sent_spec_valid(tgi: TGIServer) -> None:
    completion = await tgi_model(tgi.url).acomplete("Capital?", temperature=0, seed=0, top_p=1.0)
    assert completion.text == ANSWER
    parameters = sent_parameters(tgi)
    assert "temperature" not in parameters and not parameters.get("do_sample")
    assert "seed" not in parameters and "top_p" not in parameters


async def test_sampling_parameters_are_sent(tgi: TGIServer) -> None:
    await tgi_model(tgi.url).acomplete("Capital?", temperature=0.7, seed=7, top_p=0.9)
    parameters = sent_parameters(tgi)
    assert parameters["temperature"] == 0.7 and parameters["do_sample"] is True
    assert parameters["seed"] == 7 and parameters["top_p"] == 0.9


async def test_conversation_is_rendered_as_one_prompt(tgi: TGIServer) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]
    await tgi_model(tgi.url).acomplete(messages)
    inputs = tgi.requests()[-1].body["inputs"]
    assert "Be brief." in inputs and "Capital of France?" in inputs
    assert inputs.endswith("Assistant:")


def test_sync_complete_works(tgi: TGIServer) -> None:
    assert tgi_model(tgi.url).complete("Capital?").text == ANSWER


# -- streaming -------------------------------------------------------------------------------


async def test_stream_yields_tokens_and_a_final_completion(tgi: TGIServer) -> None:
    model = tgi_model(tgi.url)
    chunks = [chunk async for chunk in model.astream("Capital?", logprobs=True)]

    pieces = [c.text for c in chunks if c.completion is None]
    assert len(pieces) == len(ANSWER.split()) and "".join(pieces) == ANSWER
    completion = chunks[-1].completion
    assert completion is not None
    assert completion.text == ANSWER and completion.finish_reason == "stop"
    assert completion.usage.prompt_tokens == 1  # input_length from the final event
    assert completion.usage.completion_tokens == len(ANSWER.split()) + 1
    assert completion.logprobs is not None and len(completion.logprobs) == len(pieces)
    assert all(t.logprob < 0 for t in completion.logprobs)

    assert tgi.requests()[-1].path == "/generate_stream"
    assert tgi.schemas.errors("GenerateRequest", tgi.requests()[-1].body) == []
    for event in tgi.sent:
        tgi.schemas.check("StreamResponse", event)
    assert tgi.sent[-1]["details"]["finish_reason"] == "eos_token"


async def test_stream_with_top_n_tokens(tgi: TGIServer) -> None:
    chunks = [c async for c in tgi_model(tgi.url).astream("Capital?", top_logprobs=2, max_tokens=3)]
    completion = chunks[-1].completion
    assert completion is not None and completion.text == "Paris is the"
    assert completion.finish_reason == "length"
    assert completion.logprobs is not None and all(len(t.top) == 2 for t in completion.logprobs)


# -- errors ----------------------------------------------------------------------------------


async def test_more_than_four_stop_sequences_fail_before_sending(tgi: TGIServer) -> None:
    with pytest.raises(BadRequest, match="at most 4 stop sequences") as caught:
        await tgi_model(tgi.url).acomplete("Capital?", stop=["a", "b", "c", "d", "e"])
    assert caught.value.model == "t"
    assert tgi.requests() == []


async def test_spec_invalid_extra_parameter_is_a_bad_request_not_retried(tgi: TGIServer) -> None:
    with pytest.raises(BadRequest) as caught:
        await tgi_model(tgi.url).acomplete("Capital?", extra={"top_k": 0})
    assert not isinstance(caught.value, ContextWindowExceeded)
    assert "top_k" in str(caught.value)
    assert len(tgi.requests()) == 1


async def test_too_many_total_tokens_is_a_context_window_error(tgi: TGIServer) -> None:
    prompt = "word " * 600
    with pytest.raises(ContextWindowExceeded, match="must be <=") as caught:
        await tgi_model(tgi.url).acomplete(prompt, max_tokens=1500)
    assert caught.value.model == "t" and caught.value.deployment is not None
    assert len(tgi.requests()) == 1  # never retried


async def test_too_long_prompt_is_a_context_window_error(tgi: TGIServer) -> None:
    with pytest.raises(ContextWindowExceeded, match="must have less than"):
        await tgi_model(tgi.url).acomplete("word " * 1100, max_tokens=10)
    assert len(tgi.requests()) == 1


async def test_too_many_top_n_tokens_is_a_bad_request(tgi: TGIServer) -> None:
    with pytest.raises(BadRequest, match="top_n_tokens") as caught:
        await tgi_model(tgi.url).acomplete("Capital?", top_logprobs=10)
    assert not isinstance(caught.value, ContextWindowExceeded)


async def test_rate_limit_with_retry_after_is_honoured(tgi: TGIServer) -> None:
    tgi.fail(429, "Model is overloaded", "overloaded", retry_after="1")
    started = time.monotonic()
    completion = await tgi_model(tgi.url).acomplete("Capital?")
    assert completion.text == ANSWER and completion.attempts == 2
    first, second = tgi.requests()
    assert second.at - first.at >= 0.9
    assert time.monotonic() - started >= 0.9


async def test_rate_limit_surfaces_retry_after_when_out_of_attempts(tgi: TGIServer) -> None:
    tgi.fail(429, "Model is overloaded", "overloaded", retry_after="7")
    with pytest.raises(RateLimited) as caught:
        await tgi_model(tgi.url, retry={"attempts": 1}).acomplete("Capital?")
    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize(
    ("status", "error_type"), [(424, "generation"), (500, "incomplete_generation"), (503, "unhealthy")]
)
async def test_server_failures_are_unavailable(tgi: TGIServer, status: int, error_type: str) -> None:
    tgi.fail(status, "Request failed during generation", error_type)
    with pytest.raises(ProviderUnavailable, match=f"HTTP {status}"):
        await tgi_model(tgi.url, retry={"attempts": 1}).acomplete("Capital?")


async def test_transient_failures_are_retried(tgi: TGIServer) -> None:
    tgi.fail(424, "Request failed during generation", "generation")
    tgi.fail(500, "Incomplete generation", "incomplete_generation")
    completion = await tgi_model(tgi.url).acomplete("Capital?")
    assert completion.text == ANSWER and completion.attempts == 3
    assert len(tgi.requests()) == 3


async def test_stream_http_error_before_first_token(tgi: TGIServer) -> None:
    tgi.fail(429, "Model is overloaded", "overloaded", retry_after="0")
    chunks = [c async for c in tgi_model(tgi.url).astream("Capital?")]
    assert chunks[-1].completion is not None and chunks[-1].completion.attempts == 2


async def test_stream_in_band_validation_error_is_not_retried(tgi: TGIServer) -> None:
    tgi.stream_errors_in_band = True  # as TGI's router reports errors once the SSE response began
    with pytest.raises(ContextWindowExceeded, match="must be <="):
        async for _ in tgi_model(tgi.url).astream("word " * 600, max_tokens=1500):
            pass
    assert len(tgi.requests()) == 1


async def test_stream_in_band_generation_error_is_unavailable(tgi: TGIServer) -> None:
    tgi.stream_errors_in_band = True
    tgi.fail(424, "Request failed during generation", "generation")
    with pytest.raises(ProviderUnavailable, match="failed during generation") as caught:
        async for _ in tgi_model(tgi.url, retry={"attempts": 1}).astream("Capital?"):
            pass
    assert_no_foreign_error(caught.value)


async def test_stream_in_band_overload_is_a_rate_limit_and_retried(tgi: TGIServer) -> None:
    tgi.stream_errors_in_band = True
    tgi.fail(429, "Model is overloaded", "overloaded")
    with pytest.raises(RateLimited):
        async for _ in tgi_model(tgi.url, retry={"attempts": 1}).astream("Capital?"):
            pass
    tgi.fail(429, "Model is overloaded", "overloaded")
    chunks = [c async for c in tgi_model(tgi.url).astream("Capital?")]
    assert chunks[-1].completion is not None and chunks[-1].completion.attempts == 2


async def test_connection_refused_is_unavailable() -> None:
    model = tgi_model(f"http://127.0.0.1:{free_port()}", retry={"attempts": 1})
    with pytest.raises(ProviderError) as caught:
        await model.acomplete("Capital?")
    assert isinstance(caught.value, ProviderUnavailable)
    assert_no_foreign_error(caught.value)


# -- reachability ----------------------------------------------------------------------------


async def test_reachability_probes_health(tgi: TGIServer) -> None:
    hub = fusionsdk.ModelHub.from_dict(
        {
            "version": 1,
            "models": {
                "up": {"provider": "tgi", "base_url": tgi.url},
                "down": {"provider": "tgi", "base_url": f"http://127.0.0.1:{free_port()}"},
            },
        }
    )
    reach = await hub.reachability()
    assert reach["up"].ok and reach["down"].status == "unreachable"
    assert [r.path for r in tgi.requests()] == ["/health"]

    tgi.healthy = False
    assert (await hub.reachability())["up"].status == "error"

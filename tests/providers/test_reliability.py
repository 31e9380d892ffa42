"""Retries, timeouts, the circuit breaker and fallbacks, end to end: OpenAI-compatible providers
(LiteLLM underneath) against a server that fails on a script (see :mod:`tests.servers.faults`)."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest

import fusionsdk
from fusionsdk.errors import (
    AllModelsFailed,
    AuthError,
    BadRequest,
    CircuitOpen,
    ContextWindowExceeded,
    FusionError,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from fusionsdk.providers.hub import ModelHub
from fusionsdk.providers.model import Completion, Model
from tests.servers.base import free_port
from tests.servers.faults import Disconnect, EchoKey, Fail, FaultServer, Hang, Reply, Stall, Step

pytestmark = pytest.mark.usefixtures("warm_litellm")

FAST_RETRY = {"attempts": 3, "initial_wait_s": 0.01, "max_wait_s": 0.5, "jitter_s": 0}
NO_RETRY = {"attempts": 1}
ANSWER = Reply().text


def make_hub(
    base_url: str, models: dict[str, dict[str, Any]], provider: str = "openai_compatible"
) -> ModelHub:
    """A hub whose models all live on ``base_url``; each model's id is its name."""
    specs = {
        name: {"provider": provider, "base_url": base_url, "model": name, "retry": FAST_RETRY, **spec}
        for name, spec in models.items()
    }
    return fusionsdk.ModelHub.from_dict({"version": 1, "models": specs})


def one_model(faults: FaultServer, provider: str = "openai_compatible", **spec: Any) -> Model:
    """The model ``m`` on the fault server."""
    return make_hub(faults.base_url, {"m": spec}, provider)["m"]


async def drain(model: Model, prompt: str = "hi", **params: Any) -> tuple[list[str], Completion | None]:
    """Stream ``prompt``; the text pieces and the final completion."""
    pieces: list[str] = []
    final = None
    async for chunk in model.astream(prompt, **params):
        if chunk.completion is not None:
            final = chunk.completion
        else:
            pieces.append(chunk.text)
    return pieces, final


def gaps(faults: FaultServer) -> list[float]:
    """Seconds between consecutive chat requests the server got."""
    times = [r.at for r in faults.chat_requests()]
    return [b - a for a, b in itertools.pairwise(times)]


# -- retries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai_compatible", "vllm"])
async def test_transient_500s_are_retried_with_backoff(faults: FaultServer, provider: str) -> None:
    faults.script("m", [Fail(500), Fail(502, "bad gateway")])
    retry = {"attempts": 3, "initial_wait_s": 0.05, "max_wait_s": 1.0, "jitter_s": 0}
    completion = await one_model(faults, provider, retry=retry).acomplete("hi")

    assert completion.text == ANSWER and completion.attempts == 3
    assert len(faults.chat_requests()) == 3
    first, second = gaps(faults)
    assert first >= 0.045 and second >= 0.09  # exponential: 0.05 s, then 0.1 s


async def test_retries_stop_after_the_configured_attempts(faults: FaultServer) -> None:
    faults.script("m", [Fail(503, "overloaded")] * 5)
    with pytest.raises(ProviderUnavailable) as caught:
        await one_model(faults).acomplete("hi")
    assert len(faults.chat_requests()) == 3
    assert caught.value.model == "m" and "openai_compatible:m@" in str(caught.value.deployment)


async def test_retry_after_is_honoured(faults: FaultServer) -> None:
    faults.script("m", [Fail(429, "slow down", {"Retry-After": "1"}, "rate_limit_error")])
    retry = {"attempts": 2, "initial_wait_s": 0.01, "max_wait_s": 5.0, "jitter_s": 0}
    started = time.monotonic()
    completion = await one_model(faults, retry=retry).acomplete("hi")
    assert completion.attempts == 2
    assert gaps(faults)[0] >= 0.9
    assert time.monotonic() - started >= 0.9


async def test_retry_after_ms_is_honoured(faults: FaultServer) -> None:
    faults.script("m", [Fail(429, "slow down", {"retry-after-ms": "300"}, "rate_limit_error")])
    retry = {"attempts": 2, "initial_wait_s": 0.01, "max_wait_s": 5.0, "jitter_s": 0}
    await one_model(faults, retry=retry).acomplete("hi")
    assert 0.28 <= gaps(faults)[0] < 1.0


async def test_retry_after_is_capped_by_max_wait(faults: FaultServer) -> None:
    faults.script("m", [Fail(429, "slow down", {"Retry-After": "30"}, "rate_limit_error")])
    retry = {"attempts": 2, "initial_wait_s": 0.01, "max_wait_s": 0.2, "jitter_s": 0}
    started = time.monotonic()
    await one_model(faults, retry=retry).acomplete("hi")
    assert time.monotonic() - started < 5


async def test_rate_limit_out_of_attempts_carries_retry_after(faults: FaultServer) -> None:
    faults.script("m", [Fail(429, "slow down", {"Retry-After": "12"}, "rate_limit_error")])
    with pytest.raises(RateLimited) as caught:
        await one_model(faults, retry=NO_RETRY).acomplete("hi")
    assert caught.value.retry_after == 12.0


CONTEXT_MESSAGE = (
    "This model's maximum context length is 1024 tokens. However, you requested 5000 tokens "
    "(4990 in the messages, 10 in the completion). Please reduce the length of the messages."
)


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (Fail(401, "Incorrect API key provided", error_type="invalid_request_error"), AuthError),
        (Fail(403, "You are not allowed to use this model", error_type="permission_error"), AuthError),
        (Fail(400, "temperature must be at most 2", error_type="invalid_request_error"), BadRequest),
        (Fail(404, "The model `m` does not exist", error_type="invalid_request_error"), BadRequest),
        (Fail(422, "unprocessable", error_type="invalid_request_error"), BadRequest),
        (Fail(400, CONTEXT_MESSAGE, code="context_length_exceeded"), ContextWindowExceeded),
    ],
    ids=["401", "403", "400", "404", "422", "context"],
)
@pytest.mark.parametrize("streaming", [False, True], ids=["complete", "stream"])
async def test_client_errors_are_not_retried(
    faults: FaultServer, step: Step, expected: type[ProviderError], streaming: bool
) -> None:
    faults.script("m", [step] * 3)
    model = one_model(faults)
    with pytest.raises(ProviderError) as caught:
        if streaming:
            await drain(model)
        else:
            await model.acomplete("hi")
    assert type(caught.value) is expected
    assert len(faults.chat_requests()) == 1
    assert model.breaker.state == "closed"  # the backend is fine; the request was not


# -- timeouts --------------------------------------------------------------------------------


@pytest.mark.parametrize("streaming", [False, True], ids=["complete", "stream"])
async def test_a_hanging_server_raises_provider_timeout(faults: FaultServer, streaming: bool) -> None:
    faults.script("m", [Hang(3)])
    model = one_model(faults, timeout_s=0.3, retry=NO_RETRY)
    started = time.monotonic()
    with pytest.raises(ProviderTimeout) as caught:
        if streaming:
            await drain(model)
        else:
            await model.acomplete("hi")
    assert time.monotonic() - started < 2
    assert type(caught.value).__module__.startswith("fusionsdk")


async def test_a_timeout_is_retried(faults: FaultServer) -> None:
    faults.script("m", [Hang(3)])
    completion = await one_model(faults, timeout_s=0.3).acomplete("hi")
    assert completion.text == ANSWER and completion.attempts == 2
    assert len(faults.chat_requests()) == 2


# -- circuit breaker -------------------------------------------------------------------------

BREAKER = {"failures": 3, "window_s": 30, "cooldown_s": 0.4}


async def test_breaker_opens_then_fails_fast_then_probes(faults: FaultServer) -> None:
    faults.script("m", [Fail(500)] * 3)
    model = one_model(faults, retry=NO_RETRY, breaker=BREAKER)
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            await model.acomplete("hi")
    assert model.breaker.state == "open"

    started = time.monotonic()
    for _ in range(5):
        with pytest.raises(CircuitOpen) as caught:
            await model.acomplete("hi")
    assert time.monotonic() - started < 0.2  # fail fast
    assert caught.value.model == "m"
    assert len(faults.chat_requests()) == 3  # the server never saw those calls

    await asyncio.sleep(0.45)
    assert model.breaker.state == "half-open"
    completion = await model.acomplete("hi")  # the probe
    assert completion.text == ANSWER
    assert model.breaker.state == "closed"
    assert len(faults.chat_requests()) == 4


async def test_a_failed_probe_opens_the_breaker_again(faults: FaultServer) -> None:
    faults.script("m", [Fail(500)] * 4)
    model = one_model(faults, retry=NO_RETRY, breaker=BREAKER)
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            await model.acomplete("hi")
    await asyncio.sleep(0.45)
    with pytest.raises(ProviderUnavailable):
        await model.acomplete("hi")  # the probe fails
    with pytest.raises(CircuitOpen):
        await model.acomplete("hi")
    assert len(faults.chat_requests()) == 4


async def test_retries_stop_when_the_breaker_opens(faults: FaultServer) -> None:
    faults.script("m", [Fail(500)] * 10)
    retry = {"attempts": 5, "initial_wait_s": 0.01, "max_wait_s": 0.05, "jitter_s": 0}
    model = one_model(faults, retry=retry, breaker={"failures": 2, "window_s": 30, "cooldown_s": 30})
    with pytest.raises(CircuitOpen):
        await model.acomplete("hi")
    assert len(faults.chat_requests()) == 2


async def test_models_on_one_deployment_share_a_breaker(faults: FaultServer) -> None:
    spec = {"model": "shared", "retry": NO_RETRY, "breaker": BREAKER}
    hub = make_hub(faults.base_url, {"a": spec, "b": spec})
    faults.script("shared", [Fail(500)] * 3)
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            await hub["a"].acomplete("hi")
    with pytest.raises(CircuitOpen):
        await hub["b"].acomplete("hi")
    assert len(faults.chat_requests()) == 3


async def test_streams_count_for_the_breaker(faults: FaultServer) -> None:
    faults.script("m", [Fail(500)] * 3)
    model = one_model(faults, retry=NO_RETRY, breaker=BREAKER)
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            await drain(model)
    with pytest.raises(CircuitOpen):
        await drain(model)
    assert len(faults.chat_requests()) == 3


# -- fallbacks -------------------------------------------------------------------------------


async def test_fallback_answers_when_the_primary_fails(faults: FaultServer) -> None:
    hub = make_hub(faults.base_url, {"a": {"fallbacks": ["b"]}, "b": {}})
    faults.script("a", [Fail(500)] * 3)
    faults.script("b", [Reply("answer from b")])

    completion = await hub["a"].acomplete("hi")
    assert completion.text == "answer from b"
    assert completion.model == "b" and completion.fallback_from == "a"
    # a healthy fallback exists: fail over at once instead of retrying "a"
    assert len(faults.chat_requests("a")) == 1 and len(faults.chat_requests("b")) == 1


async def test_without_prefer_fallback_the_primary_is_retried_first(faults: FaultServer) -> None:
    retry = {"attempts": 3, "initial_wait_s": 0, "max_wait_s": 0, "jitter_s": 0, "prefer_fallback": False}
    hub = make_hub(faults.base_url, {"a": {"fallbacks": ["b"], "retry": retry}, "b": {}})
    faults.script("a", [Fail(500)] * 3)
    completion = await hub["a"].acomplete("hi")
    assert completion.model == "b"
    assert len(faults.chat_requests("a")) == 3 and len(faults.chat_requests("b")) == 1


async def test_fallback_skips_an_open_breaker_without_calling_it(faults: FaultServer) -> None:
    hub = make_hub(
        faults.base_url, {"a": {"fallbacks": ["b"], "retry": NO_RETRY, "breaker": BREAKER}, "b": {}}
    )
    faults.script("a", [Fail(500)] * 3)
    for _ in range(3):
        assert (await hub["a"].acomplete("hi")).fallback_from == "a"
    completion = await hub["a"].acomplete("hi")
    assert completion.model == "b" and completion.fallback_from == "a"
    assert len(faults.chat_requests("a")) == 3 and len(faults.chat_requests("b")) == 4


async def test_stream_falls_back_before_the_first_chunk(faults: FaultServer) -> None:
    hub = make_hub(faults.base_url, {"a": {"fallbacks": ["b"], "retry": NO_RETRY}, "b": {}})
    faults.script("a", [Fail(401)])
    faults.script("b", [Reply("streamed by b")])
    pieces, completion = await drain(hub["a"])
    assert "".join(pieces) == "streamed by b"
    assert completion is not None and completion.model == "b" and completion.fallback_from == "a"


async def test_all_models_failed_lists_every_error(faults: FaultServer) -> None:
    hub = make_hub(
        faults.base_url,
        {"a": {"fallbacks": ["b", "c"], "retry": NO_RETRY}, "b": {"retry": NO_RETRY}, "c": {}},
    )
    faults.script("a", [Fail(500)])
    faults.script("b", [Fail(401, "no such key")])
    faults.script("c", [Fail(400, CONTEXT_MESSAGE, code="context_length_exceeded")])
    with pytest.raises(AllModelsFailed) as caught:
        await hub["a"].acomplete("hi")
    errors = caught.value.errors
    assert [type(e) for e in errors] == [ProviderUnavailable, AuthError, ContextWindowExceeded]
    assert [e.model for e in errors] == ["a", "b", "c"]
    for name in ("a: ProviderUnavailable", "b: AuthError", "c: ContextWindowExceeded"):
        assert name in str(caught.value)


# -- streams ---------------------------------------------------------------------------------


async def test_stream_returns_text_usage_and_logprobs(faults: FaultServer) -> None:
    pieces, completion = await drain(one_model(faults), logprobs=True)
    assert "".join(pieces) == ANSWER and len(pieces) == len(ANSWER.split())
    assert completion is not None and completion.text == ANSWER
    assert completion.finish_reason == "stop"
    assert completion.usage.completion_tokens == len(pieces)  # reported by the server
    assert completion.logprobs is not None and all(t.logprob < 0 for t in completion.logprobs)
    assert faults.chat_requests()[-1].body["stream_options"] == {"include_usage": True}


async def test_mid_stream_disconnect_raises_after_the_partial_text(faults: FaultServer) -> None:
    faults.script("m", [Disconnect(after=2)])
    pieces: list[str] = []
    with pytest.raises(ProviderUnavailable) as caught:
        async for chunk in one_model(faults).astream("hi"):
            pieces.append(chunk.text)
    assert pieces == ["Hello", " from"]
    assert type(caught.value).__module__.startswith("fusionsdk")
    assert len(faults.chat_requests()) == 1  # text was already given out: no retry


async def test_mid_stream_stall_times_out_after_the_partial_text(faults: FaultServer) -> None:
    faults.script("m", [Stall(after=2, seconds=3)])
    pieces: list[str] = []
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        async for chunk in one_model(faults, timeout_s=0.5).astream("hi"):
            pieces.append(chunk.text)
    assert pieces == ["Hello", " from"]
    assert isinstance(caught.value, ProviderTimeout | ProviderUnavailable)
    assert time.monotonic() - started < 2.5
    assert len(faults.chat_requests()) == 1


async def test_stream_retries_before_the_first_chunk(faults: FaultServer) -> None:
    faults.script("m", [Fail(500), Disconnect(after=0)])
    pieces, completion = await drain(one_model(faults))
    assert "".join(pieces) == ANSWER
    assert completion is not None and completion.attempts == 3


# -- no foreign exception escapes ------------------------------------------------------------

FAULTS: dict[str, Step] = {
    "500": Fail(500),
    "502": Fail(502),
    "503": Fail(503),
    "429": Fail(429, "slow down", {"Retry-After": "0"}, "rate_limit_error"),
    "401": Fail(401),
    "echo-key": EchoKey(),
    "400": Fail(400),
    "404": Fail(404),
    "413": Fail(413, "request too large"),
    "422": Fail(422),
    "hang": Hang(3),
    "disconnect": Disconnect(after=1),
    "stall": Stall(after=1, seconds=3),
    "garbage-status": Fail(418, "I'm a teapot"),
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
@pytest.mark.parametrize("streaming", [False, True], ids=["complete", "stream"])
async def test_only_fusionsdk_errors_escape(faults: FaultServer, fault: Step, streaming: bool) -> None:
    faults.script("m", [fault] * 2)
    model = one_model(faults, timeout_s=0.3, retry={"attempts": 2, "initial_wait_s": 0, "jitter_s": 0})
    try:
        if streaming:
            await drain(model)
        else:
            await model.acomplete("hi")
    except BaseException as err:  # the point is to see what escapes
        assert isinstance(err, FusionError), f"{type(err).__module__}.{type(err).__qualname__}: {err}"
        assert type(err).__module__.startswith("fusionsdk")
        assert err.__cause__ is None or type(err.__cause__).__module__.startswith("fusionsdk")
    else:
        pytest.fail("expected an error")


async def test_connection_refused_is_unavailable_and_retried() -> None:
    model = make_hub(f"http://127.0.0.1:{free_port()}/v1", {"m": {}})["m"]
    with pytest.raises(ProviderUnavailable) as caught:
        await model.acomplete("hi")
    assert type(caught.value).__module__.startswith("fusionsdk")


# -- the rest of the contract ----------------------------------------------------------------


async def test_parameters_reach_the_server(faults: FaultServer) -> None:
    completion = await one_model(faults, "vllm").acomplete(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        max_tokens=3,
        temperature=0,
        seed=1,
        stop=["\n"],
        logprobs=True,
        top_logprobs=2,
    )
    body = faults.chat_requests()[-1].body
    assert body["model"] == "m" and body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["max_tokens"] == 3 and body["temperature"] == 0 and body["seed"] == 1
    assert body["stop"] == ["\n"] and body["logprobs"] is True and body["top_logprobs"] == 2
    assert completion.text == "Hello from the" and completion.finish_reason == "length"
    assert completion.usage.completion_tokens == 3 and completion.backend_model == "m"
    assert completion.logprobs is not None and len(completion.logprobs) == 3


async def test_reachability_lists_models(faults: FaultServer) -> None:
    hub = make_hub(faults.base_url, {"m": {}}, "vllm")
    down = make_hub(f"http://127.0.0.1:{free_port()}/v1", {"m": {}}, "vllm")
    assert (await hub.reachability())["m"].ok
    assert (await down.reachability())["m"].status == "unreachable"
    assert [r.path for r in faults.requests()] == ["/v1/models"]


async def test_sync_and_async_calls_mix(faults: FaultServer) -> None:
    model = one_model(faults)
    assert (await model.acomplete("hi")).text == ANSWER
    assert (await asyncio.to_thread(model.complete, "hi")).text == ANSWER
    assert (await model.acomplete("hi")).text == ANSWER

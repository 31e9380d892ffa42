"""The adapter (Model) with the scripted fake provider: retries, fallbacks, timeouts, streams."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from fusionsdk.errors import (
    AllModelsFailed,
    AuthError,
    BadRequest,
    ConfigError,
    ContextWindowExceeded,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from fusionsdk.providers.hub import ModelHub
from fusionsdk.testing import fake_model

FAST = {"attempts": 3, "initial_wait_s": 0.001, "max_wait_s": 0.01, "jitter_s": 0}


async def test_complete_reports_usage_cost_latency_and_deployment() -> None:
    model = fake_model("m", ["Paris"], prices={"input_usd_per_mtok": 1e6, "output_usd_per_mtok": 2e6})
    done = await model.acomplete("What is the capital of France?")
    assert done.text == "Paris" and done.model == "m" and done.finish_reason == "stop"
    assert done.usage.prompt_tokens > 0 and done.usage.completion_tokens == 1
    assert done.cost_usd == pytest.approx(done.usage.prompt_tokens * 1 + 2)
    assert done.latency_s >= 0 and done.deployment == "fake:m" and done.attempts == 1
    json.dumps(done.as_dict())


async def test_local_models_cost_zero_hosted_unknown() -> None:
    assert (await fake_model("a", ["x"]).acomplete("hi")).cost_usd == 0.0
    assert (await fake_model("b", ["x"], locality="hosted").acomplete("hi")).cost_usd is None


async def test_retries_transient_errors_then_succeeds() -> None:
    model = fake_model("m", [ProviderUnavailable("503"), ProviderTimeout("slow"), "ok"], retry=FAST)
    done = await model.acomplete("hi")
    assert done.text == "ok" and done.attempts == 3
    assert len(model.provider.requests) == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("error", [AuthError("no"), BadRequest("bad"), ContextWindowExceeded("too long")])
async def test_never_retries_permanent_errors(error: ProviderError) -> None:
    model = fake_model("m", [error, "ok"], retry=FAST)
    with pytest.raises(type(error)):
        await model.acomplete("hi")
    assert len(model.provider.requests) == 1  # type: ignore[attr-defined]


async def test_retry_after_is_honoured() -> None:
    model = fake_model("m", [RateLimited("slow down", retry_after=0.2), "ok"], retry=FAST | {"max_wait_s": 1})
    started = asyncio.get_running_loop().time()
    assert (await model.acomplete("hi")).text == "ok"
    assert asyncio.get_running_loop().time() - started >= 0.19


async def test_retries_exhausted_raise_last_error_with_location() -> None:
    model = fake_model("m", [ProviderUnavailable("down")], retry=FAST)
    with pytest.raises(ProviderUnavailable) as info:
        await model.acomplete("hi")
    assert info.value.model == "m" and info.value.deployment == "fake:m"
    assert "[m @ fake:m]" in str(info.value)


async def test_unexpected_exception_is_wrapped() -> None:
    model = fake_model("m", [KeyError("boom")], retry=FAST)
    with pytest.raises(ProviderError, match="unexpected KeyError"):
        await model.acomplete("hi")


async def test_timeout_raises_provider_timeout() -> None:
    hub = ModelHub.from_dict(
        {
            "version": 1,
            "models": {
                "slow": {
                    "provider": "fake",
                    "timeout_s": 0.05,
                    "retry": FAST | {"attempts": 1},
                    "options": {"delay_s": 1, "responses": ["late"]},
                }
            },
        }
    )
    with pytest.raises(ProviderTimeout, match="0.05s"):
        await hub["slow"].acomplete("hi")


def hub_with_fallbacks(**scripts: list[Any]) -> ModelHub:
    names = list(scripts)
    models: dict[str, Any] = {name: {"provider": "fake", "retry": FAST | {"attempts": 1}} for name in names}
    models[names[0]]["fallbacks"] = names[1:]
    hub = ModelHub.from_dict({"version": 1, "models": models})
    for name, script in scripts.items():
        hub[name].provider.script = script  # type: ignore[attr-defined]
    return hub


async def test_fallback_answers_when_primary_fails() -> None:
    hub = hub_with_fallbacks(a=[AuthError("bad key")], b=[ProviderUnavailable("down")], c=["from c"])
    done = await hub["a"].acomplete("hi")
    assert done.text == "from c" and done.model == "c" and done.fallback_from == "a"


async def test_all_models_failed_lists_each_error() -> None:
    hub = hub_with_fallbacks(a=[AuthError("bad key")], b=[ProviderUnavailable("down")])
    with pytest.raises(AllModelsFailed) as info:
        await hub["a"].acomplete("hi")
    assert [e.model for e in info.value.errors] == ["a", "b"]
    assert "a: AuthError" in str(info.value) and "b: ProviderUnavailable" in str(info.value)


async def test_stream_yields_text_then_completion() -> None:
    model = fake_model("m", ["one two three"])
    chunks = [c async for c in model.astream("count")]
    assert "".join(c.text for c in chunks) == "one two three"
    final = chunks[-1].completion
    assert final is not None and final.text == "one two three" and final.finish_reason == "stop"


async def test_stream_falls_back_before_first_chunk() -> None:
    hub = hub_with_fallbacks(a=[ProviderUnavailable("down")], b=["hello world"])
    chunks = [c async for c in hub["a"].astream("hi")]
    final = chunks[-1].completion
    assert final is not None and final.model == "b" and final.fallback_from == "a"


async def test_concurrency_limit_is_respected() -> None:
    hub = ModelHub.from_dict(
        {
            "version": 1,
            "models": {"m": {"provider": "fake", "max_concurrency": 2, "options": {"delay_s": 0.05}}},
        }
    )
    model = hub["m"]
    in_flight = peak = 0
    real = model.provider.complete

    async def counting(request: Any) -> Any:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await real(request)
        finally:
            in_flight -= 1

    model.provider.complete = counting  # type: ignore[method-assign]
    await asyncio.gather(*(model.acomplete(f"q{i}") for i in range(6)))
    assert peak == 2


@pytest.mark.parametrize(
    "messages", [[], [{"role": "wizard", "content": "x"}], [{"role": "user"}], 42, [{"content": "x"}]]
)
async def test_bad_messages_are_rejected(messages: Any) -> None:
    with pytest.raises(BadRequest, match="messages"):
        await fake_model("m", ["x"]).acomplete(messages)


async def test_unknown_params_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="params.temprature: unknown field"):
        await fake_model("m", ["x"]).acomplete("hi", temprature=0.3)
    with pytest.raises(ConfigError, match="params.max_tokens"):
        await fake_model("m", ["x"]).acomplete("hi", max_tokens=0)


def test_sync_wrappers_work_outside_and_inside_a_running_loop() -> None:
    model = fake_model("m", ["sync answer"])
    assert model.complete("hi").text == "sync answer"
    assert "".join(c.text for c in model.stream("hi")) == "sync answer"

    async def inside_loop() -> str:  # as in a notebook cell
        return model.complete("hi").text

    assert asyncio.run(inside_loop()) == "sync answer"


def test_hub_unknown_model_lists_known() -> None:
    hub = ModelHub.from_dict({"version": 1, "models": {"a": {"provider": "fake"}}})
    with pytest.raises(ConfigError, match=r"unknown model 'b' \(known: a\)"):
        hub["b"]


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"provider": "nope"}, "models.m.provider"),
        ({"provider": "tgi"}, "models.m.base_url"),
        ({"provider": "fake", "options": {"respones": []}}, "models.m.options.respones"),
        ({"provider": "llamacpp", "model": "gpt5"}, None),
    ],
)
def test_hub_build_errors_name_the_path(spec: dict[str, Any], path: str | None) -> None:
    with pytest.raises(ConfigError) as info:
        ModelHub.from_dict({"version": 1, "models": {"m": spec}})
    if path:
        assert info.value.path == path
    else:
        assert "unknown embedded model 'gpt5'" in str(info.value)


def test_shared_deployment_shares_a_breaker() -> None:
    hub = ModelHub.from_dict(
        {
            "version": 1,
            "models": {
                "a": {"provider": "vllm", "base_url": "http://127.0.0.1:9/v1", "model": "x"},
                "b": {"provider": "vllm", "base_url": "http://127.0.0.1:9/v1", "model": "x", "timeout_s": 5},
                "c": {"provider": "vllm", "base_url": "http://127.0.0.1:9/v1", "model": "y"},
            },
        }
    )
    assert hub["a"].breaker is hub["b"].breaker and hub["a"].breaker is not hub["c"].breaker

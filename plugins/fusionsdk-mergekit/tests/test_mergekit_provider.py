"""The ``transformers`` provider on a merged tiny model: the provider contract and its own promises."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from fusionsdk.config.models import ModelSpec
from fusionsdk.errors import BadRequest, ConfigError, ContextWindowExceeded
from fusionsdk.providers.base import CompletionRequest, GenerationParams
from fusionsdk.providers.hub import ModelHub
from fusionsdk.testing import ProviderConformance

from fusionsdk_mergekit import TransformersProvider


def build(path: Path | str, **options: Any) -> TransformersProvider:
    spec = ModelSpec(name="merged", provider="transformers", options={"path": str(path), **options})
    return TransformersProvider(spec, TransformersProvider.Options.model_validate(spec.options))


def ask(prompt: str, **params: Any) -> CompletionRequest:
    defaults: dict[str, Any] = {"max_tokens": 8, "temperature": 0.0}
    return CompletionRequest(
        [{"role": "user", "content": prompt}], GenerationParams(**{**defaults, **params})
    )


class TestTransformersProviderConformance(ProviderConformance):
    plugin_class = TransformersProvider
    deterministic = True
    max_tokens = 8

    @pytest.fixture
    def spec(self, slerp_model: Path) -> ModelSpec:
        return ModelSpec(name="conformance", provider="conformance", options={"path": str(slerp_model)})

    @pytest.fixture
    def failing_plugin(self, spec: ModelSpec) -> TransformersProvider:
        return self.build_provider(TransformersProvider, spec.model_copy(update={"context_window": 4}))  # type: ignore[return-value]


async def test_logprobs_come_from_the_model_logits(slerp_model: Path) -> None:
    response = await build(slerp_model).complete(ask("hello world", logprobs=True, top_logprobs=3))
    assert response.logprobs is not None and response.usage is not None
    assert len(response.logprobs) == response.usage.completion_tokens > 0
    for item in response.logprobs:
        assert item.logprob <= 0 and len(item.top) == 3
        assert [lp for _, lp in item.top] == sorted((lp for _, lp in item.top), reverse=True)
        assert item.top[0] == (item.token, pytest.approx(item.logprob))  # greedy: the best token
    assert (await build(slerp_model).complete(ask("hello world"))).logprobs is None


async def test_chat_template_when_the_tokenizer_has_one_else_plain_text(
    slerp_model: Path, tmp_path: Path
) -> None:
    chat = build(slerp_model)
    assert chat.count_tokens("hello world") == 2
    response = await chat.complete(ask("hello world"))
    assert response.usage is not None and response.usage.prompt_tokens == 6  # user : hello world assistant :
    plain_dir = tmp_path / "plain"
    shutil.copytree(slerp_model, plain_dir)
    (plain_dir / "chat_template.jinja").unlink()
    plain = await build(plain_dir).complete(ask("hello world"))
    assert plain.usage is not None and plain.usage.prompt_tokens == 2
    with pytest.raises(BadRequest, match="no chat template"):
        await build(plain_dir, mode="chat").complete(ask("hello world"))
    forced = await build(slerp_model, mode="completion").complete(ask("hello world"))
    assert forced.usage is not None and forced.usage.prompt_tokens == 2


async def test_stop_strings_cut_the_text_in_both_modes(slerp_model: Path) -> None:
    provider = build(slerp_model)
    full = (await provider.complete(ask("what is the capital of france ?", max_tokens=12))).text
    words = full.split()
    if len(words) < 3:
        pytest.skip(f"the random model said too little to cut: {full!r}")
    stop = f" {words[2]}"
    expected = full[: full.index(stop)]
    cut = await provider.complete(ask("what is the capital of france ?", max_tokens=12, stop=[stop]))
    assert cut.text == expected and cut.finish_reason == "stop"
    streamed = [
        c async for c in provider.stream(ask("what is the capital of france ?", max_tokens=12, stop=[stop]))
    ]
    assert "".join(c.text for c in streamed) == expected


async def test_a_stream_abandoned_early_frees_the_model(slerp_model: Path) -> None:
    provider = build(slerp_model)
    async for chunk in provider.stream(ask("hello world", max_tokens=64)):
        if chunk.text:
            break
    response = await provider.complete(ask("hello world", max_tokens=2))
    assert response.usage is not None and response.usage.completion_tokens <= 2


async def test_context_window_and_empty_requests(slerp_model: Path) -> None:
    provider = build(slerp_model)
    with pytest.raises(
        ContextWindowExceeded, match="302 prompt tokens leave no room in the context window of 256"
    ):
        await provider.complete(ask("hello " * 298))  # 298 words and the chat template's 4 tokens
    long = await provider.complete(ask("hello " * 240, max_tokens=100))
    assert long.usage is not None and long.usage.prompt_tokens + long.usage.completion_tokens <= 256
    with pytest.raises(BadRequest, match="no messages"):
        await provider.complete(CompletionRequest([], GenerationParams(max_tokens=2)))


async def test_configuration_errors_name_the_field(slerp_model: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        TransformersProvider(ModelSpec(name="m", provider="transformers"), TransformersProvider.Options())
    assert caught.value.path == "models.m.options.path"
    missing = build(tmp_path / "nowhere")
    assert (await missing.reachability()).status == "unreachable"
    with pytest.raises(ConfigError, match=r"no config\.json") as caught:
        await missing.prepare()
    assert caught.value.path == "models.merged.options.path"
    if not __import__("torch").cuda.is_available():
        with pytest.raises(ConfigError, match="torch sees no CUDA GPU"):
            await build(slerp_model, device="cuda").prepare()
    assert (await build(slerp_model).reachability()).ok


def test_usable_from_a_config_through_the_model_hub(slerp_model: Path) -> None:
    hub = ModelHub.from_dict(
        {
            "version": 1,
            "models": {"merged": {"provider": "transformers", "options": {"path": str(slerp_model)}}},
        }
    )
    answer = hub["merged"].complete("what is two plus two ?", max_tokens=4)
    assert answer.model == "merged" and answer.cost_usd == 0.0 and answer.locality == "local"
    assert 0 < answer.usage.completion_tokens <= 4
    assert (
        "".join(c.text for c in hub["merged"].stream("what is two plus two ?", max_tokens=4)) == answer.text
    )

"""Conformance suite of providers (``fusionsdk.providers``).

A provider must answer with a :class:`~fusionsdk.providers.base.ProviderResponse`, stream
:class:`~fusionsdk.providers.base.StreamChunk` objects with ``finish_reason`` only on the last,
raise nothing but :class:`~fusionsdk.errors.ProviderError` subclasses, and serve concurrent
calls from one instance. The suite builds the provider from a :class:`ModelSpec` (the ``spec``
fixture) with options validated the way a config's are.

Example:
    A provider of a local server, checked against a stub on loopback::

        class TestMyProvider(ProviderConformance):
            plugin_class = MyProvider
            spec_fields = {"model": "tiny", "base_url": "http://127.0.0.1:8080"}

            @pytest.fixture
            def failing_plugin(self, spec):
                dead = spec.model_copy(update={"base_url": "http://127.0.0.1:9"})
                return MyProvider(dead, MyProvider.Options())
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

import pytest
import pytest_asyncio

from fusionsdk.config.models import ModelSpec
from fusionsdk.config.validation import validate_model
from fusionsdk.errors import ProviderError
from fusionsdk.providers.base import (
    CompletionRequest,
    GenerationParams,
    Provider,
    ProviderResponse,
    Reachability,
    StreamChunk,
    TokenLogprob,
    Usage,
)
from fusionsdk.registry import PluginKind
from fusionsdk.testing.conformance._common import PluginConformance, assert_number

__all__ = ["ProviderConformance"]


def check_response(response: Any) -> None:
    """Fail unless ``response`` is a well-formed :class:`ProviderResponse`."""
    assert isinstance(response, ProviderResponse), f"expected a ProviderResponse, got {response!r}"
    assert isinstance(response.text, str), f"text should be a str, got {response.text!r}"
    assert response.finish_reason is None or isinstance(response.finish_reason, str)
    assert response.usage is None or isinstance(response.usage, Usage)
    check_logprobs(response.logprobs)


def check_logprobs(logprobs: Any) -> None:
    """Fail unless ``logprobs`` is None or a tuple of :class:`TokenLogprob`."""
    if logprobs is None:
        return
    assert isinstance(logprobs, tuple), f"logprobs should be a tuple, got {type(logprobs).__name__}"
    for item in logprobs:
        assert isinstance(item, TokenLogprob), f"expected TokenLogprob, got {item!r}"
        assert_number(item.logprob, "logprob")


class ProviderConformance(PluginConformance):
    """Conformance suite of providers; set ``plugin_class`` (and ``spec_fields``, ``plugin_options``).

    Attributes:
        spec_fields: :class:`ModelSpec` fields besides ``name``, ``provider`` and ``options``
            (``model``, ``base_url``, ...).
        deterministic: Set True if the same request always gets the same text from the provider
            as configured here (greedy decoding, a scripted fake); then repeated, streamed and
            concurrent calls must agree.
        max_tokens: Output limit of the test requests (keeps real models quick).
        large_prompt_words: Words in the large-prompt test.
        concurrent_calls: How many calls the concurrency test makes at once.
    """

    kind: ClassVar[PluginKind] = PluginKind.PROVIDERS
    spec_fields: ClassVar[Mapping[str, Any]] = {}
    deterministic: ClassVar[bool] = False
    max_tokens: ClassVar[int] = 16
    large_prompt_words: ClassVar[int] = 3000
    concurrent_calls: ClassVar[int] = 8

    @pytest.fixture
    def spec(self) -> ModelSpec:
        """The model spec the provider is built from (``provider: conformance``)."""
        return ModelSpec(
            name="conformance", provider="conformance", options=dict(self.plugin_options), **self.spec_fields
        )

    @pytest_asyncio.fixture
    async def plugin(self, spec: ModelSpec) -> AsyncIterator[Provider]:  # type: ignore[override]
        """The provider under test, closed after the test."""
        provider = self.build_provider(self._required_class(), spec)
        yield provider
        await provider.aclose()

    @pytest.fixture
    def failing_plugin(self, spec: ModelSpec) -> Provider | None:
        """A provider set up to fail (a dead endpoint, a scripted error); None skips those tests."""
        return None

    @pytest.fixture
    def completion_request(self) -> CompletionRequest:
        """An ordinary chat request."""
        return self.make_request("Name one primary colour.")

    def make_request(self, prompt: str) -> CompletionRequest:
        """A one-message chat request with the suite's output limit and greedy decoding."""
        params = GenerationParams(max_tokens=self.max_tokens, temperature=0.0, seed=0)
        return CompletionRequest([{"role": "user", "content": prompt}], params)

    @staticmethod
    def build_provider(plugin_class: type[Provider], spec: ModelSpec) -> Provider:
        """Build a provider the way a config does: options validated, errors naming the path."""
        return plugin_class(spec, validate_model(plugin_class.Options, spec.options, "options"))

    def rebuild(self, plugin: Any, options: Mapping[str, Any]) -> Any:
        """Another provider of ``plugin``'s class and spec, with other options."""
        return self.build_provider(type(plugin), plugin.spec.model_copy(update={"options": dict(options)}))

    async def collect(self, plugin: Provider, request: CompletionRequest) -> list[StreamChunk]:
        """Every chunk ``plugin.stream`` yields for ``request``."""
        return [chunk async for chunk in plugin.stream(request)]

    # -- answers -------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_complete_returns_a_provider_response(
        self, plugin: Provider, completion_request: CompletionRequest
    ) -> None:
        check_response(await plugin.complete(completion_request))

    @pytest.mark.asyncio
    async def test_stream_yields_chunks_with_finish_reason_last(
        self, plugin: Provider, completion_request: CompletionRequest
    ) -> None:
        chunks = await self.collect(plugin, completion_request)
        assert chunks, "stream yielded nothing"
        for chunk in chunks:
            assert isinstance(chunk, StreamChunk), f"expected StreamChunk, got {chunk!r}"
            assert isinstance(chunk.text, str)
            assert chunk.usage is None or isinstance(chunk.usage, Usage)
            check_logprobs(chunk.logprobs)
        assert all(c.finish_reason is None for c in chunks[:-1]), "only the last chunk has finish_reason"

    @pytest.mark.asyncio
    async def test_deterministic_when_promised(
        self, plugin: Provider, completion_request: CompletionRequest
    ) -> None:
        if not self.deterministic:
            pytest.skip("set deterministic = True if the provider promises it as configured")
        first = await plugin.complete(completion_request)
        assert (await plugin.complete(completion_request)).text == first.text
        streamed = "".join(c.text for c in await self.collect(plugin, completion_request))
        assert streamed == first.text

    # -- inputs --------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_no_messages_give_a_response_or_a_provider_error(self, plugin: Provider) -> None:
        request = CompletionRequest([], GenerationParams(max_tokens=self.max_tokens, temperature=0.0))
        try:
            response = await plugin.complete(request)
        except ProviderError:
            return
        check_response(response)

    @pytest.mark.asyncio
    async def test_large_prompt_gives_a_response_or_a_provider_error(self, plugin: Provider) -> None:
        request = self.make_request(" ".join(["word"] * self.large_prompt_words))
        try:
            response = await plugin.complete(request)
        except ProviderError:
            return  # ContextWindowExceeded, typically
        check_response(response)

    # -- errors --------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_failures_are_provider_errors(
        self, failing_plugin: Provider | None, completion_request: CompletionRequest
    ) -> None:
        if failing_plugin is None:
            pytest.skip("override the failing_plugin fixture to check error translation")
        try:
            with pytest.raises(ProviderError):
                await failing_plugin.complete(completion_request)
            with pytest.raises(ProviderError):
                await self.collect(failing_plugin, completion_request)
        finally:
            await failing_plugin.aclose()

    # -- concurrency and helpers ---------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_safe_under_concurrency(
        self, plugin: Provider, completion_request: CompletionRequest
    ) -> None:
        calls = [plugin.complete(completion_request) for _ in range(self.concurrent_calls)]
        responses = await asyncio.gather(*calls)
        for response in responses:
            check_response(response)
        if self.deterministic:
            assert len({r.text for r in responses}) == 1, "the same request got different answers"

    @pytest.mark.asyncio
    async def test_reachability_is_reported(self, plugin: Provider) -> None:
        reachability = await plugin.reachability()
        assert isinstance(reachability, Reachability)

    def test_counts_tokens(self, plugin: Provider) -> None:
        count = plugin.count_tokens("Name one primary colour.")
        assert isinstance(count, int) and count > 0

    def test_cost_is_a_non_negative_number_or_unknown(self, plugin: Provider) -> None:
        cost = plugin.cost_usd(Usage(prompt_tokens=100, completion_tokens=20))
        if cost is not None:
            assert_number(cost, "cost_usd")
            assert cost >= 0

    def test_locality_is_local_or_hosted(self, plugin: Provider) -> None:
        assert plugin.locality in ("local", "hosted")

"""The provider conformance kit against every HTTP provider, each on its loopback test server.

``tgi`` and ``triton`` run against their protocol fakes (:mod:`tests.servers.tgi`, checked
against TGI's OpenAPI spec, and :mod:`tests.servers.triton`, which echoes the prompt as the real
ensemble does); the OpenAI-compatible family against the scripted OpenAI-compatible server
(:mod:`tests.servers.faults`), and ``llamacpp_server`` against llama-cpp-python's real server.
``vllm`` also runs against a real vLLM server in the ``engines`` suite
(``tests/engines/test_vllm_conformance.py``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from fusionsdk.config.models import ModelSpec
from fusionsdk.providers.base import Provider
from fusionsdk.providers.openai_compatible import (
    LlamaCppServerProvider,
    OllamaProvider,
    OpenAICompatibleProvider,
    SGLangProvider,
    TGIMessagesProvider,
    TRTLLMProvider,
    VLLMProvider,
)
from fusionsdk.providers.tgi import TGIProvider
from fusionsdk.providers.triton import TritonProvider
from fusionsdk.testing.conformance import ProviderConformance
from tests.servers.base import free_port
from tests.servers.faults import FaultServer
from tests.servers.llamacpp import LlamaCppServer
from tests.servers.tgi import TGIServer
from tests.servers.triton import TritonServer


class _OnLoopback(ProviderConformance):
    """Builds ``spec`` from the server's URL; a dead port for the failing provider."""

    deterministic = True

    def url(self, server: Any) -> str:
        raise NotImplementedError

    def spec_for(self, base_url: str) -> ModelSpec:
        return ModelSpec(
            name="conformance", provider="conformance", model="m", base_url=base_url, timeout_s=30
        )

    @pytest.fixture
    def failing_plugin(self) -> Provider:
        dead = self.spec_for(self.url(f"http://127.0.0.1:{free_port()}"))
        cls = self._required_class()
        return cls(dead, cls.Options())


class TestTGIProvider(_OnLoopback):
    plugin_class = TGIProvider

    def url(self, server: Any) -> str:
        return server if isinstance(server, str) else server.url

    @pytest.fixture
    def spec(self, tgi: TGIServer) -> ModelSpec:
        return self.spec_for(self.url(tgi))


class TestTritonProvider(_OnLoopback):
    plugin_class = TritonProvider

    def url(self, server: Any) -> str:
        return server if isinstance(server, str) else server.url

    def spec_for(self, base_url: str) -> ModelSpec:
        return ModelSpec(name="conformance", provider="conformance", model="ensemble", base_url=base_url)

    @pytest.fixture
    def spec(self, triton: TritonServer) -> ModelSpec:
        return self.spec_for(self.url(triton))


class _OpenAICompatible(_OnLoopback):
    def url(self, server: Any) -> str:
        return f"{server}/v1" if isinstance(server, str) else server.base_url

    @pytest.fixture
    def spec(self, faults: FaultServer, warm_litellm: None) -> ModelSpec:
        return self.spec_for(self.url(faults))


class TestOpenAICompatibleProvider(_OpenAICompatible):
    plugin_class = OpenAICompatibleProvider


class TestVLLMProvider(_OpenAICompatible):
    plugin_class = VLLMProvider


class TestSGLangProvider(_OpenAICompatible):
    plugin_class = SGLangProvider


class TestTRTLLMProvider(_OpenAICompatible):
    plugin_class = TRTLLMProvider


class TestTGIMessagesProvider(_OpenAICompatible):
    plugin_class = TGIMessagesProvider


class TestOllamaProvider(_OpenAICompatible):
    plugin_class = OllamaProvider


@pytest.mark.integration
class TestLlamaCppServerProvider(_OpenAICompatible):
    """llama-cpp-python's real server (SmolLM2-135M, greedy)."""

    plugin_class = LlamaCppServerProvider
    max_tokens = 6
    concurrent_calls = 3
    large_prompt_words = 600
    spec_fields: ClassVar[dict[str, Any]] = {}

    @pytest.fixture
    def spec(self, llamacpp_server: LlamaCppServer) -> ModelSpec:  # type: ignore[override]
        return self.spec_for(llamacpp_server.base_url)

"""The provider conformance kit against the real vLLM server (``pytest -m engines``)."""

from __future__ import annotations

from typing import ClassVar

import pytest

from fusionsdk.config.models import ModelSpec
from fusionsdk.providers.base import Provider
from fusionsdk.providers.openai_compatible import VLLMProvider
from fusionsdk.testing.conformance import ProviderConformance
from tests.engines.vllm_server import MODEL_NAME
from tests.servers.base import free_port

pytestmark = pytest.mark.engines  # not `integration`: `-m integration` must not start vLLM


class TestVLLMProvider(ProviderConformance):
    """``vllm`` on the real server, greedy (so deterministic), a 2,048-token context."""

    plugin_class = VLLMProvider
    deterministic = True
    max_tokens = 8
    concurrent_calls = 4
    spec_fields: ClassVar[dict[str, object]] = {}

    @pytest.fixture
    def spec(self, vllm_url: str) -> ModelSpec:
        return ModelSpec(
            name="conformance", provider="vllm", model=MODEL_NAME, base_url=f"{vllm_url}/v1", timeout_s=300
        )

    @pytest.fixture
    def failing_plugin(self, spec: ModelSpec) -> Provider:
        dead = spec.model_copy(update={"base_url": f"http://127.0.0.1:{free_port()}/v1"})
        return VLLMProvider(dead, VLLMProvider.Options())

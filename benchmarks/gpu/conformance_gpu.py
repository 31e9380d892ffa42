"""The provider conformance kit against one live GPU engine; run by ``validate.py`` as
``pytest benchmarks/gpu/conformance_gpu.py`` with ``FUSIONSDK_GPU_PROVIDER`` (``tgi``,
``vllm`` or ``trtllm``), ``FUSIONSDK_GPU_BASE_URL`` and ``FUSIONSDK_GPU_MODEL`` set."""

from __future__ import annotations

import os

import pytest

from fusionsdk.config.models import ModelSpec
from fusionsdk.providers.base import Provider
from fusionsdk.registry import PluginKind, default_registry
from fusionsdk.testing.conformance import ProviderConformance

PROVIDER = os.environ.get("FUSIONSDK_GPU_PROVIDER", "")
pytestmark = pytest.mark.skipif(not PROVIDER, reason="run by benchmarks/gpu/validate.py")


class TestGPUEngine(ProviderConformance):
    """One engine, greedy decoding (deterministic), a few concurrent calls."""

    plugin_class = default_registry().get(PluginKind.PROVIDERS, PROVIDER) if PROVIDER else None
    deterministic = True
    max_tokens = 16
    concurrent_calls = 8

    @pytest.fixture
    def spec(self) -> ModelSpec:
        return ModelSpec(
            name="conformance",
            provider=PROVIDER,
            model=os.environ["FUSIONSDK_GPU_MODEL"],
            base_url=os.environ["FUSIONSDK_GPU_BASE_URL"],
            timeout_s=120,
        )

    @pytest.fixture
    def failing_plugin(self, spec: ModelSpec) -> Provider:
        cls = self._required_class()
        dead = spec.model_copy(
            update={"base_url": "http://127.0.0.1:9" + ("/v1" if PROVIDER != "tgi" else "")}
        )
        return cls(dead, cls.Options())

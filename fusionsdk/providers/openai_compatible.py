"""Local GPU servers that speak the OpenAI API, each a named provider.

They differ only in class attributes: LiteLLM's ``openai/`` client does the talking, against the
spec's ``base_url`` (which must include ``/v1``), with no key unless ``api_key_env`` names one.

========================  =====================================  =================================
provider                  server                                 usual base_url
========================  =====================================  =================================
``vllm``                  ``vllm serve``                         ``http://127.0.0.1:8000/v1``
``sglang``                ``python -m sglang.launch_server``     ``http://127.0.0.1:30000/v1``
``llamacpp_server``       ``llama-server`` / ``llama_cpp.server````http://127.0.0.1:8080/v1``
``ollama``                ``ollama serve``                       ``http://127.0.0.1:11434/v1``
``trtllm``                ``trtllm-serve``                       ``http://127.0.0.1:8000/v1``
``tgi_messages``          TGI's Messages API                     ``http://127.0.0.1:8080/v1``
``openai_compatible``     any other OpenAI-compatible server     (required)
========================  =====================================  =================================
"""

from __future__ import annotations

from typing import ClassVar

from fusionsdk.config.models import Locality
from fusionsdk.providers.litellm_provider import LiteLLMProvider

__all__ = [
    "LlamaCppServerProvider",
    "OllamaProvider",
    "OpenAICompatibleProvider",
    "SGLangProvider",
    "TGIMessagesProvider",
    "TRTLLMProvider",
    "VLLMProvider",
]


class OpenAICompatibleProvider(LiteLLMProvider):
    """Any server with ``/v1/chat/completions``; ``base_url`` ends in ``/v1``."""

    default_locality: ClassVar[Locality] = "hosted"
    locality_by_host: ClassVar[bool] = True
    requires_base_url: ClassVar[bool] = True
    litellm_prefix: ClassVar[str] = "openai/"
    probe_path: ClassVar[str | None] = "/models"
    drop_params: ClassVar[bool] = False
    #: Load metrics under ``base_url`` less ``/v1`` (read by the balance router); None: none.
    metrics_path: ClassVar[str | None] = None

    def _api_key(self) -> str | None:
        # The openai client insists on some key; local servers ignore it.
        return super()._api_key() or "no-key"


class VLLMProvider(OpenAICompatibleProvider):
    """vLLM's OpenAI-compatible server (``vllm serve MODEL``)."""

    metrics_path: ClassVar[str | None] = "/metrics"


class SGLangProvider(OpenAICompatibleProvider):
    """SGLang's OpenAI-compatible server (metrics with ``--enable-metrics``)."""

    metrics_path: ClassVar[str | None] = "/metrics"


class LlamaCppServerProvider(OpenAICompatibleProvider):
    """llama.cpp's ``llama-server`` or llama-cpp-python's ``python -m llama_cpp.server``."""

    metrics_path: ClassVar[str | None] = "/metrics"  # llama-server --metrics


class OllamaProvider(OpenAICompatibleProvider):
    """Ollama's OpenAI-compatible endpoint (``http://127.0.0.1:11434/v1``)."""


class TRTLLMProvider(OpenAICompatibleProvider):
    """NVIDIA TensorRT-LLM's ``trtllm-serve`` (OpenAI-compatible). For TensorRT-LLM behind
    Triton Inference Server use the ``triton`` provider."""

    metrics_path: ClassVar[str | None] = "/metrics"  # JSON iteration stats


class TGIMessagesProvider(OpenAICompatibleProvider):
    """Hugging Face TGI's Messages API (``/v1/chat/completions``); ``tgi`` uses ``/generate``."""

    metrics_path: ClassVar[str | None] = "/metrics"

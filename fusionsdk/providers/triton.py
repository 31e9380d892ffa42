"""TensorRT-LLM behind NVIDIA Triton Inference Server, through Triton's generate extension.

``POST /v2/models/{model}/generate`` with ``{"text_input", "max_tokens", ...}`` returning
``{"text_output"}``, and ``/generate_stream`` (SSE). For ``trtllm-serve``'s OpenAI-compatible
server use the ``trtllm`` provider instead.

Config::

    trt: {provider: triton, base_url: "http://127.0.0.1:8000", model: ensemble}
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel

from fusionsdk.config.models import ModelSpec
from fusionsdk.providers.base import (
    CompletionRequest,
    Provider,
    ProviderResponse,
    Reachability,
    StreamChunk,
)
from fusionsdk.providers.http import (
    LoopLocalClient,
    error_for_response,
    http_endpoint,
    iter_sse,
    map_transport_error,
    probe_deployment,
)
from fusionsdk.providers.prompt import render_transcript
from fusionsdk.providers.secrets import api_key

__all__ = ["TritonProvider"]


class TritonProvider(Provider):
    """Triton's ``/v2/models/{model}/generate`` (TensorRT-LLM's ``ensemble`` model by default)."""

    requires_base_url: ClassVar[bool] = True
    locality_by_host: ClassVar[bool] = True
    supports_unix_socket: ClassVar[bool] = True

    def __init__(self, spec: ModelSpec, options: BaseModel | None = None) -> None:
        super().__init__(spec, options)
        assert spec.base_url is not None  # requires_base_url
        self._base, self._uds = http_endpoint(spec.base_url)
        self._http = LoopLocalClient(spec.timeout_s, uds=self._uds)
        self._url = f"{self._base}/v2/models/{spec.model or 'ensemble'}"

    def _headers(self) -> dict[str, str]:
        key = api_key(self.spec)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _body(self, request: CompletionRequest, stream: bool) -> dict[str, Any]:
        params = request.params
        body: dict[str, Any] = {
            "text_input": render_transcript(request.messages),
            "max_tokens": params.max_tokens or 512,
            "stream": stream,
        }
        if params.temperature is not None:
            body["temperature"] = params.temperature
        if params.top_p is not None:
            body["top_p"] = params.top_p
        if params.stop:
            body["stop_words"] = params.stop
        if params.seed is not None:
            body["random_seed"] = params.seed
        body.update(params.extra)
        return body

    async def complete(self, request: CompletionRequest) -> ProviderResponse:
        try:
            response = await self._http.get().post(
                f"{self._url}/generate", json=self._body(request, False), headers=self._headers()
            )
            if not response.is_success:
                raise error_for_response(response, response.content)
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise map_transport_error(exc) from None
        return ProviderResponse(
            text=str(data.get("text_output", "")),
            finish_reason="stop",
            backend_model=data.get("model_name"),
        )

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamChunk]:
        try:
            async with self._http.get().stream(
                "POST",
                f"{self._url}/generate_stream",
                json=self._body(request, True),
                headers=self._headers(),
            ) as response:
                if not response.is_success:
                    raise error_for_response(response, await response.aread())
                async for event in iter_sse(response):
                    yield StreamChunk(text=str(event.get("text_output", "")))
            yield StreamChunk(finish_reason="stop")
        except (httpx.HTTPError, ValueError) as exc:
            raise map_transport_error(exc) from None

    async def reachability(self) -> Reachability:
        """GET ``/v2/health/ready``."""
        return await probe_deployment(self.spec, f"{self._base}/v2/health/ready", uds=self._uds)

    async def aclose(self) -> None:
        await self._http.aclose()

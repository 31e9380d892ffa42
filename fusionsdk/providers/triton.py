"""TensorRT-LLM behind NVIDIA Triton Inference Server, through Triton's generate extension.

``POST /v2/models/{model}/generate`` with ``{"text_input", "max_tokens", ...}`` returning
``{"model_name", "model_version", "text_output"}``, and ``/generate_stream`` (SSE, one such object
per event; an ``{"error"}`` event may arrive after a 200). Top-level keys other than
``text_input``/``parameters`` are the ensemble's input tensors, so sampling settings go there
under the ensemble's names (``max_tokens``, ``temperature``, ``top_p``, ``stop_words``,
``random_seed``, ``stream``, ``exclude_input_in_output``). For ``trtllm-serve``'s
OpenAI-compatible server use the ``trtllm`` provider instead.

TensorRT-LLM's ``ensemble`` returns the prompt followed by the completion unless the request sets
``exclude_input_in_output: true``, so every request sets it. Ensembles older than that input
refuse it ("unexpected inference input"); the provider then resends without it, remembers that,
and strips the echoed prompt itself. The strip is applied to every answer anyway (an answer that
starts with the exact prompt lost nothing real), streamed answers included.

Config::

    trt: {provider: triton, base_url: "http://127.0.0.1:8000", model: ensemble}
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel

from fusionsdk.config.models import ModelSpec
from fusionsdk.errors import ProviderUnavailable
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

__all__ = ["EchoStripper", "TritonProvider"]

#: Triton's words when a model lacks an input (an ensemble older than ``exclude_input_in_output``).
_UNEXPECTED_INPUT = "unexpected inference input 'exclude_input_in_output'"


class EchoStripper:
    """Removes ``prompt`` from the start of a streamed answer, holding text back only while it
    could still be the echo.

    Example:
        >>> strip = EchoStripper("Q: hi")
        >>> [strip.feed(p) for p in ["Q:", " hi", " Hello"]] + [strip.finish()]
        ['', '', ' Hello', '']
    """

    def __init__(self, prompt: str) -> None:
        self.prompt = prompt
        self._held = ""
        self._decided = not prompt

    def feed(self, piece: str) -> str:
        """The text of ``piece`` to pass on now."""
        if self._decided:
            return piece
        self._held += piece
        if self._held.startswith(self.prompt):
            self._decided = True
            return self._held[len(self.prompt) :]
        if self.prompt.startswith(self._held):
            return ""  # still possibly the echo: hold it
        self._decided = True
        return self._held

    def finish(self) -> str:
        """What is still held at the end (a reply shorter than the prompt is not an echo)."""
        held, self._held = ("" if self._decided else self._held), ""
        self._decided = True
        return held

    def strip(self, text: str) -> str:
        """``text`` without the echoed prompt (for a whole answer)."""
        return self.feed(text) + self.finish()


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
        #: False once the server refused ``exclude_input_in_output`` (an older ensemble).
        self.excludes_input = True

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
        if self.excludes_input:
            body["exclude_input_in_output"] = True
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

    def _refused_exclude(self, response: httpx.Response, body: bytes) -> bool:
        """True (and stop sending the input) when an older ensemble refused it."""
        refused = response.status_code == 400 and _UNEXPECTED_INPUT in body.decode("utf-8", "replace")
        if self.excludes_input and refused:
            self.excludes_input = False
            return True
        return False

    async def complete(self, request: CompletionRequest) -> ProviderResponse:
        try:
            for _ in range(2):  # a second time only without exclude_input_in_output
                body = self._body(request, False)
                response = await self._http.get().post(
                    f"{self._url}/generate", json=body, headers=self._headers()
                )
                if response.is_success or not self._refused_exclude(response, response.content):
                    break
            if not response.is_success:
                raise error_for_response(response, response.content)
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise map_transport_error(exc) from None
        if not isinstance(data, dict) or not isinstance(data.get("text_output"), str):
            raise ProviderUnavailable(f"Triton answered without a text_output: {str(data)[:200]}")
        return ProviderResponse(
            text=EchoStripper(body["text_input"]).strip(data["text_output"]),
            finish_reason="stop",
            backend_model=data.get("model_name"),
        )

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamChunk]:
        for attempt in range(2):
            body = self._body(request, True)
            echo = EchoStripper(body["text_input"])
            try:
                async with self._http.get().stream(
                    "POST", f"{self._url}/generate_stream", json=body, headers=self._headers()
                ) as response:
                    if not response.is_success:
                        content = await response.aread()
                        if attempt == 0 and self._refused_exclude(response, content):
                            continue
                        raise error_for_response(response, content)
                    async for event in iter_sse(response):
                        text = echo.feed(str(event.get("text_output", "")))
                        if text:
                            yield StreamChunk(text=text)
                rest = echo.finish()
                yield StreamChunk(text=rest, finish_reason="stop")
                return
            except (httpx.HTTPError, ValueError) as exc:
                raise map_transport_error(exc) from None

    async def reachability(self) -> Reachability:
        """GET ``/v2/health/ready``."""
        return await probe_deployment(self.spec, f"{self._base}/v2/health/ready", uds=self._uds)

    async def aclose(self) -> None:
        await self._http.aclose()

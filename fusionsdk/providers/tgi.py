"""Hugging Face Text Generation Inference through its native API.

``POST /generate`` and ``POST /generate_stream`` (SSE) with ``details: true``, so every token
comes back with its log-probability (and, with ``top_logprobs``, the ``top_n_tokens``
alternatives). ``response_format`` becomes TGI's JSON ``grammar``; tools need the Messages API
(``tgi_messages``), which maps them itself. Requests follow TGI's OpenAPI spec: ``temperature``
must be above 0 (0 means greedy, so it is left out), at most 4 stop sequences, ``seed`` above 0. For TGI's
OpenAI-style Messages API use the ``tgi_messages`` provider.

Config::

    tgi: {provider: tgi, base_url: "http://127.0.0.1:8080"}
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field

from fusionsdk.config.models import ModelSpec
from fusionsdk.errors import BadRequest
from fusionsdk.providers.base import (
    CompletionRequest,
    Provider,
    ProviderResponse,
    Reachability,
    StreamChunk,
    TokenLogprob,
    Usage,
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

__all__ = ["TGIProvider"]

_FINISH = {"eos_token": "stop", "stop_sequence": "stop", "length": "length"}
MAX_STOP_SEQUENCES = 4


class TGIProvider(Provider["TGIProvider.Options"]):
    """TGI's native ``/generate`` API with token details."""

    requires_base_url: ClassVar[bool] = True
    locality_by_host: ClassVar[bool] = True
    supports_unix_socket: ClassVar[bool] = True
    #: Prometheus metrics (``tgi_queue_size``, ...) under ``base_url``, read by the balance router.
    metrics_path: ClassVar[str | None] = "/metrics"

    class Options(BaseModel):
        """TGI options."""

        model_config = ConfigDict(extra="forbid")

        default_max_new_tokens: int = Field(512, gt=0)

    def __init__(self, spec: ModelSpec, options: BaseModel | None = None) -> None:
        super().__init__(spec, options)
        assert spec.base_url is not None  # requires_base_url
        self._base, self._uds = http_endpoint(spec.base_url)
        self._http = LoopLocalClient(spec.timeout_s, uds=self._uds)

    def _headers(self) -> dict[str, str]:
        key = api_key(self.spec)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _body(self, request: CompletionRequest) -> dict[str, Any]:
        params = request.params
        parameters: dict[str, Any] = {
            "details": True,
            "max_new_tokens": params.max_tokens or self.options.default_max_new_tokens,
        }
        if params.temperature:
            parameters.update(temperature=params.temperature, do_sample=True)
        if params.top_p is not None and params.top_p < 1:
            parameters["top_p"] = params.top_p
        if params.stop:
            if len(params.stop) > MAX_STOP_SEQUENCES:
                raise BadRequest(f"TGI accepts at most {MAX_STOP_SEQUENCES} stop sequences")
            parameters["stop"] = params.stop
        if params.seed:
            parameters["seed"] = params.seed
        if params.top_logprobs:
            parameters["top_n_tokens"] = params.top_logprobs
        if request.tools:  # /generate has no tools; the Messages API maps them to its grammar
            raise BadRequest("TGI's /generate API takes no tools: use provider tgi_messages for tool calling")
        if request.response_format is not None:
            schema = _schema(request.response_format)
            parameters["grammar"] = {"type": "json", "value": schema or {"type": "object"}}
        parameters.update(params.extra)
        return {"inputs": render_transcript(request.messages), "parameters": parameters}

    async def complete(self, request: CompletionRequest) -> ProviderResponse:
        body = self._body(request)
        try:
            response = await self._http.get().post(
                f"{self._base}/generate", json=body, headers=self._headers()
            )
            if not response.is_success:
                raise error_for_response(response, response.content)
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise map_transport_error(exc) from None
        details = data.get("details") or {}
        tokens = details.get("tokens") or []
        logprobs = _token_logprobs(tokens, details.get("top_tokens")) if tokens else None
        usage = None
        if "generated_tokens" in details:
            prompt_tokens = (
                len(details["prefill"]) if details.get("prefill") else self.count_tokens(body["inputs"])
            )
            usage = Usage(prompt_tokens, int(details["generated_tokens"]))
        return ProviderResponse(
            text=data.get("generated_text", ""),
            finish_reason=_FINISH.get(details.get("finish_reason", ""), details.get("finish_reason")),
            usage=usage,
            logprobs=logprobs,
        )

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamChunk]:
        body = self._body(request)
        client = self._http.get()
        try:
            async with client.stream(
                "POST", f"{self._base}/generate_stream", json=body, headers=self._headers()
            ) as response:
                if not response.is_success:
                    raise error_for_response(response, await response.aread())
                async for event in iter_sse(response):
                    yield _stream_chunk(event)
        except (httpx.HTTPError, ValueError) as exc:
            raise map_transport_error(exc) from None

    async def reachability(self) -> Reachability:
        """GET ``/health``."""
        return await probe_deployment(self.spec, f"{self._base}/health", uds=self._uds)

    async def aclose(self) -> None:
        await self._http.aclose()


def _schema(response_format: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON Schema inside an OpenAI ``response_format`` (TGI's JSON grammar takes it)."""
    inner = response_format.get("json_schema")
    if isinstance(inner, dict):
        return inner.get("schema")
    return response_format.get("schema")


def _token_logprobs(
    tokens: list[dict[str, Any]], top: list[list[dict[str, Any]]] | None
) -> tuple[TokenLogprob, ...]:
    alternatives = top or [[] for _ in tokens]
    return tuple(
        TokenLogprob(
            token=t["text"],
            logprob=float(t.get("logprob") or 0.0),
            top=tuple((a["text"], float(a.get("logprob") or 0.0)) for a in alts),
        )
        for t, alts in zip(tokens, alternatives, strict=False)
        if not t.get("special")  # end-of-sequence and other special tokens are not in the text
    )


def _stream_chunk(event: dict[str, Any]) -> StreamChunk:
    token = event.get("token") or {}
    details = event.get("details")
    text = "" if token.get("special") else token.get("text", "")
    logprob = _token_logprobs([token], [event.get("top_tokens") or []]) if token else None
    if not details:
        return StreamChunk(text=text, logprobs=logprob)
    usage = Usage(int(details.get("input_length", 0)), int(details.get("generated_tokens", 0)))
    finish = _FINISH.get(details.get("finish_reason", ""), details.get("finish_reason"))
    return StreamChunk(text=text, finish_reason=finish, usage=usage, logprobs=logprob)

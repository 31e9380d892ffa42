"""Hosted models (OpenAI, Anthropic, Gemini, Mistral, Cohere, ...) and any OpenAI-compatible
server, through LiteLLM.

``{provider: litellm, model: openai/gpt-4o, api_key_env: OPENAI_API_KEY}`` calls the hosted API;
the OpenAI-compatible local servers (vLLM, SGLang, llama.cpp's server, Ollama, trtllm-serve, TGI's
Messages API) are small subclasses that only change class attributes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any, ClassVar

from fusionsdk.config.models import Locality
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
from fusionsdk.providers.litellm_boundary import litellm, map_litellm_error
from fusionsdk.providers.secrets import api_key
from fusionsdk.providers.tool_calls import openai_deltas, parse_openai_tool_calls, tool_choice_openai

__all__ = ["LiteLLMProvider", "parse_logprobs", "trim_to_text"]


def parse_logprobs(choice: Any) -> tuple[TokenLogprob, ...] | None:
    """Read OpenAI-style ``choice.logprobs.content`` into TokenLogprob objects."""
    logprobs = _get(choice, "logprobs")
    content = _get(logprobs, "content") if logprobs is not None else None
    if not content:
        return None
    return tuple(
        TokenLogprob(
            token=_get(item, "token") or "",
            logprob=float(_get(item, "logprob") or 0.0),
            top=tuple(
                (_get(t, "token") or "", float(_get(t, "logprob") or 0.0))
                for t in (_get(item, "top_logprobs") or ())
            ),
        )
        for item in content
    )


def trim_to_text(logprobs: tuple[TokenLogprob, ...] | None, text: str) -> tuple[TokenLogprob, ...] | None:
    """Drop trailing tokens past ``text``: servers such as vLLM report the end-of-sequence token
    (``<|im_end|>``) in the log-probabilities though it is not in the answer's text."""
    if not logprobs:
        return logprobs
    joined = "".join(t.token for t in logprobs)
    if joined == text or not joined.startswith(text):
        return logprobs
    kept = list(logprobs)
    while kept and len(joined) > len(text):
        joined = joined[: len(joined) - len(kept.pop().token)]
    return tuple(kept) or None


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def _usage(raw: Any) -> Usage | None:
    if raw is None or _get(raw, "prompt_tokens") is None:
        return None
    return Usage(int(_get(raw, "prompt_tokens") or 0), int(_get(raw, "completion_tokens") or 0))


class LiteLLMProvider(Provider):
    """Any model LiteLLM can call; ``model`` is LiteLLM's ``provider/model`` id."""

    default_locality: ClassVar[Locality] = "hosted"
    #: Prefix LiteLLM needs to pick its client (``openai/`` for OpenAI-compatible servers).
    litellm_prefix: ClassVar[str] = ""
    #: Path appended to ``base_url`` for the cheap reachability probe (None: no probe).
    probe_path: ClassVar[str | None] = None
    #: Let LiteLLM drop parameters a hosted API does not take. With it on, LiteLLM also re-sends
    #: a request that got a 422 (a retry outside ours), so servers we address directly get it off.
    drop_params: ClassVar[bool] = True

    async def prepare(self) -> None:
        """Import LiteLLM (seconds, once per process) in a worker thread."""
        import asyncio

        await asyncio.to_thread(litellm)

    def _model_id(self) -> str:
        return f"{self.litellm_prefix}{self.spec.model or self.spec.name}"

    def _api_key(self) -> str | None:
        return api_key(self.spec)

    def _call_args(self, request: CompletionRequest) -> dict[str, Any]:
        params: GenerationParams = request.params
        args: dict[str, Any] = {
            "model": self._model_id(),
            "messages": request.messages,
            "timeout": self.spec.timeout_s,
            "num_retries": 0,
            "max_retries": 0,
            "drop_params": self.drop_params,
        }
        if self.spec.base_url:
            args["api_base"] = self.spec.base_url
        key = self._api_key()
        if key:
            args["api_key"] = key
        for name in ("max_tokens", "temperature", "top_p", "stop", "seed"):
            value = getattr(params, name)
            if value is not None:
                args[name] = value
        if params.logprobs:
            args["logprobs"] = True
            if params.top_logprobs:
                args["top_logprobs"] = params.top_logprobs
        if request.tools:
            args["tools"] = [tool.to_openai() for tool in request.tools]
            if request.tool_choice is not None:
                args["tool_choice"] = tool_choice_openai(request.tool_choice)
        if request.response_format is not None:
            args["response_format"] = request.response_format
        args.update(params.extra)
        return args

    async def complete(self, request: CompletionRequest) -> ProviderResponse:
        args = self._call_args(request)
        try:
            response = await litellm().acompletion(**args)
        except Exception as exc:
            raise map_litellm_error(exc, self.spec.base_url) from None
        choice = response.choices[0]
        text = choice.message.content or ""
        return ProviderResponse(
            text=text,
            finish_reason=choice.finish_reason,
            usage=_usage(getattr(response, "usage", None)),
            logprobs=trim_to_text(parse_logprobs(choice), text),
            backend_model=getattr(response, "model", None),
            tool_calls=parse_openai_tool_calls(getattr(choice.message, "tool_calls", None)),
        )

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamChunk]:
        args = self._call_args(request)
        args.update(stream=True, stream_options={"include_usage": True})
        # The chunk that finishes is held back until the stream ends: servers (vLLM) send the
        # usage in a chunk of its own after it, and finish_reason must come last.
        finished: StreamChunk | None = None
        try:
            stream = await litellm().acompletion(**args)
            if self.spec.base_url is not None:  # a server of ours: its answer must be a stream
                from fusionsdk.providers.http import check_event_stream

                headers = (getattr(stream, "_hidden_params", None) or {}).get("additional_headers") or {}
                check_event_stream(headers.get("llm_provider-content-type"))
            async for chunk in stream:
                choices = getattr(chunk, "choices", None) or []
                usage = _usage(getattr(chunk, "usage", None))
                if not choices:
                    if finished is not None and usage:
                        finished = replace(finished, usage=usage)
                    elif usage:
                        yield StreamChunk(usage=usage)
                    continue
                choice = choices[0]
                text = _get(_get(choice, "delta"), "content") or ""
                finish_reason = _get(choice, "finish_reason")
                logprobs = parse_logprobs(choice)
                if finished is not None:  # a server that goes on after finishing: pass it on
                    yield replace(finished, finish_reason=None)
                    finished = None
                piece = StreamChunk(
                    text=text,
                    finish_reason=finish_reason,
                    usage=usage,
                    logprobs=trim_to_text(logprobs, text) if finish_reason else logprobs,
                    tool_calls=openai_deltas(_get(_get(choice, "delta"), "tool_calls")),
                )
                if finish_reason:
                    finished = piece
                else:
                    yield piece
        except Exception as exc:
            raise map_litellm_error(exc, self.spec.base_url) from None
        if finished is not None:
            yield finished

    def cost_usd(self, usage: Usage) -> float | None:
        """The spec's prices, else LiteLLM's bundled price map, else 0 (local) or unknown."""
        if self.spec.prices is not None or self.locality == "local":
            return super().cost_usd(usage)
        try:
            prompt, completion = litellm().cost_per_token(
                model=self._model_id(),
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
            )
        except Exception:  # LiteLLM raises plain Exception for unmapped models
            return None
        return float(prompt + completion)

    async def reachability(self) -> Reachability:
        """Hosted: whether the key is set (no call is made). Served: GET ``base_url + probe``."""
        if self.spec.api_key_env and api_key(self.spec, required=False) is None:
            return Reachability("missing-key", f"set {self.spec.api_key_env}")
        if self.probe_path is None or self.spec.base_url is None:
            return Reachability("not-probed", "hosted API; key present" if self.spec.api_key_env else "")
        from fusionsdk.providers.http import probe

        return await probe(self.spec.base_url + self.probe_path, self._api_key())

"""The ``langchain`` provider: a LangChain chat model as a fusionsdk model.

Config::

    models:
      claude:
        provider: langchain
        model: "langchain_anthropic:ChatAnthropic"
        options: {kwargs: {model: claude-sonnet-4-5, max_tokens: 512}}

``model`` is ``module:Class``; the class must be a LangChain ``BaseChatModel``, and its module
must be a ``langchain_*`` package or start with a prefix listed in ``FUSIONSDK_LANGCHAIN_MODULES``
(a config file never imports arbitrary code). ``kwargs`` go to the class. Tool calls and
streaming map both ways; sampling parameters other than ``stop`` are set in ``kwargs``, since
LangChain has no common way to pass them per call. Errors become
:class:`~fusionsdk.errors.ProviderError` subclasses here.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from fusionsdk.config.models import Locality, ModelSpec
from fusionsdk.errors import BadRequest, ConfigError, ProviderError, ProviderUnavailable
from fusionsdk.providers.base import (
    CompletionRequest,
    Provider,
    ProviderResponse,
    StreamChunk,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from fusionsdk.providers.secrets import redact
from fusionsdk.providers.tool_calls import tool_choice_openai
from fusionsdk.settings import load_settings

__all__ = ["LangChainProvider", "load_chat_class"]

_ALWAYS = ("langchain_", "langchain.")


def load_chat_class(target: str) -> type[Any]:
    """Import ``module:Class`` if the module is allowed and the class is a chat model.

    Raises:
        ConfigError: Not ``module:Class``, a module outside the allow-list, not importable,
            or not a ``BaseChatModel``.
    """
    from langchain_core.language_models import BaseChatModel

    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(
            f"model must be 'module:Class' for provider langchain, not {target!r}", path="model"
        )
    extra = tuple(p.strip() for p in load_settings().langchain_modules.split(",") if p.strip())
    if not module_name.startswith(_ALWAYS + extra):
        raise ConfigError(
            f"module '{module_name}' is not allowed for provider langchain: langchain_* packages are; "
            "add a prefix to FUSIONSDK_LANGCHAIN_MODULES to allow others",
            path="model",
        )
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"cannot import {target}: {err}", path="model") from None
    if not (isinstance(obj, type) and issubclass(obj, BaseChatModel)):
        raise ConfigError(f"{target} is not a LangChain BaseChatModel", path="model")
    return obj


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = [p.get("text", "") if isinstance(p, dict) else str(p) for p in content or ()]
    return "".join(parts)


def _usage(message: Any) -> Usage | None:
    usage = getattr(message, "usage_metadata", None)
    if not usage:
        return None
    return Usage(int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)))


def _error(exc: Exception) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    message = redact(f"{type(exc).__name__}: {exc}")[:500]
    return BadRequest(message) if isinstance(exc, ValueError | TypeError) else ProviderUnavailable(message)


class LangChainProvider(Provider):
    """Any LangChain ``BaseChatModel``, built from ``model: module:Class`` and ``kwargs``."""

    default_locality: ClassVar[Locality] = "hosted"  # unknown: say local in the spec if it is

    class Options(BaseModel):
        """LangChain provider options.

        Attributes:
            kwargs: Keyword arguments of the chat model class.
        """

        model_config = ConfigDict(extra="forbid")

        kwargs: dict[str, Any] = Field(default_factory=dict)

    def __init__(self, spec: ModelSpec, options: BaseModel | None = None) -> None:
        super().__init__(spec, options)
        self._chat_class = load_chat_class(spec.model or "")
        self._chat: Any = None

    async def prepare(self) -> None:
        """Build the chat model (some clients read keys or open pools when built)."""
        try:
            self._chat = self._chat_class(**self.options.kwargs)  # type: ignore[attr-defined]
        except Exception as exc:  # a pydantic error from the class's own validation
            raise ConfigError(
                f"{self.spec.model}: {exc}", path=f"models.{self.spec.name}.options.kwargs"
            ) from None

    def _runnable(self, request: CompletionRequest) -> Any:
        chat = self._chat
        if request.tools:
            kwargs: dict[str, Any] = {}
            if request.tool_choice is not None:
                kwargs["tool_choice"] = tool_choice_openai(request.tool_choice)
            chat = chat.bind_tools([t.to_openai() for t in request.tools], **kwargs)
        if request.response_format is not None:
            chat = chat.bind(response_format=request.response_format)
        return chat

    def _input(self, request: CompletionRequest) -> Any:
        from langchain_core.messages import convert_to_messages

        return convert_to_messages(request.messages)

    async def complete(self, request: CompletionRequest) -> ProviderResponse:
        if self._chat is None:
            await self.prepare()
        try:
            message = await self._runnable(request).ainvoke(self._input(request), stop=request.params.stop)
        except Exception as exc:
            raise _error(exc) from None
        calls = tuple(
            ToolCall(c.get("id") or f"call_{i}", c["name"], dict(c.get("args") or {}))
            for i, c in enumerate(getattr(message, "tool_calls", None) or ())
        )
        metadata = getattr(message, "response_metadata", None) or {}
        return ProviderResponse(
            text=_text(message.content),
            finish_reason="tool_calls" if calls else metadata.get("finish_reason", "stop"),
            usage=_usage(message),
            backend_model=metadata.get("model_name") or metadata.get("model"),
            tool_calls=calls,
        )

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamChunk]:
        if self._chat is None:
            await self.prepare()
        calls = False
        try:
            async for chunk in self._runnable(request).astream(
                self._input(request), stop=request.params.stop
            ):
                deltas = tuple(
                    ToolCallDelta(int(c.get("index") or 0), c.get("id"), c.get("name"), c.get("args") or "")
                    for c in getattr(chunk, "tool_call_chunks", None) or ()
                )
                calls = calls or bool(deltas)
                yield StreamChunk(text=_text(chunk.content), usage=_usage(chunk), tool_calls=deltas)
        except Exception as exc:
            raise _error(exc) from None
        yield StreamChunk(finish_reason="tool_calls" if calls else "stop")

"""OpenAI wire formats: the requests the server accepts and the bodies it returns.

Requests are validated with pydantic (unknown fields are kept and ignored, as OpenAI's own server
does for fields it does not know); responses are plain dicts built by the functions below, so
streaming stays cheap. ``tools``, ``tool_choice`` and ``response_format`` are read into the
adapter's own types (:class:`~fusionsdk.providers.base.ToolSpec`, a tool name,
:class:`~fusionsdk.providers.structured.ResponseFormat`); tool calls go back out in OpenAI's form.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fusionsdk.errors import FusionError
from fusionsdk.providers.base import ToolCall, ToolChoice, ToolSpec
from fusionsdk.providers.structured import ResponseFormat
from fusionsdk.providers.tool_calls import coerce_tools
from fusionsdk.serve.errors import ApiError

__all__ = [
    "ChatMessage",
    "ChatRequest",
    "Choice",
    "EmbeddingsRequest",
    "StreamOptions",
    "ToolParam",
    "chat_chunk",
    "chat_response",
    "encode_embedding",
    "structured_text",
    "usage_dict",
]


class ChatMessage(BaseModel):
    """One message; ``content`` is a string or a list of parts (text parts are kept)."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None

    def as_message(self) -> dict[str, Any]:
        """The message as the adapter takes it (text parts joined; other parts dropped; an
        assistant turn's ``tool_calls`` and a tool reply's ``tool_call_id`` kept)."""
        content = self.content
        if isinstance(content, list):
            content = "".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
        message: dict[str, Any] = {"role": self.role, "content": content or ""}
        if self.name:
            message["name"] = self.name
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        return message


class FunctionParam(BaseModel):
    """A function tool's ``function`` part."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] | None = None


class ToolParam(BaseModel):
    """One entry of ``tools``: ``{"type": "function", "function": {...}}``."""

    model_config = ConfigDict(extra="allow")

    type: Literal["function"] = "function"
    function: FunctionParam


class StreamOptions(BaseModel):
    """``stream_options``: ``include_usage`` adds a last chunk with the usage."""

    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatRequest(BaseModel):
    """``POST /v1/chat/completions``."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1, le=16)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, gt=0)
    max_completion_tokens: int | None = Field(None, gt=0)
    stop: str | list[str] | None = None
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    tools: list[ToolParam] | None = None
    tool_choice: str | dict[str, Any] | None = None
    user: str | None = None

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > 4:
            raise ValueError("at most 4 stop sequences")
        return value

    def params(self) -> dict[str, Any]:
        """Generation parameters for :meth:`Model.acomplete`."""
        params: dict[str, Any] = {}
        max_tokens = self.max_completion_tokens or self.max_tokens
        for name, value in (
            ("max_tokens", max_tokens),
            ("temperature", self.temperature),
            ("top_p", self.top_p),
            ("seed", self.seed),
        ):
            if value is not None:
                params[name] = value
        if self.stop is not None:
            params["stop"] = [self.stop] if isinstance(self.stop, str) else list(self.stop)
        return params

    @property
    def asks_for_tools_or_format(self) -> bool:
        """Whether the request offers tools or asks for JSON (what only models can do)."""
        return bool(self.tools) or self.structured() is not None

    def tool_specs(self) -> tuple[ToolSpec, ...]:
        """``tools`` as the adapter's specs.

        Raises:
            ApiError: 400 for a tool name the OpenAI schema does not allow.
        """
        try:
            return coerce_tools([tool.model_dump(exclude_none=True) for tool in self.tools or ()])
        except FusionError as err:
            raise ApiError(400, f"tools: {err}", param="tools", code="invalid_request") from None

    def tool_choice_name(self) -> ToolChoice | None:
        """``tool_choice`` as the adapter takes it: ``auto``, ``none``, ``required`` or a name.

        Raises:
            ApiError: 400 for a malformed choice, or a named tool not in ``tools``.
        """
        choice = self.tool_choice
        if choice is None or choice in ("auto", "none", "required"):
            return choice
        function = choice.get("function") if isinstance(choice, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if (
            not isinstance(choice, dict)
            or choice.get("type") != "function"
            or not isinstance(name, str)
            or not name
        ):
            raise ApiError(
                400,
                'tool_choice must be auto, none, required or {"type": "function", "function": {"name": ...}}',
                param="tool_choice",
                code="invalid_request",
            )
        if name not in {tool.function.name for tool in self.tools or ()}:
            raise ApiError(400, f"tool_choice names {name!r}, which is not in tools", param="tool_choice")
        return name

    def structured(self) -> ResponseFormat | None:
        """``response_format`` as the adapter's :class:`ResponseFormat` (None for plain text).

        Raises:
            ApiError: 400 for a format that is neither ``text``, ``json_object`` nor ``json_schema``.
        """
        if self.response_format is None or self.response_format.get("type") == "text":
            return None
        if self.response_format.get("type") not in ("json_object", "json_schema"):
            raise ApiError(
                400,
                "response_format.type must be text, json_object or json_schema",
                param="response_format",
                code="invalid_request",
            )
        try:
            return ResponseFormat.of(self.response_format)
        except FusionError as err:
            raise ApiError(400, str(err), param="response_format", code="invalid_request") from None

    def model_options(self) -> dict[str, Any]:
        """Every keyword for :meth:`Model.acomplete` / :meth:`Model.astream`: the generation
        parameters, ``tools``, ``tool_choice`` and ``response_format``."""
        options = self.params()
        tools = self.tool_specs()
        if tools:
            options["tools"] = tools
        choice = self.tool_choice_name()
        if choice is not None:
            options["tool_choice"] = choice
        fmt = self.structured()
        if fmt is not None:
            options["response_format"] = fmt
        return options


@dataclass(frozen=True)
class Choice:
    """One answer of a chat request.

    Attributes:
        text: The reply (with ``response_format``: the validated JSON, re-serialised).
        finish_reason: ``stop``, ``length``, ``tool_calls``, ...
        tool_calls: The tools the model asked to call.
    """

    text: str
    finish_reason: str | None = "stop"
    tool_calls: tuple[ToolCall, ...] = ()

    def message(self) -> dict[str, Any]:
        """The assistant message of a ``chat.completion`` body."""
        if not self.tool_calls:
            return {"role": "assistant", "content": self.text}
        return {
            "role": "assistant",
            "content": self.text or None,
            "tool_calls": [call.to_openai() for call in self.tool_calls],
        }


def structured_text(parsed: Any) -> str:
    """A validated structured reply as compact JSON text (what ``json.loads`` reads back)."""
    data = parsed.model_dump(mode="json") if hasattr(parsed, "model_dump") else parsed
    return json.dumps(data, ensure_ascii=False)


class EmbeddingsRequest(BaseModel):
    """``POST /v1/embeddings``: ``input`` is a string or a list of strings."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"

    def texts(self) -> list[str]:
        """The input as a list."""
        return [self.input] if isinstance(self.input, str) else list(self.input)


def encode_embedding(vector: list[float], encoding_format: str) -> list[float] | str:
    """A vector as JSON floats, or as base64 of little-endian float32 (what the openai client asks)."""
    if encoding_format == "float":
        return vector
    import base64
    import struct

    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def usage_dict(prompt_tokens: int, completion_tokens: int, cost_usd: float | None) -> dict[str, Any]:
    """OpenAI's usage object, with fusionsdk's ``cost_usd`` beside the counts."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "cost_usd": cost_usd,
    }


def chat_response(
    completion_id: str, model: str, choices: list[Choice], usage: dict[str, Any]
) -> dict[str, Any]:
    """A ``chat.completion`` body."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": i,
                "message": choice.message(),
                "finish_reason": choice.finish_reason or "stop",
                "logprobs": None,
            }
            for i, choice in enumerate(choices)
        ],
        "usage": usage,
    }


def chat_chunk(
    completion_id: str,
    model: str,
    created: int,
    *,
    index: int = 0,
    delta: dict[str, Any] | None = None,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``chat.completion.chunk``; with ``usage`` and no delta, the usage-only last chunk."""
    chunk: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": []
        if delta is None and finish_reason is None
        else [{"index": index, "delta": delta or {}, "finish_reason": finish_reason, "logprobs": None}],
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk

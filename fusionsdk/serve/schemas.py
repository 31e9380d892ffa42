"""OpenAI wire formats: the requests the server accepts and the bodies it returns.

Requests are validated with pydantic (unknown fields are kept and ignored, as OpenAI's own server
does for fields it does not know); responses are plain dicts built by the functions below, so
streaming stays cheap.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "ChatMessage",
    "ChatRequest",
    "EmbeddingsRequest",
    "StreamOptions",
    "chat_chunk",
    "chat_response",
    "encode_embedding",
    "usage_dict",
]


class ChatMessage(BaseModel):
    """One message; ``content`` is a string or a list of parts (text parts are kept)."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None

    def as_message(self) -> dict[str, Any]:
        """The message as the adapter takes it (text parts joined; other parts dropped)."""
        content = self.content
        if isinstance(content, list):
            content = "".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
        message: dict[str, Any] = {"role": self.role, "content": content or ""}
        if self.name:
            message["name"] = self.name
        return message


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
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    user: str | None = None

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > 4:
            raise ValueError("at most 4 stop sequences")
        return value

    def params(self) -> dict[str, Any]:
        """Generation parameters for :meth:`Model.acomplete` (``extra`` carries the rest)."""
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
        extra = {
            name: value
            for name, value in (
                ("response_format", self.response_format),
                ("tools", self.tools),
                ("tool_choice", self.tool_choice),
            )
            if value is not None and value != {"type": "text"}
        }
        if extra:
            params["extra"] = extra
        return params


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
    completion_id: str, model: str, choices: list[tuple[str, str | None]], usage: dict[str, Any]
) -> dict[str, Any]:
    """A ``chat.completion`` body from ``(text, finish_reason)`` per choice."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish or "stop",
                "logprobs": None,
            }
            for i, (text, finish) in enumerate(choices)
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

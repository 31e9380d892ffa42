"""An OpenAI-compatible server that misbehaves on a script, for reliability tests.

``POST /v1/chat/completions`` takes the next step of the script of the requested model (the
body's ``model``; ``*`` is every model's fallback script) and acts it out; with no step left it
answers normally. Steps:

========================  ==================================================================
step                      what the client sees
========================  ==================================================================
:class:`Reply`            a normal answer (or SSE stream), with usage and logprobs if asked
:class:`Fail`             an HTTP error with an OpenAI-style error body (and headers)
:class:`Hang`             nothing for ``seconds`` (longer than the client's timeout)
:class:`Disconnect`       a stream that breaks off after ``after`` chunks (an answer that
                          breaks off halfway)
:class:`Stall`            a stream that stops sending after ``after`` chunks for ``seconds``
                          (an answer that pauses halfway)
:class:`EchoKey`          an error whose body repeats the ``Authorization`` header, as careless
                          servers do, so secret scrubbing can be tested
:class:`CallTools`        an assistant turn that calls tools (streamed: each call's arguments
                          in two pieces, as OpenAI sends them)
:class:`NotSSE`           a 200 whose body is not an event stream (HTML, JSON) for a stream
========================  ==================================================================

Streams may open with an empty ``role`` chunk first, as vLLM's do (``role_chunk=True`` on
:class:`Disconnect`).

Example:
    >>> faults.script("m", [Fail(500), Fail(500)])  # doctest: +SKIP
    >>> await model.acomplete("hi")  # third request answers
    >>> len(faults.requests("/v1/chat/completions"))  # 3
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.servers.base import BackgroundServer, RequestLog

__all__ = [
    "CallTools",
    "Disconnect",
    "EchoKey",
    "Fail",
    "FaultServer",
    "Hang",
    "NotSSE",
    "Reply",
    "Stall",
    "Step",
]

CHAT = "/v1/chat/completions"


@dataclass(frozen=True)
class Reply:
    """Answer normally with ``text``."""

    text: str = "Hello from the fault server."


@dataclass(frozen=True)
class Fail:
    """Answer with HTTP ``status``.

    Attributes:
        status: The status code.
        message: The error message in the body.
        headers: Extra headers (``Retry-After``).
        error_type: OpenAI's ``error.type``.
        code: OpenAI's ``error.code`` (``context_length_exceeded``, ...).
    """

    status: int = 500
    message: str = "internal error"
    headers: dict[str, str] = field(default_factory=dict)
    error_type: str = "server_error"
    code: str | None = None


@dataclass(frozen=True)
class Hang:
    """Send nothing for ``seconds``, then answer normally."""

    seconds: float = 5.0


@dataclass(frozen=True)
class Disconnect:
    """Stream ``after`` content chunks, then drop the connection mid-response (after an empty
    ``role`` chunk first, with ``role_chunk``)."""

    after: int = 2
    role_chunk: bool = False


@dataclass(frozen=True)
class NotSSE:
    """Answer a stream request with 200 and a body that is not an event stream."""

    body: str = "<html><body>502 Bad Gateway</body></html>"
    media_type: str = "text/html"


@dataclass(frozen=True)
class Stall:
    """Stream ``after`` content chunks, then send nothing for ``seconds``."""

    after: int = 2
    seconds: float = 5.0


@dataclass(frozen=True)
class EchoKey:
    """Fail with ``status`` and a body that repeats the request's ``Authorization`` header."""

    status: int = 401


@dataclass(frozen=True)
class CallTools:
    """Answer with ``calls``: ``(name, arguments)`` pairs."""

    calls: tuple[tuple[str, dict[str, Any]], ...] = ()


Step = Reply | Fail | Hang | Disconnect | Stall | EchoKey | CallTools | NotSSE


class _Dropped(Exception):
    """Raised inside a streaming response so uvicorn closes the connection mid-body."""


class FaultServer(BackgroundServer):
    """The scripted OpenAI-compatible server (``base_url`` is ``server.url + "/v1"``)."""

    def __init__(self) -> None:
        self.requests = RequestLog()
        self._scripts: defaultdict[str, deque[Step]] = defaultdict(deque)
        self._lock = threading.Lock()
        super().__init__(
            Starlette(
                routes=[
                    Route(CHAT, self._chat, methods=["POST"]),
                    Route("/v1/models", self._models),
                ]
            )
        )

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ``/v1`` included."""
        return f"{self.url}/v1"

    def script(self, model: str, steps: Iterable[Step]) -> None:
        """Append ``steps`` to the script of ``model`` (``*``: any model without its own)."""
        with self._lock:
            self._scripts[model].extend(steps)

    def reset(self) -> None:
        """Forget every script and request."""
        with self._lock:
            self._scripts.clear()
        self.requests.clear()

    def chat_requests(self, model: str | None = None) -> list[Any]:
        """The chat requests so far (of ``model`` only, if given)."""
        return [r for r in self.requests(CHAT) if model is None or r.body.get("model") == model]

    def _next(self, model: str) -> Step:
        with self._lock:
            for key in (model, "*"):
                if self._scripts.get(key):
                    return self._scripts[key].popleft()
        return Reply()

    # -- routes --------------------------------------------------------------------------------

    async def _models(self, request: Request) -> Response:
        await self.requests.record(request)
        return JSONResponse({"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "test"}]})

    async def _chat(self, request: Request) -> Response:
        recorded = await self.requests.record(request)
        body: dict[str, Any] = recorded.body or {}
        step = self._next(str(body.get("model")))
        if isinstance(step, Hang):
            await asyncio.sleep(step.seconds)
            step = Reply()
        if isinstance(step, Fail):
            error = {"message": step.message, "type": step.error_type, "param": None, "code": step.code}
            return JSONResponse({"error": error}, step.status, headers=step.headers)
        if isinstance(step, EchoKey):
            auth = recorded.headers.get("authorization", "")
            message = f"Incorrect API key provided: {auth.removeprefix('Bearer ')} ({auth})"
            error = {"message": message, "type": "invalid_request_error", "code": "invalid_api_key"}
            return JSONResponse({"error": error}, step.status)
        if isinstance(step, CallTools):
            if body.get("stream"):
                return StreamingResponse(_stream_calls(body, step), media_type="text/event-stream")
            return JSONResponse(_calls_completion(body, step))
        if isinstance(step, NotSSE):
            return Response(step.body, 200, media_type=step.media_type)
        text = step.text if isinstance(step, Reply) else Reply().text
        after = step.after if isinstance(step, Disconnect) else None
        if body.get("stream"):
            stall = (step.after, step.seconds) if isinstance(step, Stall) else None
            role = isinstance(step, Disconnect) and step.role_chunk
            return StreamingResponse(_stream(body, text, after, stall, role), media_type="text/event-stream")
        if after is not None or isinstance(step, Stall):
            stall_s = step.seconds if isinstance(step, Stall) else None
            cut = _truncated(_completion(body, text), stall_s)
            return StreamingResponse(cut, media_type="application/json")
        return JSONResponse(_completion(body, text))


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


def _logprobs(pieces: list[str], first: int = 0) -> dict[str, Any]:
    return {
        "content": [
            {"token": p, "logprob": -0.1 * (first + i + 1), "bytes": list(p.encode()), "top_logprobs": []}
            for i, p in enumerate(pieces)
        ]
    }


def _usage(body: dict[str, Any], pieces: list[str]) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    return {"prompt_tokens": prompt, "completion_tokens": len(pieces), "total_tokens": prompt + len(pieces)}


def _cut(body: dict[str, Any], text: str) -> tuple[list[str], str]:
    pieces = _words(text)
    limit = body.get("max_tokens") or body.get("max_completion_tokens")
    if limit is not None and limit < len(pieces):
        return pieces[:limit], "length"
    return pieces, "stop"


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    pieces, finish = _cut(body, text)
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": "".join(pieces)},
        "finish_reason": finish,
        "logprobs": _logprobs(pieces) if body.get("logprobs") else None,
    }
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "m"),
        "choices": [choice],
        "usage": _usage(body, pieces),
    }


async def _truncated(data: dict[str, Any], stall_s: float | None) -> AsyncIterator[str]:
    """Half the answer, then a dropped connection (or, with ``stall_s``, a pause and the rest)."""
    payload = json.dumps(data)
    yield payload[: len(payload) // 2]
    if stall_s is None:
        raise _Dropped("connection dropped by the test script")
    await asyncio.sleep(stall_s)
    yield payload[len(payload) // 2 :]


async def _stream(
    body: dict[str, Any],
    text: str,
    drop_after: int | None,
    stall: tuple[int, float] | None = None,
    role_chunk: bool = False,
) -> AsyncIterator[str]:
    pieces, finish = _cut(body, text)
    base = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "m"),
    }
    if role_chunk:  # vLLM opens every stream with an empty role chunk
        role = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
        yield f"data: {json.dumps({**base, 'choices': [role]})}\n\n"
    for i, piece in enumerate(pieces):
        if drop_after is not None and i == drop_after:
            raise _Dropped("connection dropped by the test script")
        if stall is not None and i == stall[0]:
            await asyncio.sleep(stall[1])
        choice = {
            "index": 0,
            "delta": {"role": "assistant", "content": piece} if i == 0 else {"content": piece},
            "finish_reason": None,
            "logprobs": _logprobs([piece], i) if body.get("logprobs") else None,
        }
        yield f"data: {json.dumps({**base, 'choices': [choice]})}\n\n"
        await asyncio.sleep(0)
    last = {"index": 0, "delta": {}, "finish_reason": finish}
    yield f"data: {json.dumps({**base, 'choices': [last]})}\n\n"
    if (body.get("stream_options") or {}).get("include_usage"):
        yield f"data: {json.dumps({**base, 'choices': [], 'usage': _usage(body, pieces)})}\n\n"
    yield "data: [DONE]\n\n"


def _openai_calls(step: CallTools) -> list[dict[str, Any]]:
    return [
        {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        for i, (name, args) in enumerate(step.calls)
    ]


def _calls_completion(body: dict[str, Any], step: CallTools) -> dict[str, Any]:
    data = _completion(body, "")
    data["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": _openai_calls(step)}
    data["choices"][0]["finish_reason"] = "tool_calls"
    return data


async def _stream_calls(body: dict[str, Any], step: CallTools) -> AsyncIterator[str]:
    base = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "m"),
    }
    for i, call in enumerate(_openai_calls(step)):
        arguments = call["function"]["arguments"]
        half = len(arguments) // 2
        first = {
            "index": i,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": arguments[:half]},
        }
        rest = {"index": i, "function": {"arguments": arguments[half:]}}
        for piece in (first, rest):
            choice = {
                "index": 0,
                "delta": {"role": "assistant", "tool_calls": [piece]},
                "finish_reason": None,
            }
            yield f"data: {json.dumps({**base, 'choices': [choice]})}\n\n"
    last = {"index": 0, "delta": {}, "finish_reason": "tool_calls"}
    yield f"data: {json.dumps({**base, 'choices': [last]})}\n\n"
    yield "data: [DONE]\n\n"

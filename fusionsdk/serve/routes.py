"""The HTTP endpoints. Each one authenticates, validates, admits, runs and accounts; every
failure becomes an OpenAI-shaped error (:mod:`fusionsdk.serve.errors`)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from fusionsdk.config.validation import format_loc
from fusionsdk.graph import Graph
from fusionsdk.providers.model import Model
from fusionsdk.providers.privacy import SENSITIVE_KEY
from fusionsdk.serve.auth import Principal
from fusionsdk.serve.chat import run_chat, stream_chat
from fusionsdk.serve.errors import ApiError, api_error_from
from fusionsdk.serve.schemas import (
    ChatRequest,
    EmbeddingsRequest,
    chat_response,
    encode_embedding,
    usage_dict,
)
from fusionsdk.serve.server import SENSITIVE_HEADER, TRACE_HEADER, Server
from fusionsdk.serve.sse import sse_events

__all__ = ["chat_completions", "embeddings", "get_model", "health", "list_models", "metrics"]

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def _server(request: Request) -> Server:
    server: Server = request.app.state.server
    if server.draining:
        raise ApiError(
            503, "the server is shutting down", type="service_unavailable", code="draining", retry_after=1.0
        )
    return server


async def _body(request: Request, server: Server, schema: type[M]) -> M:
    """The request body validated as ``schema`` (413 when too large, 400 when invalid)."""
    limit = server.spec.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body larger than {limit} bytes", code="request_too_large")
    raw = await request.body()
    if len(raw) > limit:
        raise ApiError(413, f"request body larger than {limit} bytes", code="request_too_large")
    try:
        data = json.loads(raw)
    except ValueError:
        raise ApiError(400, "the body is not valid JSON", code="invalid_json") from None
    try:
        return schema.model_validate(data)
    except ValidationError as err:
        first = err.errors(include_url=False, include_input=False)[0]
        param = format_loc(first["loc"]) or None
        raise ApiError(
            400, f"{param or 'body'}: {first['msg']}", param=param, code="invalid_request"
        ) from None


async def _until_disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _cancel_on_disconnect(request: Request, work: Awaitable[T], timeout_s: float) -> T:
    """Await ``work``; cancel it when the client goes away (or after ``timeout_s``: 504)."""
    task = asyncio.ensure_future(asyncio.wait_for(work, timeout_s))
    watch = asyncio.ensure_future(_until_disconnect(request))
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise ApiError(499, "client closed the request", code="client_closed")
    return task.result()


def _metadata(request: Request) -> dict[str, Any]:
    flagged = request.headers.get(SENSITIVE_HEADER, "").strip().lower() in ("1", "true", "yes")
    return {SENSITIVE_KEY: True} if flagged else {}


def _error_response(err: BaseException, trace_id: str | None = None) -> JSONResponse:
    api = api_error_from(err)
    headers = api.headers()
    if trace_id:
        headers[TRACE_HEADER] = trace_id
    return JSONResponse(api.body(), api.status, headers=headers)


@dataclass
class _ChatCall:
    """One chat request on its way through the server."""

    server: Server
    principal: Principal
    body: ChatRequest
    target: Model | Graph
    metadata: dict[str, Any]
    trace_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float = field(default_factory=time.perf_counter)
    streaming: bool = False  # the event stream owns the slot once it starts

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [m.as_message() for m in self.body.messages]

    async def failed(self, err: BaseException) -> JSONResponse:
        """Settle a failed request (state writes, metrics) and answer with its error."""
        await self.server.state.flush()
        self.server.metrics.observe(
            self.body.model, api_error_from(err).status, time.perf_counter() - self.started
        )
        return _error_response(err, self.trace_id)


async def chat_completions(request: Request) -> Response:
    """``POST /v1/chat/completions``: a model or ``graph:NAME``, whole or streamed."""
    server = _server(request)
    principal = server.keys.authenticate(request.headers.get("authorization"))
    body = await _body(request, server, ChatRequest)
    call = _ChatCall(server, principal, body, server.catalog.target(body.model), _metadata(request))
    call.metadata["trace_id"] = call.trace_id
    await server.admit(principal, body.model)
    await server.gate.acquire()
    try:
        await server.state.refresh()
        return await (_streamed(request, call) if body.stream else _whole(request, call))
    finally:
        if not call.streaming:
            server.gate.release()


async def _whole(request: Request, call: _ChatCall) -> Response:
    server, body = call.server, call.body
    work = run_chat(call.target, body, call.messages, call.metadata, call.trace_id)
    try:
        outcome = await _cancel_on_disconnect(request, work, server.spec.request_timeout_s)
    except BaseException as err:
        return await call.failed(err)
    await server.account(call.principal, outcome.prompt_tokens + outcome.completion_tokens, outcome.cost_usd)
    await server.state.flush()
    server.metrics.observe_calls(outcome.calls)
    server.metrics.observe(
        body.model,
        200,
        time.perf_counter() - call.started,
        outcome.prompt_tokens,
        outcome.completion_tokens,
        outcome.cost_usd,
    )
    usage = usage_dict(outcome.prompt_tokens, outcome.completion_tokens, outcome.cost_usd)
    payload = chat_response(f"chatcmpl-{call.trace_id}", body.model, outcome.choices, usage)
    return JSONResponse(payload, headers={TRACE_HEADER: call.trace_id})


async def _streamed(request: Request, call: _ChatCall) -> Response:
    stream = stream_chat(call.target, call.body, call.messages, call.metadata, call.trace_id)
    try:  # failures before the first piece still get their own status
        first = await _cancel_on_disconnect(request, anext(stream), call.server.spec.request_timeout_s)
    except BaseException as err:
        await stream.aclose()
        return await call.failed(err)
    call.streaming = True
    events = sse_events(call.server, call.principal, call.body, first, stream, call.trace_id, call.started)
    headers = {TRACE_HEADER: call.trace_id, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


async def list_models(request: Request) -> JSONResponse:
    """``GET /v1/models``: every model, graph and embedder the caller may use."""
    server = _server(request)
    principal = server.keys.authenticate(request.headers.get("authorization"))
    names = [*server.catalog.names(), *server.catalog.embedder_names()]
    allowed = [n for n in names if not principal.models or n in principal.models]
    return JSONResponse({"object": "list", "data": [server.catalog.describe(n) for n in allowed]})


async def get_model(request: Request) -> JSONResponse:
    """``GET /v1/models/{name}``."""
    server = _server(request)
    principal = server.keys.authenticate(request.headers.get("authorization"))
    name = request.path_params["name"]
    if name not in server.catalog.embedder_names():
        server.catalog.target(name)
    principal.check_model(name)
    return JSONResponse(server.catalog.describe(name))


async def embeddings(request: Request) -> JSONResponse:
    """``POST /v1/embeddings``: a memory's embedder (``memory:NAME``)."""
    started = time.perf_counter()
    server = _server(request)
    principal = server.keys.authenticate(request.headers.get("authorization"))
    body = await _body(request, server, EmbeddingsRequest)
    embedder = server.catalog.embedder(body.model)
    await server.admit(principal, body.model)
    texts = body.texts()
    async with server.gate.slot():
        vectors = await _cancel_on_disconnect(
            request, asyncio.to_thread(embedder.embed, texts), server.spec.request_timeout_s
        )
    tokens = sum(len(t.split()) for t in texts)
    await server.account(principal, tokens, 0.0)
    server.metrics.observe(body.model, 200, time.perf_counter() - started, prompt=tokens)
    return JSONResponse(
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": encode_embedding(v, body.encoding_format)}
                for i, v in enumerate(vectors)
            ],
            "model": body.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


async def health(request: Request) -> JSONResponse:
    """``GET /health``: 200 while serving, 503 while shutting down; no key needed."""
    server: Server = request.app.state.server
    body = {
        "status": "draining" if server.draining else "ok",
        "models": len(server.catalog.models),
        "graphs": len(server.catalog.graphs),
        "uptime_s": round(time.time() - server.started_at, 3),
        "in_flight": server.gate.running,
        "queued": server.gate.waiting,
    }
    return JSONResponse(body, 503 if server.draining else 200)


async def metrics(request: Request) -> Response:
    """``GET /metrics``: Prometheus exposition (no key needed; bind to a private address)."""
    server: Server = request.app.state.server
    await server.state.refresh()
    payload, content_type = server.metrics.render()
    return Response(payload, media_type=content_type)

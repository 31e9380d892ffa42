"""A Text Generation Inference look-alike that is strict about its protocol.

Every ``/generate`` and ``/generate_stream`` body is validated against ``GenerateRequest`` in TGI's
OpenAPI spec and rejected with 422 ``{"error", "error_type": "validation"}`` as TGI does; so are
the limits TGI checks beyond the schema (prompt and total token budgets, ``top_n_tokens``).
Every response is validated against ``GenerateResponse``/``StreamResponse`` before it is sent, so
a test passing against this server means the client spoke TGI's protocol both ways.

The answer is a fixed sentence generated word by word, with made-up but consistent token ids and
log-probabilities; ``max_new_tokens`` and ``stop`` cut it as TGI would. Tests can queue faults
(:meth:`TGIServer.fail`) that the next requests get instead of an answer.

Example:
    >>> with TGIServer() as tgi:  # doctest: +SKIP
    ...     tgi.fail(429, "Model is overloaded", "overloaded", retry_after="1")
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.servers.base import BackgroundServer, RequestLog
from tests.servers.openapi import TGI_SPEC, OpenAPISchemas

__all__ = ["TGIFault", "TGIServer"]

EOS = {"id": 2, "text": "</s>", "special": True}


@dataclass(frozen=True)
class TGIFault:
    """An error response the server gives instead of an answer.

    Attributes:
        status: HTTP status (422, 424, 429, 500, ...).
        error: The ``error`` text.
        error_type: The ``error_type`` (``validation``, ``generation``, ``overloaded``, ...).
        headers: Extra response headers (``Retry-After``).
    """

    status: int
    error: str
    error_type: str
    headers: dict[str, str] = field(default_factory=dict)


class TGIServer(BackgroundServer):
    """TGI's native API on loopback.

    Args:
        answer: The text every generation produces (cut by ``max_new_tokens`` and ``stop``).
        max_input_tokens: Longest prompt accepted, in (whitespace) tokens.
        max_total_tokens: Prompt plus ``max_new_tokens`` limit.
        max_top_n_tokens: Largest ``top_n_tokens`` accepted.
        stream_errors_in_band: Report errors on ``/generate_stream`` as an SSE ``error`` event
            with status 200, as TGI's router does, instead of an HTTP error status.
    """

    def __init__(
        self,
        answer: str = "Paris is the capital of France.",
        *,
        max_input_tokens: int = 1024,
        max_total_tokens: int = 2048,
        max_top_n_tokens: int = 5,
        stream_errors_in_band: bool = False,
    ) -> None:
        self.answer = answer
        self.max_input_tokens = max_input_tokens
        self.max_total_tokens = max_total_tokens
        self.max_top_n_tokens = max_top_n_tokens
        self.stream_errors_in_band = stream_errors_in_band
        self.healthy = True
        self.requests = RequestLog()
        #: Every answer body and stream event sent, in order (for schema checks in tests).
        self.sent: list[dict[str, Any]] = []
        self.schemas = OpenAPISchemas.load(TGI_SPEC)
        self._faults: deque[TGIFault] = deque()
        self._lock = threading.Lock()
        super().__init__(
            Starlette(
                routes=[
                    Route("/generate", self._generate, methods=["POST"]),
                    Route("/generate_stream", self._generate_stream, methods=["POST"]),
                    Route("/health", self._health),
                    Route("/info", self._info),
                    Route("/metrics", self._metrics),
                ]
            )
        )

    # -- test controls -------------------------------------------------------------------------

    def fail(self, status: int, error: str, error_type: str, retry_after: str | None = None) -> None:
        """Answer the next generation request with this error (queue several by calling again)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        with self._lock:
            self._faults.append(TGIFault(status, error, error_type, headers))

    def reset(self) -> None:
        """Forget faults and requests; healthy again; errors as HTTP statuses."""
        with self._lock:
            self._faults.clear()
        self.requests.clear()
        self.sent.clear()
        self.healthy = True
        self.stream_errors_in_band = False

    def _next_fault(self) -> TGIFault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    # -- validation ----------------------------------------------------------------------------

    def _validate(self, body: Any) -> TGIFault | None:
        """The 422 TGI would answer for ``body``, or None when TGI would accept it."""
        problems = self.schemas.errors("GenerateRequest", body)
        if problems:
            return TGIFault(422, f"Input validation error: {'; '.join(problems)}", "validation")
        params = body.get("parameters") or {}
        inputs = len(body["inputs"].split())
        new_tokens = params.get("max_new_tokens") or 20
        top_n = params.get("top_n_tokens") or 0
        if inputs > self.max_input_tokens:
            message = f"`inputs` must have less than {self.max_input_tokens} tokens. Given: {inputs}"
        elif inputs + new_tokens > self.max_total_tokens:
            message = (
                f"`inputs` tokens + `max_new_tokens` must be <= {self.max_total_tokens}. "
                f"Given: {inputs} `inputs` tokens and {new_tokens} `max_new_tokens`"
            )
        elif top_n > self.max_top_n_tokens:
            message = f"`top_n_tokens` must be >= 0 and <= {self.max_top_n_tokens}. Given: {top_n}"
        else:
            return None
        return TGIFault(422, f"Input validation error: {message}", "validation")

    async def _admit(self, request: Request) -> tuple[dict[str, Any], TGIFault | None]:
        recorded = await self.requests.record(request)
        body = recorded.body
        return body, self._validate(body) or self._next_fault()

    # -- generation ----------------------------------------------------------------------------

    def _tokens(self, params: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        """The generated tokens (EOS included when generation ended on it) and finish reason."""
        words = self.answer.split(" ")
        limit = params.get("max_new_tokens") or 20
        stops = params.get("stop") or []
        tokens: list[dict[str, Any]] = []
        text = ""
        for i, word in enumerate(words):
            if len(tokens) == limit:
                return tokens, "length"
            piece = word if i == 0 else " " + word
            tokens.append({"id": 100 + i, "text": piece, "logprob": -0.05 * (i + 1), "special": False})
            text += piece
            if any(stop in text for stop in stops):
                return tokens, "stop_sequence"
        if len(tokens) == limit:
            return tokens, "length"
        return [*tokens, {**EOS, "logprob": -0.01}], "eos_token"

    @staticmethod
    def _top(token: dict[str, Any], n: int) -> list[dict[str, Any]]:
        alternatives = [
            {
                "id": token["id"] + 1000 * k,
                "text": f"{token['text']}~{k}",
                "special": False,
                "logprob": token["logprob"] - k,
            }
            for k in range(1, n)
        ]
        return [token, *alternatives][:n]

    def _generate_body(self, body: dict[str, Any]) -> dict[str, Any]:
        params = body.get("parameters") or {}
        tokens, finish = self._tokens(params)
        text = "".join(t["text"] for t in tokens if not t["special"])
        response: dict[str, Any] = {"generated_text": text}
        if params.get("details"):
            prefill = []
            if params.get("decoder_input_details"):
                prefill = [
                    {"id": 10 + i, "text": w, "logprob": None if i == 0 else -1.0}
                    for i, w in enumerate(body["inputs"].split())
                ]
            details: dict[str, Any] = {
                "finish_reason": finish,
                "generated_tokens": len(tokens),
                "prefill": prefill,
                "tokens": tokens,
                "seed": params.get("seed") if params.get("do_sample") else None,
            }
            if params.get("top_n_tokens"):
                details["top_tokens"] = [self._top(t, params["top_n_tokens"]) for t in tokens]
            response["details"] = details
        self.schemas.check("GenerateResponse", response)
        self.sent.append(response)
        return response

    def _stream_events(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        params = body.get("parameters") or {}
        tokens, finish = self._tokens(params)
        events = []
        for i, token in enumerate(tokens):
            event: dict[str, Any] = {"index": i, "token": token, "generated_text": None, "details": None}
            if params.get("top_n_tokens"):
                event["top_tokens"] = self._top(token, params["top_n_tokens"])
            events.append(event)
        last = events[-1]
        last["generated_text"] = "".join(t["text"] for t in tokens if not t["special"])
        if params.get("details"):
            last["details"] = {
                "finish_reason": finish,
                "generated_tokens": len(tokens),
                "input_length": len(body["inputs"].split()),
                "seed": params.get("seed") if params.get("do_sample") else None,
            }
        for event in events:
            self.schemas.check("StreamResponse", event)
        self.sent.extend(events)
        return events

    # -- routes --------------------------------------------------------------------------------

    @staticmethod
    def _error(fault: TGIFault) -> JSONResponse:
        return JSONResponse(
            {"error": fault.error, "error_type": fault.error_type}, fault.status, headers=fault.headers
        )

    async def _generate(self, request: Request) -> Response:
        body, fault = await self._admit(request)
        if fault is not None:
            return self._error(fault)
        return JSONResponse(self._generate_body(body))

    async def _generate_stream(self, request: Request) -> Response:
        body, fault = await self._admit(request)
        if fault is not None and not self.stream_errors_in_band:
            return self._error(fault)

        async def events() -> AsyncIterator[str]:
            if fault is not None:
                yield _sse({"error": fault.error, "error_type": fault.error_type})
                return
            for event in self._stream_events(body):
                yield _sse(event)

        return StreamingResponse(events(), media_type="text/event-stream")

    async def _health(self, request: Request) -> Response:
        await self.requests.record(request)
        if self.healthy:
            return Response(status_code=200)
        return JSONResponse({"error": "unhealthy", "error_type": "healthcheck"}, 503)

    async def _info(self, request: Request) -> Response:
        info = {
            "model_id": "test/tiny-tgi",
            "max_concurrent_requests": 128,
            "max_best_of": 2,
            "max_stop_sequences": 4,
            "max_input_tokens": self.max_input_tokens,
            "max_total_tokens": self.max_total_tokens,
            "validation_workers": 2,
            "max_client_batch_size": 4,
            "router": "text-generation-router",
            "version": "3.3.0",
        }
        self.schemas.check("Info", info)
        return JSONResponse(info)

    async def _metrics(self, request: Request) -> Response:
        served = len(self.requests("/generate")) + len(self.requests("/generate_stream"))
        lines = [
            "# TYPE tgi_request_count counter",
            f"tgi_request_count {served}",
            "# TYPE tgi_queue_size gauge",
            "tgi_queue_size 0",
            "# TYPE tgi_batch_current_size gauge",
            "tgi_batch_current_size 0",
        ]
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


def _sse(data: dict[str, Any]) -> str:
    return f"data:{json.dumps(data)}\n\n"

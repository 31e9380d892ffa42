"""Triton Inference Server's generate extension, as TensorRT-LLM's ``ensemble`` model serves it.

``POST /v2/models/{model}/generate`` takes ``{"text_input", "max_tokens", ...}`` and answers
``{"model_name", "model_version", "text_output"}``; ``/generate_stream`` sends one SSE event per
word. Unknown models get Triton's 400 ``{"error": ...}``; a request without ``text_input`` or
``max_tokens`` is refused the same way. ``/v2/health/ready`` answers 200 while :attr:`ready`.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.servers.base import BackgroundServer, RequestLog

__all__ = ["TritonServer"]


class TritonServer(BackgroundServer):
    """Triton's HTTP generate endpoints on loopback.

    Args:
        answer: The text every generation produces (cut to ``max_tokens`` words).
        models: Model names served.
    """

    def __init__(
        self, answer: str = "Rome is the capital of Italy.", models: tuple[str, ...] = ("ensemble", "llama")
    ) -> None:
        self.answer = answer
        self.models = models
        self.ready = True
        self.requests = RequestLog()
        self._faults: deque[tuple[int, str]] = deque()
        self._lock = threading.Lock()
        super().__init__(
            Starlette(
                routes=[
                    Route("/v2/models/{model}/generate", self._generate, methods=["POST"]),
                    Route("/v2/models/{model}/generate_stream", self._generate_stream, methods=["POST"]),
                    Route("/v2/health/ready", self._ready),
                ]
            )
        )

    def fail(self, status: int, error: str) -> None:
        """Answer the next generation request with ``{"error": error}`` and ``status``."""
        with self._lock:
            self._faults.append((status, error))

    def reset(self) -> None:
        """Forget faults and requests; ready again."""
        with self._lock:
            self._faults.clear()
        self.requests.clear()
        self.ready = True

    async def _admit(self, request: Request) -> tuple[dict[str, Any], Response | None]:
        body = (await self.requests.record(request)).body or {}
        model = request.path_params["model"]
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
        if fault is not None:
            return body, JSONResponse({"error": fault[1]}, fault[0])
        if model not in self.models:
            return body, JSONResponse({"error": f"Request for unknown model: '{model}' is not found"}, 400)
        missing = [name for name in ("text_input", "max_tokens") if name not in body]
        if missing:
            return body, JSONResponse({"error": f"input '{missing[0]}' is required"}, 400)
        return body, None

    def _pieces(self, body: dict[str, Any]) -> list[str]:
        words = self.answer.split(" ")[: int(body["max_tokens"])]
        return [w if i == 0 else " " + w for i, w in enumerate(words)]

    async def _generate(self, request: Request) -> Response:
        body, error = await self._admit(request)
        if error is not None:
            return error
        model = request.path_params["model"]
        text = "".join(self._pieces(body))
        return JSONResponse({"model_name": model, "model_version": "1", "text_output": text})

    async def _generate_stream(self, request: Request) -> Response:
        body, error = await self._admit(request)
        if error is not None:
            return error
        model = request.path_params["model"]

        async def events() -> AsyncIterator[str]:
            for piece in self._pieces(body):
                event = {"model_name": model, "model_version": "1", "text_output": piece}
                yield f"data: {json.dumps(event)}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def _ready(self, request: Request) -> Response:
        return Response(status_code=200 if self.ready else 503)

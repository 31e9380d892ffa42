"""Triton Inference Server's generate extension, as TensorRT-LLM's ``ensemble`` model serves it.

Shapes follow Triton's generate extension (``docs/protocol/extension_generate.md``) and the
inputs of tensorrtllm_backend's ``all_models/inflight_batcher_llm/ensemble/config.pbtxt``:

- ``POST /v2/models/{model}/generate`` takes ``{"text_input", "max_tokens", ...}``, every other
  top-level key being one of the ensemble's inputs (an unknown one is Triton's 400
  ``unexpected inference input '<name>' for model '<model>'``; a wrongly typed one a 400 too),
  and answers ``{"model_name", "model_version", "text_output", "cum_log_probs",
  "output_log_probs"}``.
- Like the real ensemble, ``text_output`` is the prompt followed by the completion unless the
  request sets ``exclude_input_in_output: true`` (``echo=False`` turns this off); the stream's
  first event carries the echo too, as a conservative superset of the real servers.
- ``accepts_exclude=False`` plays an ensemble older than ``exclude_input_in_output``.
- ``/generate_stream`` sends one SSE event per word; errors before the first event are a JSON
  ``{"error"}`` with a 4xx/5xx, as Triton does. ``/v2/health/ready`` answers 200 while
  :attr:`ready`.
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

__all__ = ["ENSEMBLE_INPUTS", "TritonServer"]

#: The ensemble's inputs and the JSON type each must have (``list`` of strings for word lists).
ENSEMBLE_INPUTS: dict[str, type | tuple[type, ...]] = {
    "text_input": str,
    "max_tokens": int,
    "bad_words": list,
    "stop_words": list,
    "end_id": int,
    "pad_id": int,
    "top_k": int,
    "top_p": (int, float),
    "temperature": (int, float),
    "length_penalty": (int, float),
    "repetition_penalty": (int, float),
    "min_length": int,
    "presence_penalty": (int, float),
    "frequency_penalty": (int, float),
    "random_seed": int,
    "return_log_probs": bool,
    "return_context_logits": bool,
    "return_generation_logits": bool,
    "beam_width": int,
    "stream": bool,
    "exclude_input_in_output": bool,
    "embedding_bias_words": list,
    "embedding_bias_weights": list,
}


class TritonServer(BackgroundServer):
    """Triton's HTTP generate endpoints on loopback.

    Args:
        answer: The text every generation produces (cut to ``max_tokens`` words).
        models: Model names served.
        echo: Put the prompt before the answer unless the request excludes it (the real default).
        accepts_exclude: Whether the ensemble has the ``exclude_input_in_output`` input.
    """

    def __init__(
        self,
        answer: str = "Rome is the capital of Italy.",
        models: tuple[str, ...] = ("ensemble", "llama"),
        echo: bool = True,
        accepts_exclude: bool = True,
    ) -> None:
        self.answer = answer
        self.models = models
        self.echo = echo
        self.accepts_exclude = accepts_exclude
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
        """Forget faults and requests; ready again, echoing, with every input."""
        with self._lock:
            self._faults.clear()
        self.requests.clear()
        self.ready = True
        self.echo = self.accepts_exclude = True

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
        problem = self._check_inputs(body, model)
        return body, (JSONResponse({"error": problem}, 400) if problem else None)

    def _check_inputs(self, body: dict[str, Any], model: str) -> str | None:
        for name, value in body.items():
            known = ENSEMBLE_INPUTS.get(name)
            if name == "parameters" and isinstance(value, dict):
                continue
            if known is None or (name == "exclude_input_in_output" and not self.accepts_exclude):
                return f"[request id: <id_unknown>] unexpected inference input '{name}' for model '{model}'"
            if (isinstance(value, bool) and known is not bool) or not isinstance(value, known):
                return f"unable to parse '{name}': expected {known}, got {type(value).__name__}"
        if body["max_tokens"] <= 0:
            return "max_tokens must be positive"
        return None

    def _echoes(self, body: dict[str, Any]) -> bool:
        return self.echo and not body.get("exclude_input_in_output", False)

    def _pieces(self, body: dict[str, Any]) -> list[str]:
        words = self.answer.split(" ")[: int(body["max_tokens"])]
        return [w if i == 0 else " " + w for i, w in enumerate(words)]

    async def _generate(self, request: Request) -> Response:
        body, error = await self._admit(request)
        if error is not None:
            return error
        model = request.path_params["model"]
        pieces = self._pieces(body)
        text = (body["text_input"] if self._echoes(body) else "") + "".join(pieces)
        return JSONResponse(
            {
                "model_name": model,
                "model_version": "1",
                "text_output": text,
                "cum_log_probs": 0.0,
                "output_log_probs": [0.0] * len(pieces),
            }
        )

    async def _generate_stream(self, request: Request) -> Response:
        body, error = await self._admit(request)
        if error is not None:
            return error
        model = request.path_params["model"]

        pieces = self._pieces(body)
        if self._echoes(body) and pieces:
            pieces[0] = body["text_input"] + pieces[0]

        async def events() -> AsyncIterator[str]:
            for piece in pieces:
                event = {"model_name": model, "model_version": "1", "text_output": piece}
                yield f"data: {json.dumps(event)}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def _ready(self, request: Request) -> Response:
        return Response(status_code=200 if self.ready else 503)

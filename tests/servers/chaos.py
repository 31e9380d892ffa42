"""A loopback OpenAI-compatible server whose models fail by chance, for chaos runs.

Each model (the body's ``model``) has a :class:`Behaviour`: answer, fail with HTTP 500 at rate
``fail_rate`` (a seeded random draw per request), or hang for ``hang_s`` seconds. Every request
is counted per model with its arrival time, so a run can tell how many upstream attempts each
request cost and which requests reached a deployment after its breaker opened.

Example:
    >>> with ChaosServer({"a": Behaviour(fail_rate=0.3), "b": Behaviour(hang_s=30)}) as server:
    ...     ...  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.servers.base import BackgroundServer

__all__ = ["Behaviour", "ChaosServer"]


@dataclass(frozen=True)
class Behaviour:
    """How one model behaves: fail with 500 at ``fail_rate``; hang ``hang_s`` seconds if set."""

    fail_rate: float = 0.0
    hang_s: float | None = None


class ChaosServer(BackgroundServer):
    """``POST /v1/chat/completions`` acting out each model's :class:`Behaviour`.

    Args:
        behaviours: Per model name; models not listed answer normally.
        seed: Seed of the failure draws.
    """

    def __init__(self, behaviours: Mapping[str, Behaviour], seed: int = 7) -> None:
        self.behaviours = dict(behaviours)
        self.arrivals: defaultdict[str, list[float]] = defaultdict(list)
        self._seed = seed
        self._randoms: dict[str, random.Random] = {}  # one draw sequence per model: reproducible
        self._lock = threading.Lock()
        super().__init__(Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])]))

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ``/v1`` included."""
        return f"{self.url}/v1"

    def count(self, model: str | None = None) -> int:
        """Requests received (for ``model``, or all)."""
        with self._lock:
            if model is not None:
                return len(self.arrivals[model])
            return sum(len(v) for v in self.arrivals.values())

    def after(self, model: str, moment: float) -> int:
        """Requests for ``model`` that arrived after ``moment`` (``time.monotonic``)."""
        with self._lock:
            return sum(1 for at in self.arrivals[model] if at > moment)

    async def _chat(self, request: Request) -> JSONResponse:
        body = await request.json()
        model = str(body.get("model"))
        behaviour = self.behaviours.get(model, Behaviour())
        with self._lock:
            self.arrivals[model].append(time.monotonic())
            draws = self._randoms.setdefault(model, random.Random(f"{self._seed}:{model}"))
            failing = behaviour.fail_rate > 0 and draws.random() < behaviour.fail_rate
        if behaviour.hang_s is not None:
            await asyncio.sleep(behaviour.hang_s)
        if failing:
            error = {"message": "chaos: internal error", "type": "server_error", "code": None}
            return JSONResponse({"error": error}, 500)
        return JSONResponse(
            {
                "id": "chatcmpl-chaos",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

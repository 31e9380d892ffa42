"""A loopback OpenAI-compatible ``/v1/embeddings`` server for the ``litellm`` embedder's tests.

It embeds with :class:`~fusionsdk.testing.FakeEmbedder` (so answers are deterministic), records
every request, and answers the next queued HTTP status instead when one is queued.
"""

from __future__ import annotations

from collections import deque

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fusionsdk.testing import FakeEmbedder
from tests.servers.base import BackgroundServer, RequestLog

__all__ = ["EmbeddingServer"]


class EmbeddingServer(BackgroundServer):
    """``POST /v1/embeddings``; ``fail(status)`` queues an error answer."""

    def __init__(self) -> None:
        self.requests = RequestLog()
        self.failures: deque[int] = deque()
        self.dimension_override: int | None = None
        super().__init__(Starlette(routes=[Route("/v1/embeddings", self._embeddings, methods=["POST"])]))

    def fail(self, *statuses: int) -> None:
        """Answer the next requests with these HTTP statuses."""
        self.failures.extend(statuses)

    async def _embeddings(self, request: Request) -> JSONResponse:
        recorded = await self.requests.record(request)
        if self.failures:
            status = self.failures.popleft()
            error = {"message": f"stub failure {status}", "type": "stub_error", "code": str(status)}
            headers = {"retry-after-ms": "20"} if status == 429 else {}
            return JSONResponse({"error": error}, status_code=status, headers=headers)
        texts = recorded.body["input"]
        texts = [texts] if isinstance(texts, str) else texts
        vectors = FakeEmbedder().embed(texts)
        if self.dimension_override is not None:
            vectors = [v[: self.dimension_override] for v in vectors]
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        return JSONResponse(
            {
                "object": "list",
                "data": data[::-1],
                "model": recorded.body["model"],
                "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
            }
        )

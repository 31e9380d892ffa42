"""Back-pressure: at most ``max_concurrency`` requests run, ``max_queue`` wait, the rest get 429."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fusionsdk.serve.errors import ApiError

__all__ = ["RequestGate"]


class RequestGate:
    """A bounded queue in front of the work.

    Args:
        max_concurrency: Requests served at once.
        max_queue: Requests allowed to wait for a slot.
    """

    def __init__(self, max_concurrency: int, max_queue: int) -> None:
        self.max_concurrency, self.max_queue = max_concurrency, max_queue
        self.running = 0
        self.waiting = 0
        self._slots: asyncio.Semaphore | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        if self._slots is None:  # made on first use, inside the server's event loop
            self._slots = asyncio.Semaphore(self.max_concurrency)
        return self._slots

    async def acquire(self) -> None:
        """Take a slot, waiting in the queue if needed.

        Raises:
            ApiError: 429 with ``Retry-After`` when the queue is full.
        """
        slots = self._semaphore()
        if slots.locked() and self.waiting >= self.max_queue:
            raise ApiError(
                429,
                "the server is at capacity; retry shortly",
                type="rate_limit_error",
                code="server_busy",
                retry_after=1.0,
            )
        self.waiting += 1
        try:
            await slots.acquire()
        finally:
            self.waiting -= 1
        self.running += 1

    def release(self) -> None:
        """Give a slot back."""
        self.running -= 1
        self._semaphore().release()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a slot for the body of the ``async with``."""
        await self.acquire()
        try:
            yield
        finally:
            self.release()

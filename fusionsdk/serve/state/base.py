"""The contract of the state replicas share: :class:`SharedState`.

A server keeps four kinds of state that must agree across replicas for N processes to behave as
one: circuit breakers (with their cooldowns), per-key rate limits, per-key budgets and the calls
in flight per deployment. :class:`~fusionsdk.serve.state.memory.MemoryState` keeps them in the
process (one replica); :class:`~fusionsdk.serve.state.redis.RedisState` keeps them in Redis, with
every read-modify-write done atomically by a Lua script and every window an expiring key.

Hot paths never wait on the network more than once: :meth:`SharedState.admit` checks a key's
budget and rate limits in one round trip, :meth:`SharedState.refresh` pulls every breaker in
one, and what a request changes (failures, spend, tokens) is written behind and awaited by
:meth:`SharedState.flush` before the response ends.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from fusionsdk.config.models import BreakerSpec
from fusionsdk.providers.breaker import CircuitBreaker
from fusionsdk.providers.load import InFlightCounter

__all__ = ["Admission", "KeyLimits", "SharedState"]

log = logging.getLogger("fusionsdk.serve")

#: Every rate limit counts over this sliding window.
WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """The limits of one API key (None: unlimited).

    Attributes:
        key_id: A stable, secret-free id of the key (a prefix of its digest).
        budget_usd: Total USD the key may spend.
        requests_per_minute: Requests per sliding minute.
        tokens_per_minute: Tokens per sliding minute.
    """

    key_id: str
    budget_usd: float | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None


@dataclass(frozen=True, slots=True)
class Admission:
    """The answer to "may this key send a request now?".

    Attributes:
        allowed: Whether the request may go on (it has been counted if so).
        reason: ``budget``, ``requests`` or ``tokens`` when refused.
        retry_after_s: When a refused request could succeed (rate limits only).
    """

    allowed: bool
    reason: str | None = None
    retry_after_s: float | None = None


class SharedState(ABC):
    """Breakers, rate limits, budgets and in-flight counts, shared or not."""

    def __init__(self) -> None:
        self._pending: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect (called once the server's event loop runs)."""

    async def aclose(self) -> None:
        """Finish pending writes and disconnect."""
        await self.flush()

    @abstractmethod
    def breaker(self, deployment: str, policy: BreakerSpec) -> CircuitBreaker:
        """The breaker of ``deployment`` (one per deployment and state)."""

    def in_flight(self, model: str) -> InFlightCounter:
        """The in-flight counter of ``model`` (this process's calls unless shared)."""
        return InFlightCounter()

    @abstractmethod
    async def admit(self, limits: KeyLimits) -> Admission:
        """Check the key's budget and limits and, when allowed, count one request."""

    @abstractmethod
    async def record_usage(self, limits: KeyLimits, tokens: int, cost_usd: float) -> None:
        """Count what a finished request spent against the key's tokens and budget."""

    @abstractmethod
    async def spent_usd(self, key_id: str) -> float:
        """USD the key has spent so far."""

    async def refresh(self) -> None:  # noqa: B027 - in-process state is always fresh
        """Pull the shared view (breakers) before a request."""

    def spawn(self, write: Coroutine[Any, Any, Any]) -> None:
        """Run a write behind the caller; :meth:`flush` waits for it."""
        try:
            task = asyncio.get_running_loop().create_task(write)
        except RuntimeError:  # no loop (a breaker used outside the server): nothing to share
            write.close()
            return
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("shared-state write failed: %s", type(task.exception()).__name__)

    async def flush(self) -> None:
        """Wait for every write spawned so far."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

"""In-process shared state: right for one process, what every replica has without Redis."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable

from fusionsdk.config.models import BreakerSpec
from fusionsdk.providers.breaker import CircuitBreaker
from fusionsdk.serve.state.base import WINDOW_S, Admission, KeyLimits, SharedState

__all__ = ["MemoryState"]


class MemoryState(SharedState):
    """Sliding-window rate limits, budgets and breakers in this process's memory.

    Args:
        clock: Monotonic clock (injectable for tests).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._requests: defaultdict[str, deque[float]] = defaultdict(deque)
        self._tokens: defaultdict[str, deque[tuple[float, int]]] = defaultdict(deque)
        self._spent: defaultdict[str, float] = defaultdict(float)
        self._breakers: dict[str, CircuitBreaker] = {}

    def breaker(self, deployment: str, policy: BreakerSpec) -> CircuitBreaker:
        found = self._breakers.get(deployment)
        if found is None:
            found = self._breakers[deployment] = CircuitBreaker(deployment, policy)
        return found

    async def admit(self, limits: KeyLimits) -> Admission:
        now = self._clock()
        if limits.budget_usd is not None and self._spent[limits.key_id] >= limits.budget_usd:
            return Admission(False, "budget")
        requests = self._requests[limits.key_id]
        while requests and requests[0] <= now - WINDOW_S:
            requests.popleft()
        if limits.requests_per_minute is not None and len(requests) >= limits.requests_per_minute:
            return Admission(False, "requests", requests[0] + WINDOW_S - now)
        tokens = self._tokens[limits.key_id]
        while tokens and tokens[0][0] <= now - WINDOW_S:
            tokens.popleft()
        if limits.tokens_per_minute is not None and sum(n for _, n in tokens) >= limits.tokens_per_minute:
            return Admission(False, "tokens", tokens[0][0] + WINDOW_S - now)
        if limits.requests_per_minute is not None:
            requests.append(now)
        return Admission(True)

    async def record_usage(self, limits: KeyLimits, tokens: int, cost_usd: float) -> None:
        if limits.tokens_per_minute is not None and tokens:
            self._tokens[limits.key_id].append((self._clock(), tokens))
        if cost_usd:
            self._spent[limits.key_id] += cost_usd

    async def spent_usd(self, key_id: str) -> float:
        return self._spent[key_id]

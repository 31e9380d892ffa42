"""The one retry layer: tenacity with exponential backoff, jitter and ``Retry-After``.

LiteLLM's and the provider SDKs' own retries are switched off, so a failing call is retried
exactly here and nowhere else. Only errors marked ``retryable`` (rate limits, timeouts,
unavailable backends) are retried; auth, bad-request and context-window errors never are.

The first attempt runs outside tenacity: a call that succeeds at once (nearly all of them) pays
nothing for the retry machinery. Waits count from that first attempt.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from fusionsdk.config.models import RetrySpec
from fusionsdk.errors import ProviderError, RateLimited

__all__ = ["call_with_retries", "retrying", "wait_seconds"]

T = TypeVar("T")


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and exc.retryable


def wait_seconds(policy: RetrySpec, failed_attempt: int, error: BaseException | None) -> float:
    """Seconds to wait after attempt number ``failed_attempt`` (1-based) failed with ``error``:
    the server's ``Retry-After`` if it gave one, else exponential backoff with jitter, both
    capped at ``max_wait_s``."""
    if isinstance(error, RateLimited) and error.retry_after is not None:
        return min(max(error.retry_after, 0.0), policy.max_wait_s)
    backoff = policy.initial_wait_s * 2 ** (failed_attempt - 1) + random.uniform(0, policy.jitter_s)
    return min(backoff, policy.max_wait_s)


class _Wait:
    """tenacity wait strategy over :func:`wait_seconds`, offset by attempts made before."""

    def __init__(self, policy: RetrySpec, offset: int = 0) -> None:
        self._policy = policy
        self._offset = offset

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return wait_seconds(self._policy, state.attempt_number + self._offset, error)


def retrying(policy: RetrySpec, *, attempts_made: int = 0) -> AsyncRetrying:
    """An ``AsyncRetrying`` for what is left of ``policy`` that re-raises the last error."""
    return AsyncRetrying(
        stop=stop_after_attempt(max(policy.attempts - attempts_made, 1)),
        wait=_Wait(policy, attempts_made),
        retry=retry_if_exception(_is_retryable),
        reraise=True,
    )


async def call_with_retries(policy: RetrySpec, attempt: Callable[[], Awaitable[T]]) -> tuple[T, int]:
    """Run ``attempt`` under ``policy``; return its result and how many attempts it took."""
    try:
        return await attempt(), 1
    except ProviderError as exc:
        if not exc.retryable or policy.attempts == 1:
            raise
        await asyncio.sleep(wait_seconds(policy, 1, exc))
    made = 1
    async for retry in retrying(policy, attempts_made=1):
        with retry:
            made += 1
            result = await attempt()
    return result, made

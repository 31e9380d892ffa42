"""The one retry layer: tenacity with exponential backoff, jitter and ``Retry-After``.

LiteLLM's and the provider SDKs' own retries are switched off, so a failing call is retried
exactly here and nowhere else. Only errors marked ``retryable`` (rate limits, timeouts,
unavailable backends) are retried; auth, bad-request and context-window errors never are.
"""

from __future__ import annotations

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from fusionsdk.config.models import RetrySpec
from fusionsdk.errors import ProviderError, RateLimited

__all__ = ["retrying"]


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and exc.retryable


class _WaitHonouringRetryAfter:
    """Exponential backoff with jitter, replaced by the server's ``Retry-After`` when given."""

    def __init__(self, policy: RetrySpec) -> None:
        self._policy = policy
        self._backoff = wait_exponential_jitter(
            initial=policy.initial_wait_s, max=policy.max_wait_s, jitter=policy.jitter_s
        )

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), self._policy.max_wait_s)
        return float(self._backoff(state))


def retrying(policy: RetrySpec) -> AsyncRetrying:
    """An ``AsyncRetrying`` for ``policy`` that re-raises the last error as it was."""
    return AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        wait=_WaitHonouringRetryAfter(policy),
        retry=retry_if_exception(_is_retryable),
        reraise=True,
    )

"""The retry layer: backoff bounds and Retry-After parsing."""

from __future__ import annotations

import pytest

from fusionsdk.config.models import RetrySpec
from fusionsdk.errors import AuthError, ProviderUnavailable, RateLimited
from fusionsdk.providers.litellm_boundary import parse_retry_after
from fusionsdk.providers.retry import call_with_retries, retrying, wait_seconds


async def test_gives_up_after_attempts_and_reraises() -> None:
    calls = 0
    with pytest.raises(ProviderUnavailable):
        async for attempt in retrying(RetrySpec(attempts=4, initial_wait_s=0, jitter_s=0)):
            with attempt:
                calls += 1
                raise ProviderUnavailable("down")
    assert calls == 4


async def test_does_not_retry_auth() -> None:
    calls = 0
    with pytest.raises(AuthError):
        async for attempt in retrying(RetrySpec(attempts=4, initial_wait_s=0, jitter_s=0)):
            with attempt:
                calls += 1
                raise AuthError("no")
    assert calls == 1


def test_retry_after_is_capped_by_max_wait() -> None:
    assert wait_seconds(RetrySpec(max_wait_s=2), 1, RateLimited("x", retry_after=60)) == 2
    assert wait_seconds(RetrySpec(max_wait_s=2), 1, RateLimited("x", retry_after=0.5)) == 0.5


def test_backoff_grows_exponentially_within_bounds() -> None:
    policy = RetrySpec(initial_wait_s=0.5, max_wait_s=3, jitter_s=0)
    assert [wait_seconds(policy, n, ProviderUnavailable("x")) for n in (1, 2, 3, 4)] == [0.5, 1, 2, 3]
    jittery = RetrySpec(initial_wait_s=0.5, max_wait_s=30, jitter_s=0.25)
    assert all(0.5 <= wait_seconds(jittery, 1, None) <= 0.75 for _ in range(50))


async def test_call_with_retries_counts_attempts() -> None:
    outcomes: list[object] = [ProviderUnavailable("a"), ProviderUnavailable("b"), "ok"]

    async def attempt() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return str(outcome)

    policy = RetrySpec(attempts=3, initial_wait_s=0, jitter_s=0)
    assert await call_with_retries(policy, attempt) == ("ok", 3)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str] | None, expected: float | None) -> None:
    assert parse_retry_after(headers) == expected

"""The retry layer: backoff bounds and Retry-After parsing."""

from __future__ import annotations

import pytest

from fusionsdk.config.models import RetrySpec
from fusionsdk.errors import AuthError, ProviderUnavailable, RateLimited
from fusionsdk.providers._litellm import parse_retry_after
from fusionsdk.providers.retry import retrying


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
    wait = retrying(RetrySpec(max_wait_s=2)).wait

    class Outcome:
        def exception(self) -> BaseException:
            return RateLimited("x", retry_after=60)

    class State:
        outcome = Outcome()
        attempt_number = 1

    assert wait(State()) == 2  # type: ignore[arg-type]


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

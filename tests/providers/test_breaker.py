"""CircuitBreaker states with a fake clock."""

from __future__ import annotations

import pytest

from fusionsdk.config.models import BreakerSpec
from fusionsdk.errors import CircuitOpen
from fusionsdk.providers.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker("d", BreakerSpec(failures=3, window_s=10, cooldown_s=5), clock)


def test_opens_after_failures_in_window_then_half_opens() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.before_call()
        b.record_failure()
    assert b.state == "open"
    with pytest.raises(CircuitOpen, match="next probe in 5.0s"):
        b.before_call("m")
    clock.now = 5
    assert b.state == "half-open"
    b.before_call()  # the one probe
    with pytest.raises(CircuitOpen):
        b.before_call()  # a second caller waits for the probe
    b.record_success()
    assert b.state == "closed"


def test_failed_probe_reopens() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.record_failure()
    clock.now = 6
    b.before_call()
    b.record_failure()
    assert b.state == "open"
    clock.now = 10
    assert b.state == "open"
    clock.now = 11
    assert b.state == "half-open"


def test_failures_outside_window_do_not_count() -> None:
    clock = Clock()
    b = breaker(clock)
    b.record_failure()
    b.record_failure()
    clock.now = 20
    b.record_failure()
    assert b.state == "closed"


def test_released_probe_lets_next_probe_through() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.record_failure()
    clock.now = 5
    b.before_call()
    b.release_probe()
    b.before_call()

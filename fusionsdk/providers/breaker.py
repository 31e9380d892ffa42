"""A circuit breaker per deployment, so a dead backend is skipped instead of waited on."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Literal

from fusionsdk.config.models import BreakerSpec
from fusionsdk.errors import CircuitOpen

__all__ = ["CircuitBreaker"]

State = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    """Opens after ``failures`` failures within ``window_s``; after ``cooldown_s`` lets one probe
    through (half-open): its success closes the breaker, its failure opens it again.

    Args:
        deployment: Label used in errors.
        policy: Thresholds.
        clock: Monotonic clock (injectable for tests).
    """

    def __init__(
        self, deployment: str, policy: BreakerSpec, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.deployment = deployment
        self.policy = policy
        self._clock = clock
        self._failures: deque[float] = deque()
        self._opened_at: float | None = None
        self._probe_in_flight = False
        self._lock = threading.Lock()

    @property
    def state(self) -> State:
        """``closed``, ``open`` or ``half-open``."""
        with self._lock:
            return self._state()

    def _state(self) -> State:
        """The state now (called with the lock held; subclasses keep it elsewhere)."""
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.policy.cooldown_s:
            return "half-open"
        return "open"

    def _seconds_to_probe(self) -> float:
        """Seconds until the open breaker lets a probe through (called with the lock held)."""
        assert self._opened_at is not None
        return max(0.0, self.policy.cooldown_s - (self._clock() - self._opened_at))

    @property
    def healthy(self) -> bool:
        """Closed, with no failure within the window: nothing suggests calls would fail."""
        with self._lock:
            if self._state() != "closed":
                return False
            now = self._clock()
            return not any(now - at <= self.policy.window_s for at in self._failures)

    def before_call(self, model: str | None = None) -> None:
        """Raise :class:`CircuitOpen` unless a call may go through now."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return
            if state == "half-open" and not self._probe_in_flight:
                self._probe_in_flight = True
                return
            wait = self._seconds_to_probe()
            raise CircuitOpen(
                f"circuit open after repeated failures; next probe in {wait:.1f}s",
                model=model,
                deployment=self.deployment,
            )

    def record_success(self) -> None:
        """A call succeeded: close the breaker."""
        with self._lock:
            self._failures.clear()
            self._opened_at = None
            self._probe_in_flight = False

    def record_failure(self) -> None:
        """A call failed in a way that says the deployment is unhealthy."""
        with self._lock:
            now = self._clock()
            if self._probe_in_flight or self._opened_at is not None:
                self._opened_at, self._probe_in_flight = now, False
                return
            self._failures.append(now)
            while self._failures and now - self._failures[0] > self.policy.window_s:
                self._failures.popleft()
            if len(self._failures) >= self.policy.failures:
                self._opened_at = now
                self._failures.clear()

    def release_probe(self) -> None:
        """The half-open probe ended without telling anything (e.g. a bad request)."""
        with self._lock:
            self._probe_in_flight = False

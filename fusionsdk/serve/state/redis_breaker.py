"""A circuit breaker whose state lives in Redis, so every replica skips a failing deployment.

The breaker keeps a local view of three keys per deployment and never waits on Redis inside a
model call: :meth:`RedisBreaker.before_call` reads the view, failures and recoveries update the
view at once and are written behind (atomically, by a Lua script), and
:meth:`~fusionsdk.serve.state.redis.RedisState.refresh` pulls every breaker's view in one round
trip before each request. Keys (``P`` is the configured prefix, ``D`` the deployment):

* ``P:breaker:D:fails``: failures in the current window (``INCR``, expires after ``window_s``);
* ``P:breaker:D:open``: present while the breaker is open (expires after ``cooldown_s``, the
  deployment's cooldown);
* ``P:breaker:D:tripped``: present from opening until a probe succeeds; with ``open`` gone the
  breaker is half-open and each replica lets one probe through.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fusionsdk.config.models import BreakerSpec
from fusionsdk.providers.breaker import CircuitBreaker, State

if TYPE_CHECKING:
    from fusionsdk.serve.state.redis import RedisState

__all__ = ["FAILURE_SCRIPT", "RedisBreaker"]

#: KEYS: fails, open, tripped. ARGV: failures, window_ms, cooldown_ms. Returns {fails, open_ms}.
FAILURE_SCRIPT = """
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return {0, tonumber(ARGV[3])}
end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  redis.call('SET', KEYS[3], '1', 'PX', 86400000)
  redis.call('DEL', KEYS[1])
  return {0, tonumber(ARGV[3])}
end
return {n, 0}
"""


class RedisBreaker(CircuitBreaker):
    """:class:`CircuitBreaker` semantics over Redis (see the module docstring).

    Args:
        deployment: The deployment label.
        policy: Thresholds.
        state: The Redis state that reads and writes the keys.
        clock: Monotonic clock.
    """

    def __init__(
        self,
        deployment: str,
        policy: BreakerSpec,
        state: RedisState,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(deployment, policy, clock)
        self._shared = state
        prefix = f"{state.prefix}:breaker:{deployment}"
        self.keys = (f"{prefix}:fails", f"{prefix}:open", f"{prefix}:tripped")
        self._fails = 0
        self._open_until: float | None = None
        self._tripped = False

    # -- the view ------------------------------------------------------------------------------

    def update(self, fails: int, open_ms: int, tripped: bool) -> None:
        """Replace the local view with what Redis holds."""
        with self._lock:
            self._fails = fails
            self._open_until = self._clock() + open_ms / 1000 if open_ms > 0 else None
            self._tripped = tripped or open_ms > 0
            if not self._tripped:
                self._probe_in_flight = False

    def _state(self) -> State:
        if self._open_until is not None and self._clock() < self._open_until:
            return "open"
        return "half-open" if self._tripped else "closed"

    def _seconds_to_probe(self) -> float:
        return max(0.0, (self._open_until or self._clock()) - self._clock())

    # -- the CircuitBreaker protocol (before_call is the base class's, on the view) ---------------

    def record_success(self) -> None:
        with self._lock:
            dirty = self._fails > 0 or self._tripped
            self._fails, self._open_until, self._tripped, self._probe_in_flight = 0, None, False, False
        if dirty:
            self._shared.spawn(self._shared.client.delete(*self.keys))

    def record_failure(self) -> None:
        policy = self.policy
        with self._lock:
            self._probe_in_flight = False
            if self._tripped:
                self._open_until = self._clock() + policy.cooldown_s
            else:
                self._fails += 1
                if self._fails >= policy.failures:
                    self._fails, self._tripped = 0, True
                    self._open_until = self._clock() + policy.cooldown_s
        self._shared.spawn(self._push_failure())

    async def _push_failure(self) -> None:
        policy = self.policy
        result: Any = await self._shared.run_script(
            "breaker_failure",
            self.keys,
            [policy.failures, int(policy.window_s * 1000), int(policy.cooldown_s * 1000)],
        )
        fails, open_ms = int(result[0]), int(result[1])
        if open_ms > 0:
            self.update(0, open_ms, True)
        else:
            with self._lock:
                self._fails = max(self._fails, fails)

"""Shared state in Redis: N replicas behind a load balancer behave as one server.

Rate limits are sliding logs (a sorted set per key and limit, timestamps from Redis's own clock
so replicas' clocks never disagree, expiring a minute after the last entry); budgets are an
``INCRBYFLOAT`` counter per key; breakers are described in
:mod:`fusionsdk.serve.state.redis_breaker`. Every check-and-count is one Lua script, so two
replicas can never both take the last request of a window.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from typing import Any

from fusionsdk.config.models import BreakerSpec
from fusionsdk.errors import ConfigError
from fusionsdk.providers.breaker import CircuitBreaker
from fusionsdk.providers.load import InFlightCounter
from fusionsdk.serve.errors import ApiError
from fusionsdk.serve.state.base import WINDOW_S, Admission, KeyLimits, SharedState
from fusionsdk.serve.state.redis_breaker import FAILURE_SCRIPT, RedisBreaker
from fusionsdk.serve.state.redis_load import HEARTBEAT_TTL_S, READ_SCRIPT, RedisInFlight

__all__ = ["RedisState"]

#: KEYS: requests log, tokens log, spend. ARGV: rpm, tpm, budget (<0: none), member, window_ms.
#: Returns -1 (admitted), -2 (budget spent) or the milliseconds until a slot frees.
ADMIT_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[5])
local rpm, tpm, budget = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if budget >= 0 and tonumber(redis.call('GET', KEYS[3]) or '0') >= budget then return -2 end
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  if redis.call('ZCARD', KEYS[1]) >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return math.max(1, tonumber(oldest[2]) + window - now)
  end
end
if tpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
  local used = 0
  for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    used = used + tonumber(string.match(m, '^(%d+):'))
  end
  if used >= tpm then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return math.max(1, tonumber(oldest[2]) + window - now)
  end
end
if rpm > 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window + 1000)
end
return -1
"""

#: KEYS: tokens log. ARGV: member ("<tokens>:<id>"), window_ms.
TOKENS_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 1000)
return 1
"""

_SCRIPTS = {
    "admit": ADMIT_SCRIPT,
    "tokens": TOKENS_SCRIPT,
    "breaker_failure": FAILURE_SCRIPT,
    "inflight_read": READ_SCRIPT,
}


class RedisState(SharedState):
    """State in the Redis at ``url`` (``redis://host:port/db``), keys under ``prefix``.

    Raises:
        ConfigError: The ``redis`` package is missing (``pip install 'fusionsdk[serve]'``).
    """

    def __init__(self, url: str, prefix: str = "fusionsdk") -> None:
        super().__init__()
        try:
            import redis.asyncio as aioredis
        except ImportError:
            raise ConfigError(
                "state.redis needs the redis package: pip install 'fusionsdk[serve]'", path="state.redis"
            ) from None
        self.url, self.prefix = url, prefix
        self.client: Any = aioredis.Redis.from_url(url, decode_responses=True)
        self._scripts: dict[str, Any] = {n: self.client.register_script(s) for n, s in _SCRIPTS.items()}
        self._breakers: dict[str, RedisBreaker] = {}
        self._loads: dict[str, RedisInFlight] = {}
        #: This replica's id (its field in the in-flight hashes, its heartbeat key).
        self.replica = uuid.uuid4().hex[:12]
        self._heartbeat: asyncio.Task[None] | None = None

    async def start(self) -> None:
        try:
            await self.client.ping()
        except Exception as err:
            raise ConfigError(
                f"cannot reach Redis for shared state: {type(err).__name__}", path="state.redis"
            ) from None
        await self._beat()
        self._heartbeat = asyncio.get_running_loop().create_task(self._beat_forever())

    async def _beat(self) -> None:
        await self.client.set(f"{self.prefix}:replica:{self.replica}", "1", ex=HEARTBEAT_TTL_S)

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_TTL_S / 3)
            with contextlib.suppress(Exception):  # a missed beat only ages this replica's counts
                await self._beat()

    async def aclose(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        await super().aclose()
        with contextlib.suppress(Exception):  # leave no count behind
            async with self.client.pipeline(transaction=False) as pipe:
                for load in self._loads.values():
                    pipe.hdel(load.key, self.replica)
                pipe.delete(f"{self.prefix}:replica:{self.replica}")
                await pipe.execute()
        await self.client.aclose()

    async def run_script(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run one of the Lua scripts; Redis errors become a 503."""
        try:
            return await self._scripts[name](keys=list(keys), args=list(args))
        except Exception as err:
            raise _unavailable(err, retry_after=1.0) from None

    def breaker(self, deployment: str, policy: BreakerSpec) -> CircuitBreaker:
        found = self._breakers.get(deployment)
        if found is None:
            found = self._breakers[deployment] = RedisBreaker(deployment, policy, self)
        return found

    def in_flight(self, model: str) -> InFlightCounter:
        found = self._loads.get(model)
        if found is None:
            found = self._loads[model] = RedisInFlight(self, model)
        return found

    async def refresh(self) -> None:
        """Pull every breaker and in-flight count (two round trips, in parallel)."""
        await asyncio.gather(self._refresh_breakers(), self._refresh_loads())

    async def _refresh_loads(self) -> None:
        loads = list(self._loads.values())
        if not loads:
            return
        with contextlib.suppress(ApiError):  # keep the last counts on a Redis error
            keys = [load.key for load in loads]
            totals = await self.run_script("inflight_read", keys, [self.replica, f"{self.prefix}:replica:"])
            for load, total in zip(loads, totals, strict=True):
                load.others = int(total)

    async def _refresh_breakers(self) -> None:
        breakers = list(self._breakers.values())
        if not breakers:
            return
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for breaker in breakers:
                    fails, opened, tripped = breaker.keys
                    pipe.get(fails).pttl(opened).exists(tripped)
                values = await pipe.execute()
        except Exception:  # keep serving on the last view; the next refresh retries
            return
        for i, breaker in enumerate(breakers):
            fails, open_ms, tripped = values[3 * i : 3 * i + 3]
            breaker.update(int(fails or 0), max(int(open_ms), 0), bool(tripped))

    def _keys(self, key_id: str) -> list[str]:
        base = f"{self.prefix}:key:{key_id}"
        return [f"{base}:requests", f"{base}:tokens", f"{base}:spent"]

    async def admit(self, limits: KeyLimits) -> Admission:
        budget = -1.0 if limits.budget_usd is None else limits.budget_usd
        args = [
            limits.requests_per_minute or 0,
            limits.tokens_per_minute or 0,
            budget,
            uuid.uuid4().hex,
            int(WINDOW_S * 1000),
        ]
        result = int(await self.run_script("admit", self._keys(limits.key_id), args))
        if result == -1:
            return Admission(True)
        if result == -2:
            return Admission(False, "budget")
        return Admission(False, "rate", result / 1000)

    async def record_usage(self, limits: KeyLimits, tokens: int, cost_usd: float) -> None:
        _, tokens_key, spent_key = self._keys(limits.key_id)
        if limits.tokens_per_minute is not None and tokens:
            member = f"{tokens}:{uuid.uuid4().hex}"
            await self.run_script("tokens", [tokens_key], [member, int(WINDOW_S * 1000)])
        if cost_usd:
            try:
                await self.client.incrbyfloat(spent_key, cost_usd)
            except Exception as err:
                raise _unavailable(err) from None

    async def spent_usd(self, key_id: str) -> float:
        return float(await self.client.get(self._keys(key_id)[2]) or 0.0)


def _unavailable(err: Exception, retry_after: float | None = None) -> ApiError:
    """The 503 a request gets when Redis, the shared state, fails (``err`` named, not shown)."""
    return ApiError(
        503,
        f"shared state unavailable ({type(err).__name__})",
        type="service_unavailable",
        code="state_unavailable",
        retry_after=retry_after,
    )

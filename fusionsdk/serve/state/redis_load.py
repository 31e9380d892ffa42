"""Calls in flight per model, summed over every replica, for the ``balance`` router.

Each replica keeps its own count in a field of ``P:inflight:MODEL`` (a hash keyed by replica id,
``HINCRBY`` written behind) and a heartbeat key ``P:replica:ID`` that expires after
``HEARTBEAT_TTL_S`` unless renewed. Reading (:data:`READ_SCRIPT`, one round trip for every
model) sums the other replicas' fields and drops those whose heartbeat expired, so a replica that
died mid-call stops counting within seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fusionsdk.providers.load import InFlightCounter

if TYPE_CHECKING:
    from fusionsdk.serve.state.redis import RedisState

__all__ = ["HEARTBEAT_TTL_S", "READ_SCRIPT", "RedisInFlight"]

#: Seconds a replica's heartbeat lives; renewed every third of that.
HEARTBEAT_TTL_S = 15

#: KEYS: the in-flight hashes. ARGV: this replica's id, the heartbeat key prefix.
#: Returns the other live replicas' total per hash.
READ_SCRIPT = """
local totals = {}
for i, key in ipairs(KEYS) do
  local sum = 0
  local fields = redis.call('HGETALL', key)
  for j = 1, #fields, 2 do
    local replica, count = fields[j], tonumber(fields[j + 1])
    if replica ~= ARGV[1] then
      if redis.call('EXISTS', ARGV[2] .. replica) == 1 then
        sum = sum + math.max(count, 0)
      else
        redis.call('HDEL', key, replica)
      end
    end
  end
  totals[i] = sum
end
return totals
"""


class RedisInFlight(InFlightCounter):
    """This replica's calls of one model plus, as last read, the other replicas'.

    Args:
        state: The Redis state (connection, replica id, write-behind).
        model: The model's served name.
    """

    def __init__(self, state: RedisState, model: str) -> None:
        super().__init__()
        self._shared = state
        self.key = f"{state.prefix}:inflight:{model}"
        self.others = 0

    def add(self, delta: int) -> None:
        super().add(delta)
        self._shared.spawn(self._shared.client.hincrby(self.key, self._shared.replica, delta))

    @property
    def value(self) -> int:
        return self.local + self.others

"""State shared by replicas: in the process, or in Redis (``state: {redis: URL}``)."""

from __future__ import annotations

from fusionsdk.config.serve import StateSpec
from fusionsdk.serve.state.base import Admission, KeyLimits, SharedState
from fusionsdk.serve.state.memory import MemoryState

__all__ = ["Admission", "KeyLimits", "MemoryState", "SharedState", "open_state"]


def open_state(spec: StateSpec) -> SharedState:
    """The state a config asks for: Redis when ``spec.redis`` is set, else in-process."""
    if spec.redis is None:
        return MemoryState()
    from fusionsdk.serve.state.redis import RedisState

    return RedisState(spec.redis, spec.prefix)

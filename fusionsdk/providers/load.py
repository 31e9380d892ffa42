"""How many calls of a model are in flight: :class:`InFlightCounter`.

The adapter counts its own calls; load balancers read :attr:`InFlightCounter.value`. A server
running as several replicas swaps in a counter whose value also includes the other replicas'
calls (``fusionsdk.serve``), without the adapter or the routers knowing.
"""

from __future__ import annotations

__all__ = ["InFlightCounter"]


class InFlightCounter:
    """Calls of one model under way in this process.

    Attributes:
        local: This process's calls in flight.
    """

    def __init__(self) -> None:
        self.local = 0

    def add(self, delta: int) -> None:
        """A call started (+1) or ended (-1)."""
        self.local += delta

    @property
    def value(self) -> int:
        """Calls in flight as balancers should see them (here: this process's)."""
        return self.local

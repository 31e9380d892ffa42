"""The run state as LangGraph keeps it: :func:`state_schema` and the :class:`LatestValue` channel.

:class:`~fusionsdk.graph.state.RunState` declares each key's reducer. A key whose reducer is
:func:`~fusionsdk.graph.state.last_value` (the newest value wins; one step may write it several
times, so branches fanned out from ``START`` may each set it) gets a :class:`LatestValue`
channel here rather than a reducer channel: the same merge, but a key that no node wrote stays
absent, as with LangGraph's default channel (a reducer channel starts from its type's empty
value, so every step would read, copy and checkpoint each such key). Imported when a graph is
compiled, with LangGraph.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Annotated, Any, TypedDict, get_type_hints

from langgraph.channels import LastValue

from fusionsdk.graph.state import RunState, last_value

__all__ = ["LatestValue", "state_schema"]


class LatestValue(LastValue):  # type: ignore[type-arg]
    """Channel: the last value written wins, and one step may write several (LangGraph's
    ``LastValue`` refuses a second write in one step)."""

    __slots__ = ()

    def update(self, values: Sequence[Any]) -> bool:
        """Keep the last of this step's writes; a step without one leaves the value as it was."""
        if not values:
            return False
        self.value = values[-1]
        return True


@functools.cache
def state_schema() -> Any:
    """:class:`~fusionsdk.graph.state.RunState` with a :class:`LatestValue` channel for each key
    whose reducer is :func:`~fusionsdk.graph.state.last_value`; the other keys as declared."""
    fields: dict[str, Any] = {}
    for key, hint in get_type_hints(RunState, include_extras=True).items():
        if getattr(hint, "__metadata__", ())[-1:] == (last_value,):
            hint = Annotated[hint.__origin__, LatestValue(hint.__origin__)]
        fields[key] = hint
    return TypedDict("RunState", fields, total=False)  # type: ignore[operator]

"""The run state every node reads and updates, with its reducers declared in its type.

Values are plain JSON-ready dicts and lists so LangGraph's checkpointer can persist any run.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

__all__ = ["RunState", "add_usage", "candidate_record", "merge_retrieved"]


def add_usage(left: dict[str, int] | None, right: dict[str, int] | None) -> dict[str, int]:
    """Reducer: add token counts key by key."""
    total = dict(left or {})
    for key, value in (right or {}).items():
        total[key] = total.get(key, 0) + value
    return total


def merge_retrieved(
    left: list[dict[str, Any]] | None, right: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Reducer: a retrieve node's new chunks replace that node's earlier ones (a thread's next
    question does not keep the last question's context); other nodes' chunks stay. A node that
    found nothing sends ``{"node": name, "cleared": True}``, which only removes."""
    fresh = list(right or [])
    replaced = {item.get("node") for item in fresh}
    kept = [item for item in left or [] if item.get("node") not in replaced]
    return kept + [item for item in fresh if not item.get("cleared")]


class RunState(TypedDict, total=False):
    """The state of one graph run.

    Attributes:
        task: The user's request.
        metadata: Run metadata (row ids, sensitivity, thread id).
        messages: Conversation so far (appended).
        candidates: Every model answer so far, each tagged with its ``node`` (appended); fusers,
            arbiters and ``{candidates}`` use the latest node's unless told a ``source``.
        answer: The current best answer.
        route: The target the last router chose.
        decisions: Router, fusion and arbiter decisions with reasons (appended).
        trace: One entry per node run (appended).
        usage: Tokens spent (summed).
        cost_usd: USD spent (summed).
        tool_results: Outputs of tool nodes, as untrusted data (appended).
        started_at: Wall-clock start of the run (epoch seconds) for the time budget.
        retrieved: Chunks retrieve nodes found (text, source, citation number), as untrusted
            data; each retrieve node's latest retrieval replaces its previous one.
        history: The thread's earlier conversation (summary and recent turns) a ``remember``
            node recalled, for the ``{history}`` placeholder.
    """

    task: str
    metadata: dict[str, Any]
    messages: Annotated[list[dict[str, Any]], operator.add]
    candidates: Annotated[list[dict[str, Any]], operator.add]
    answer: str
    route: str
    decisions: Annotated[list[dict[str, Any]], operator.add]
    trace: Annotated[list[dict[str, Any]], operator.add]
    usage: Annotated[dict[str, int], add_usage]
    cost_usd: Annotated[float, operator.add]
    tool_results: Annotated[list[dict[str, Any]], operator.add]
    started_at: float
    retrieved: Annotated[list[dict[str, Any]], merge_retrieved]
    history: str


def candidate_record(completion: Any) -> dict[str, Any]:
    """A candidate as stored in the state, from a :class:`~fusionsdk.providers.model.Completion`."""
    return {
        "model": completion.model,
        "text": completion.text,
        "logprobs": None
        if completion.logprobs is None
        else [[t.token, t.logprob] for t in completion.logprobs],
        "usage": completion.usage.as_dict(),
        "cost_usd": completion.cost_usd,
        "latency_s": completion.latency_s,
        "locality": completion.locality,
        "deployment": completion.deployment,
        "fallback_from": completion.fallback_from,
        "fallback_reason": completion.fallback_reason,
    }

"""The run state every node reads and updates, with its reducers declared in its type.

Values are plain JSON-ready dicts and lists so LangGraph's checkpointer can persist any run.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Annotated, Any, TypedDict

__all__ = [
    "RunState",
    "add_usage",
    "candidate_record",
    "keep_sensitive",
    "last_value",
    "merge_retrieved",
    "run_metadata",
    "thread_privacy",
]

#: What a node or the user sends in ``privacy`` to clear the thread's flag (and only that).
CLEARED = {"cleared": True}


def last_value(left: Any, right: Any) -> Any:
    """Reducer: the newest value wins. Unlike LangGraph's default channel it accepts several
    writes in one step, so branches that run in parallel (two nodes fanned out from ``START``)
    may each set the answer; the fan-in node sees every branch's candidates."""
    return right


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


def keep_sensitive(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer: once a thread has seen sensitive data it stays sensitive, across its runs, until
    the user clears it (``{"cleared": True}``, what :meth:`Graph.clear_sensitive` sends).

    Example:
        >>> keep_sensitive({"sensitive": True, "kinds": ["email"]}, {"sensitive": False})
        {'sensitive': True, 'kinds': ['email']}
    """
    if right and right.get("cleared") is True:
        return {}
    left, right = left or {}, right or {}
    if not (left.get("sensitive") is True or right.get("sensitive") is True):
        return {}
    kinds = [*(left.get("kinds") or []), *(right.get("kinds") or [])]
    return {"sensitive": True, "kinds": list(dict.fromkeys(kinds))}


def thread_privacy(state: Mapping[str, Any]) -> tuple[bool, list[str]]:
    """Whether the thread (its kept flag, or this run's metadata) is sensitive, and why."""
    kept = state.get("privacy") or {}
    metadata = state.get("metadata") or {}
    kinds = [*(kept.get("kinds") or []), *(metadata.get("sensitive_kinds") or [])]
    sensitive = kept.get("sensitive") is True or metadata.get("sensitive") is True
    return sensitive, list(dict.fromkeys(str(k) for k in kinds)) if sensitive else []


def run_metadata(state: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata model calls of this step get: the run's, marked ``sensitive`` when the
    thread is (so nodes, fusers, routers and memories all see one answer)."""
    metadata = dict(state.get("metadata") or {})
    sensitive, kinds = thread_privacy(state)
    if sensitive:
        metadata.update(sensitive=True, sensitive_kinds=kinds)
    return metadata


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
        privacy: ``{"sensitive": True, "kinds": [...]}`` once the thread has seen sensitive
            data (sticky across runs of the thread; see :func:`keep_sensitive`). From then on
            nothing of the thread reaches a hosted model or embedder.
    """

    task: Annotated[str, last_value]
    metadata: Annotated[dict[str, Any], last_value]
    messages: Annotated[list[dict[str, Any]], operator.add]
    candidates: Annotated[list[dict[str, Any]], operator.add]
    answer: Annotated[str, last_value]
    route: Annotated[str, last_value]
    decisions: Annotated[list[dict[str, Any]], operator.add]
    trace: Annotated[list[dict[str, Any]], operator.add]
    usage: Annotated[dict[str, int], add_usage]
    cost_usd: Annotated[float, operator.add]
    tool_results: Annotated[list[dict[str, Any]], operator.add]
    started_at: Annotated[float, last_value]
    retrieved: Annotated[list[dict[str, Any]], merge_retrieved]
    history: Annotated[str, last_value]
    privacy: Annotated[dict[str, Any], keep_sensitive]


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

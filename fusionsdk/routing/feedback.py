"""Feedback for routers that keep learning: the decision log, and applying a run's score.

Routing feedback observes finished runs: every graph calls :func:`log_routing_decisions` (one
of its ``on_run_end`` hooks) when a run ends, which appends each decision made by a router that
learns (a :class:`LearnsFromFeedback` router, such as ``learned``) to a JSON Lines log under
``FUSIONSDK_HOME`` (``feedback/routing.jsonl``), keyed by the run's ``thread_id``, which
outlives the process. This module reads configs and registries only; it never imports the graph.

Feedback on the run, from ``RunResult.feedback``, ``Graph.feedback`` or ``fusionsdk feedback
RUN_ID SCORE``, is appended to the same log and handed to the router that made each decision
awaiting it, rebuilt from the graph's registry; that router updates its model file atomically,
under a lock. Each decision takes feedback once. Evaluation runs (``evaluation=True``, what
``fusionsdk eval`` uses) end without hooks, so they are not logged. The text of a request marked
``sensitive`` is not logged: its feedback updates the model's success counts only.

Log lines::

    {"type": "decision", "run_id": "9f2c...", "time": 1718000000.0, "node": "pick",
     "strategy": "learned", "options": {"model_file": "/abs/router.json"}, "target": "mini",
     "text": "What is 17 * 23?"}
    {"type": "feedback", "run_id": "9f2c...", "time": 1718000042.0, "score": 1.0}
"""

from __future__ import annotations

import functools
import json
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fusionsdk.config.lookup import NodeRef
from fusionsdk.errors import ConfigError, GraphError, PluginError
from fusionsdk.files import locked
from fusionsdk.providers.privacy import SENSITIVE_KEY
from fusionsdk.registry import PluginKind, Registry, ambient_registry
from fusionsdk.routing.base import RouteRequest

if TYPE_CHECKING:
    from fusionsdk.config.file import FusionConfig

__all__ = [
    "FeedbackLog",
    "FeedbackOutcome",
    "FinishedRun",
    "LearnsFromFeedback",
    "RoutedGraph",
    "apply_feedback",
    "log_routing_decisions",
    "remember_run",
]


class _Context(Protocol):
    @property
    def registry(self) -> Registry: ...


class RoutedGraph(Protocol):
    """What feedback reads of a graph: its config and the registry its plugins came from."""

    @property
    def config(self) -> FusionConfig: ...

    @property
    def context(self) -> _Context: ...


class _Result(Protocol):
    @property
    def thread_id(self) -> str: ...


class FinishedRun(Protocol):
    """What an ``on_run_end`` hook is given: the graph, the run's result and final state, and
    whether the run resumed a paused thread."""

    @property
    def graph(self) -> RoutedGraph: ...

    @property
    def result(self) -> _Result: ...

    @property
    def state(self) -> Mapping[str, Any]: ...

    @property
    def resumed(self) -> bool: ...


class LearnsFromFeedback(ABC):
    """Mixin of routers that update online from scored decisions."""

    @abstractmethod
    def learn(self, request: RouteRequest, target: str, score: float) -> bool:
        """Learn that sending ``request`` to ``target`` scored ``score`` (0 to 1); False when
        the router cannot use it (an unknown target)."""

    @classmethod
    def logged_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """The options to log with a decision, from which the router is rebuilt to take its
        feedback in another process (override to make relative paths absolute)."""
        return dict(options)


@dataclass(frozen=True)
class FeedbackOutcome:
    """What a feedback did.

    Attributes:
        run_id: The run (thread id).
        score: The score given.
        decisions: Routing decisions of the run that took the feedback.
        updated: ``node -> target`` of each decision whose router learned from it.
    """

    run_id: str
    score: float
    decisions: int
    updated: list[str]


class FeedbackLog:
    """The JSON Lines decision and feedback log at ``path`` (appended under a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def default(cls) -> FeedbackLog:
        """The log under ``FUSIONSDK_HOME`` (``feedback/routing.jsonl``)."""
        from fusionsdk.settings import load_settings

        return cls(load_settings().home / "feedback" / "routing.jsonl")

    def append(self, entries: list[dict[str, Any]]) -> None:
        """Append entries, one line each."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with locked(self.path), open(self.path, "a", encoding="utf-8") as out:
            out.writelines(json.dumps(entry, ensure_ascii=False) + "\n" for entry in entries)

    def entries(self) -> list[dict[str, Any]]:
        """Every entry (a malformed line, say from a crash mid-write, is skipped)."""
        if not self.path.is_file():
            return []
        found = []
        with open(self.path, encoding="utf-8") as lines:
            for line in lines:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict):
                    found.append(entry)
        return found

    def pending(self, run_id: str) -> list[dict[str, Any]]:
        """The run's decisions logged since its last feedback."""
        waiting: list[dict[str, Any]] = []
        for entry in self.entries():
            if entry.get("run_id") != run_id:
                continue
            if entry.get("type") == "feedback":
                waiting = []
            elif entry.get("type") == "decision":
                waiting.append(entry)
        return waiting

    def scored(self) -> list[tuple[dict[str, Any], float]]:
        """Every decision that got feedback, with its score (what ``router train`` can add)."""
        waiting: dict[str, list[dict[str, Any]]] = {}
        out: list[tuple[dict[str, Any], float]] = []
        for entry in self.entries():
            run = str(entry.get("run_id"))
            if entry.get("type") == "decision":
                waiting.setdefault(run, []).append(entry)
            elif entry.get("type") == "feedback":
                out.extend((decision, float(entry["score"])) for decision in waiting.pop(run, []))
        return out


def _router_spec(graph: RoutedGraph, node: str) -> tuple[str, dict[str, Any]] | None:
    """(strategy, options) of the router a router or agent node uses, from the config (None:
    no such node, or no router). Looked up by name: every run that routed ends here."""
    spec = graph.config.nodes.get(node)
    router = NodeRef(node, spec.kind, spec.fields).router if spec is not None else None
    return (router.strategy, router.options) if router is not None else None


def log_routing_decisions(run: FinishedRun) -> int:
    """The ``on_run_end`` hook every graph has: :func:`remember_run` for a finished run."""
    return remember_run(run.graph, run.state, run.result.thread_id, resumed=run.resumed)


def remember_run(
    graph: RoutedGraph,
    values: Mapping[str, Any],
    run_id: str,
    *,
    resumed: bool = False,
    log: FeedbackLog | None = None,
) -> int:
    """Log the routing decisions of a finished run made by routers that learn from feedback;
    returns how many were logged. A resumed thread's state still holds the decisions of its
    earlier runs: those already logged (by their position, ``seq``) are not logged again."""
    decisions = [(i, d) for i, d in enumerate(values.get("decisions") or ()) if d.get("type") == "route"]
    if not decisions:
        return 0
    metadata = values.get("metadata") or {}
    sensitive = metadata.get(SENSITIVE_KEY) is True or (values.get("privacy") or {}).get("sensitive") is True
    entries = []
    for seq, decision in decisions:
        spec = _router_spec(graph, str(decision.get("node")))
        if spec is None:
            continue
        try:
            router_cls = graph.context.registry.get(PluginKind.ROUTERS, spec[0])
        except PluginError:
            continue
        if not issubclass(router_cls, LearnsFromFeedback):
            continue
        entries.append(
            {
                "type": "decision",
                "run_id": run_id,
                "seq": seq,
                "time": time.time(),
                "node": decision["node"],
                "strategy": spec[0],
                "options": router_cls.logged_options(spec[1]),
                "target": decision["target"],
                "text": None if sensitive else str(values.get("task", "")),
            }
        )
    if not entries:
        return 0
    log = log or FeedbackLog.default()
    if resumed:
        logged = {
            e.get("seq") for e in log.entries() if e.get("run_id") == run_id and e.get("type") == "decision"
        }
        entries = [e for e in entries if e["seq"] not in logged]
    if entries:
        log.append(entries)
    return len(entries)


@functools.lru_cache(maxsize=32)
def _learner(strategy: str, options_json: str, registry: Registry) -> Any:
    """A router rebuilt from a logged decision (cached: a learned router loads its model once)."""
    return registry.build(PluginKind.ROUTERS, strategy, json.loads(options_json), path="options")


def apply_feedback(
    run_id: str, score: float, *, log: FeedbackLog | None = None, registry: Registry | None = None
) -> FeedbackOutcome:
    """Score run ``run_id``: log it and let each router that routed the run learn from it.

    Args:
        run_id: The run's thread id.
        score: From 0 (wrong) to 1 (right).
        log: The feedback log (default: under ``FUSIONSDK_HOME``).
        registry: The registry of the graph that ran, which rebuilds its routers (the graph's
            and the CLI's entry points pass it; default: the ambient registry).

    Raises:
        ConfigError: A score that is not a number between 0 and 1 (at ``score``).
        GraphError: The run has no logged routing decisions awaiting feedback.
    """
    if (
        isinstance(score, bool)
        or not isinstance(score, int | float)
        or not math.isfinite(score)
        or not 0 <= score <= 1
    ):
        raise ConfigError(f"must be a number from 0 (wrong) to 1 (right), got {score!r}", path="score")
    log = log or FeedbackLog.default()
    if not log.path.is_file():
        raise GraphError(f"no run has been logged for feedback yet ({log.path} does not exist)")
    with locked(log.path.with_suffix(".feedback")):  # two feedbacks on one run: the second waits
        pending = log.pending(run_id)
        if not pending:
            raise GraphError(
                f"run '{run_id}' has no routing decisions awaiting feedback in {log.path} (only runs "
                "routed by routers that learn, such as 'learned', are logged, and each takes feedback once)"
            )
        log.append([{"type": "feedback", "run_id": run_id, "time": time.time(), "score": float(score)}])
    updated = []
    for entry in pending:
        options = json.dumps(entry.get("options") or {}, sort_keys=True)
        router = _learner(str(entry["strategy"]), options, registry or ambient_registry())
        request = RouteRequest(entry.get("text") or "", {SENSITIVE_KEY: entry.get("text") is None})
        if router.learn(request, str(entry["target"]), float(score)):
            updated.append(f"{entry['node']} -> {entry['target']}")
    return FeedbackOutcome(run_id, float(score), len(pending), updated)

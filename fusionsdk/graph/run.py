"""A compiled graph and its runs: :class:`Graph` and :class:`RunResult`.

Runs are checkpointed by LangGraph: in memory by default, or durably in SQLite
(``checkpoint=PATH``) or Postgres (``checkpoint="postgresql://..."``, or the config's
``checkpoint:`` section; :mod:`fusionsdk.graph.checkpoint`), so a thread interrupted by a
``human`` node (or a crash) can be resumed later, from another process, with the same
``thread_id``. Evaluation runs (``evaluation=True``) keep nothing.

When a run ends, the graph calls each of its ``on_run_end`` hooks with a :class:`RunEnd`;
observers of finished runs (routing feedback logs the decisions of routers that learn, see
:mod:`fusionsdk.routing.feedback`) hang there. Evaluation runs call no hooks.
"""

from __future__ import annotations

import contextlib
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fusionsdk._sync import iterate_sync, run_sync
from fusionsdk.config.checkpoint import CheckpointSpec
from fusionsdk.errors import GraphError
from fusionsdk.graph.checkpoint import CheckpointStore, open_store
from fusionsdk.providers import telemetry
from fusionsdk.routing.feedback import apply_feedback, log_routing_decisions

if TYPE_CHECKING:
    from fusionsdk.config.file import FusionConfig
    from fusionsdk.graph.context import NodeContext
    from fusionsdk.registry import Registry

__all__ = ["Graph", "GraphEvent", "RunEnd", "RunHook", "RunResult"]


class _typed_errors:  # used as a function: ``async with _typed_errors():``
    """LangGraph's own run-time errors as :class:`GraphError` (no untyped error escapes). A
    class, not a generator context manager: every run enters one."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: Any, exc: BaseException | None, traceback: Any) -> None:
        if exc is None:
            return
        from langgraph.errors import GraphRecursionError, InvalidUpdateError

        if isinstance(exc, GraphRecursionError):
            raise GraphError("the run went round a loop too many times (recursion_limit 100)") from None
        if isinstance(exc, InvalidUpdateError):
            first = str(exc).splitlines()[0]
            raise GraphError(f"nodes wrote the state in conflicting ways: {first}") from None


def _last_writer(snapshot: Any) -> str | None:
    """The node that wrote the snapshot, so that updating the state as it leaves the thread's
    next step (finished, or waiting for a human) unchanged."""
    writes = (getattr(snapshot, "metadata", None) or {}).get("writes") or {}
    return next(iter(writes), None) if len(writes) == 1 else None


@dataclass(frozen=True)
class RunResult:
    """The outcome of one run.

    Attributes:
        answer: The final answer ("" if the run paused before one).
        trace: One entry per node run: node, kind, latency, models, usage, cost, decisions.
        usage: Tokens spent by every model call of the run.
        cost_usd: USD spent.
        decisions: Router, panel, fusion, arbiter and human decisions with reasons.
        candidates: Every model answer collected.
        thread_id: The run's thread, to resume it.
        interrupted: What a ``human`` node asks, when the run is paused for one.
        sensitive: The thread has seen sensitive data (this run or an earlier one): nothing of
            it reaches a hosted model or embedder until :meth:`Graph.clear_sensitive`.
    """

    answer: str
    trace: list[dict[str, Any]]
    usage: dict[str, int]
    cost_usd: float
    decisions: list[dict[str, Any]]
    candidates: list[dict[str, Any]]
    thread_id: str
    interrupted: dict[str, Any] | None = None
    sensitive: bool = False
    _registry: Registry | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``fusionsdk run --json`` prints)."""
        return {
            "answer": self.answer,
            "trace": self.trace,
            "usage": self.usage,
            "cost_usd": self.cost_usd,
            "decisions": self.decisions,
            "candidates": self.candidates,
            "thread_id": self.thread_id,
            "interrupted": self.interrupted,
            "sensitive": self.sensitive,
        }

    def _repr_html_(self) -> str:
        """Notebooks show the answer, the path the run took and a table of its steps."""
        from fusionsdk.graph.render import result_html

        return result_html(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self._repr_html_(), "text/plain": repr(self)}

    def feedback(self, score: float) -> Any:
        """Score this run from 0 (wrong) to 1 (right), so that the routers that routed it and
        learn from feedback update (:mod:`fusionsdk.routing.feedback`); from another process:
        ``fusionsdk feedback THREAD_ID SCORE``. The routers are rebuilt from the registry of
        the graph that ran."""
        return apply_feedback(self.thread_id, score, registry=self._registry)


@dataclass(frozen=True)
class RunEnd:
    """A finished run, as the graph's ``on_run_end`` hooks receive it.

    Attributes:
        graph: The graph that ran.
        result: The run's result.
        state: The run's final state (task, metadata, decisions, ...).
        resumed: Whether the run continued a paused thread (its state holds earlier runs' parts).
    """

    graph: Graph
    result: RunResult
    state: Mapping[str, Any]
    resumed: bool


#: An observer of finished runs; it may return an awaitable, which is awaited.
RunHook = Callable[[RunEnd], Any]


@dataclass(frozen=True)
class GraphEvent:
    """A streamed event: ``node`` (a node finished), ``token`` (text being generated),
    ``discard`` (drop the node's tokens so far: a model failed midway and the answer restarts on
    its fallback), ``answer`` (a fuser decided) or ``result`` (the run ended; ``result`` is set)."""

    type: str
    node: str | None = None
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    result: RunResult | None = None


class Graph:
    """A compiled graph, ready to run. Build one with :func:`~fusionsdk.graph.compile_file`.

    Example:
        >>> graph = compile_file("examples/quickstart.yaml")  # doctest: +SKIP
        >>> graph.run("What is 2 + 2?").answer  # doctest: +SKIP
    """

    def __init__(self, builder: Any, config: FusionConfig, context: NodeContext) -> None:
        #: The graph's name in traces (the config file's stem when compiled from a file).
        self.name = "graph"
        self.config = config
        self.context = context
        self._builder = builder
        self._memory_app: Any = None
        self._plain_app: Any = None
        self._stores: dict[str, CheckpointStore] = {}
        #: Called with a :class:`RunEnd` after every run but evaluation runs, in order.
        self.on_run_end: list[RunHook] = [log_routing_decisions]

    @property
    def hub(self) -> Any:
        """The graph's models."""
        return self.context.hub

    def _store(self, checkpoint: str | Path | CheckpointSpec | bool | None) -> CheckpointStore | None:
        """The durable store a run uses: the argument's, else the config's (None: in memory)."""
        if checkpoint is None or checkpoint is True:
            spec = self.config.checkpoint
        elif isinstance(checkpoint, CheckpointSpec):
            spec = checkpoint
        else:
            spec = CheckpointSpec.parse(checkpoint)  # type: ignore[arg-type]
        if spec is None:
            return None
        key = spec.model_dump_json()
        if key not in self._stores:  # one per spec: a Postgres store keeps its pool
            base = self.context.base_dir if spec is self.config.checkpoint else None
            self._stores[key] = open_store(spec, base)
        return self._stores[key]

    @contextlib.asynccontextmanager
    async def _app(
        self, checkpoint: str | Path | CheckpointSpec | bool | None, evaluation: bool, thread_id: str
    ) -> AsyncIterator[tuple[Any, dict[str, Any]]]:
        """The compiled app for one run and the options its invocation takes. Durable runs save
        each step before the next starts (``durability="sync"``), and their thread is trimmed
        to the store's retention when the run ends."""
        if evaluation and checkpoint not in (None, False):
            raise GraphError("an evaluation run keeps nothing between runs: drop the checkpoint")
        if evaluation or checkpoint is False:  # nothing kept between runs, no human pauses
            if self._plain_app is None:
                self._plain_app = self._builder.compile()
            yield self._plain_app, {}
            return
        store = self._store(checkpoint)
        if store is None:
            if self._memory_app is None:  # compiling costs milliseconds: once per graph
                from langgraph.checkpoint.memory import InMemorySaver

                self._memory_app = self._builder.compile(checkpointer=InMemorySaver())
            yield self._memory_app, {}
            return
        async with store.saver() as saver:
            yield self._builder.compile(checkpointer=saver), {"durability": "sync"}
            await store.retain(saver, thread_id)

    async def aclose(self) -> None:
        """Close the connection pools of the graph's durable checkpoint stores."""
        stores, self._stores = self._stores, {}
        for store in stores.values():
            await store.aclose()

    def close(self) -> None:
        """Blocking :meth:`aclose`."""
        run_sync(self.aclose())

    def _initial(
        self, task: str, metadata: dict[str, Any] | None, kept: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The first state. A sensitive task (flagged, or found by the privacy detectors), or a
        thread that ``kept`` a sensitive flag from an earlier run, is marked ``sensitive`` in
        the metadata every model call gets and in the thread's sticky ``privacy`` flag, and a
        ``privacy`` trace entry says why (the kinds found, never the data).

        Raises:
            GraphError: The task is not a non-empty string.
            ConfigError: ``metadata.sensitive`` is not a bool.
        """
        if not isinstance(task, str) or not task.strip():
            raise GraphError("the task must be a non-empty string")
        state: dict[str, Any] = {
            "task": task,
            "metadata": dict(metadata or {}),
            "messages": [{"role": "user", "content": task}],
            "started_at": time.time(),
        }
        started = time.perf_counter()
        sensitivity = self.hub.privacy.assess(task, metadata)
        if sensitivity is None and kept and kept.get("sensitive") is True:
            from fusionsdk.providers.privacy import Sensitivity

            sensitivity = Sensitivity("thread", tuple(kept.get("kinds") or ()))
        if sensitivity is not None:
            state["metadata"].update(sensitivity.as_metadata())
            state["privacy"] = {"sensitive": True, "kinds": list(sensitivity.kinds) or ["flag"]}
            why = ", ".join(sensitivity.kinds) or "flagged"
            reason = f"sensitive ({why}, from {sensitivity.source}): only local models may be called"
            state["decisions"] = [{"node": "START", "type": "privacy", "reason": reason}]
            state["trace"] = [
                {
                    "node": "START",
                    "kind": "privacy",
                    "latency_s": round(time.perf_counter() - started, 6),
                    "models": [],
                    "usage": {},
                    "cost_usd": 0.0,
                    "sensitive": True,
                    "source": sensitivity.source,
                    "kinds": list(sensitivity.kinds),
                    "decisions": list(state["decisions"]),
                }
            ]
        return state

    async def astream(
        self,
        task: str | None,
        *,
        thread_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        checkpoint: str | Path | CheckpointSpec | bool | None = None,
        resume: Any = None,
        evaluation: bool = False,
    ) -> AsyncIterator[GraphEvent]:
        """Run the graph, yielding node, token and answer events, then a ``result`` event.

        Args:
            task: The request (None when resuming, or to continue a stopped run of ``thread_id``).
            thread_id: Thread to run in (a new one when omitted).
            metadata: Run metadata (row ids, ``sensitive``, ...).
            checkpoint: Durable store: a SQLite file, a ``postgresql://`` URL or a
                :class:`~fusionsdk.config.checkpoint.CheckpointSpec`; when omitted, the config's
                ``checkpoint:`` section, else in memory; ``False`` keeps nothing (no pauses or
                resumes).
            resume: The reply to a paused ``human`` node (with ``thread_id``).
            evaluation: A measuring run (what ``fusionsdk eval`` makes): nothing is kept and
                no ``on_run_end`` hook is called, so routers that learn do not log it.
        """
        new_thread = not thread_id
        thread_id = thread_id or uuid.uuid4().hex
        config = {"configurable": {"thread_id": thread_id}, "recursion_limit": 100}
        span = telemetry.start_span(*self._span(thread_id))
        token = telemetry.attach(span)
        try:
            async for event in self._astream(
                config, thread_id, task, metadata, checkpoint, resume, evaluation, new_thread
            ):
                if event.result is not None:
                    self._finish_span(span, event.result)
                yield event
        except BaseException as exc:
            telemetry.fail(span, exc)
            raise
        finally:
            telemetry.detach(token)
            if span is not None:
                span.end()

    def _span(self, thread_id: str) -> tuple[str, Any]:
        """The run's OpenTelemetry span (GenAI ``invoke_agent``) and its attributes."""
        attributes = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": self.name,
            "gen_ai.conversation.id": thread_id,
            "fusionsdk.graph.nodes": len(self.config.nodes),
        }
        return telemetry.span_name("invoke_agent", self.name), lambda: attributes

    @staticmethod
    def _finish_span(span: Any, result: RunResult) -> None:
        telemetry.set_attributes(
            span,
            {
                "gen_ai.usage.input_tokens": result.usage.get("prompt_tokens"),
                "gen_ai.usage.output_tokens": result.usage.get("completion_tokens"),
                "fusionsdk.cost_usd": result.cost_usd,
                "fusionsdk.interrupted": result.interrupted is not None,
            },
        )

    async def _astream(
        self,
        config: dict[str, Any],
        thread_id: str,
        task: str | None,
        metadata: dict[str, Any] | None,
        checkpoint: str | Path | CheckpointSpec | bool | None,
        resume: Any,
        evaluation: bool,
        new_thread: bool = False,
    ) -> AsyncIterator[GraphEvent]:
        # With no checkpointer there is no state to read back: keep the last values instead.
        stateless = evaluation or checkpoint is False
        modes = ["updates", "custom", "values"] if stateless else ["updates", "custom"]
        values: dict[str, Any] = {}
        async with self._app(checkpoint, evaluation, thread_id) as (app, options), _typed_errors():
            graph_input = await self._input(app, config, task, metadata, resume, new_thread)
            async for mode, chunk in app.astream(graph_input, config, stream_mode=modes, **options):
                if mode == "values":
                    values = chunk
                elif mode == "custom":
                    yield GraphEvent(
                        chunk.get("type", "custom"), chunk.get("node"), chunk.get("text", ""), chunk
                    )
                else:
                    for node, update in chunk.items():
                        if node != "__interrupt__":
                            yield GraphEvent("node", node, data=update or {})
            if stateless:
                result = self._result_from_values(values, thread_id)
            else:
                snapshot = await app.aget_state(config)
                tasks = snapshot.tasks or ()
                interrupts = [item for task in tasks for item in getattr(task, "interrupts", ()) or ()]
                values = snapshot.values
                result = self._result_from_values({**values, "__interrupt__": interrupts}, thread_id)
        if not evaluation:
            await self._run_ended(result, values, resume)
        yield GraphEvent("result", result=result)

    def _result_from_values(self, values: dict[str, Any], thread_id: str) -> RunResult:
        interrupted = None
        for item in values.get("__interrupt__") or ():
            interrupted = dict(item.value) if isinstance(item.value, dict) else {"value": item.value}
        return RunResult(
            answer=values.get("answer", ""),
            trace=list(values.get("trace", [])),
            usage=dict(values.get("usage", {})),
            cost_usd=float(values.get("cost_usd", 0.0)),
            decisions=list(values.get("decisions", [])),
            candidates=list(values.get("candidates", [])),
            thread_id=thread_id,
            interrupted=interrupted,
            _registry=self.context.registry,
            sensitive=(values.get("privacy") or {}).get("sensitive") is True,
        )

    async def arun(
        self,
        task: str | None,
        *,
        thread_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        checkpoint: str | Path | CheckpointSpec | bool | None = None,
        resume: Any = None,
        evaluation: bool = False,
    ) -> RunResult:
        """Run to the end (or to a ``human`` pause) and return the :class:`RunResult`.

        Takes the same arguments as :meth:`astream`.
        """
        new_thread = not thread_id
        thread_id = thread_id or uuid.uuid4().hex
        config = {"configurable": {"thread_id": thread_id}, "recursion_limit": 100}
        with telemetry.span(*self._span(thread_id)) as span:
            async with self._app(checkpoint, evaluation, thread_id) as (app, options), _typed_errors():
                graph_input = await self._input(app, config, task, metadata, resume, new_thread)
                values = await app.ainvoke(graph_input, config, **options)
                result = self._result_from_values(values, thread_id)
                if not evaluation:
                    await self._run_ended(result, values, resume)
            self._finish_span(span, result)
            return result

    async def _run_ended(self, result: RunResult, values: Mapping[str, Any], resume: Any) -> None:
        """Call the ``on_run_end`` hooks, in order (awaiting those that return awaitables)."""
        end = RunEnd(self, result, values, resumed=resume is not None)
        for hook in list(self.on_run_end):
            outcome = hook(end)
            if inspect.isawaitable(outcome):
                await outcome

    def feedback(self, run_id: str, score: float) -> Any:
        """Score run ``run_id`` (its thread id) from 0 (wrong) to 1 (right); see
        :meth:`RunResult.feedback`."""
        return apply_feedback(run_id, score, registry=self.context.registry)

    async def _input(
        self,
        app: Any,
        config: dict[str, Any],
        task: str | None,
        metadata: dict[str, Any] | None,
        resume: Any,
        new_thread: bool = False,
    ) -> Any:
        """The graph input: a fresh state, the reply to a paused thread, or (no task and no
        reply) None, which continues a thread from its last checkpoint (after a crash). A thread
        given by the caller may have kept a sensitive flag from earlier runs: it is read back
        (a ``new_thread``, whose id this run just drew, has kept nothing)."""
        from langgraph.checkpoint.base import BaseCheckpointSaver

        if resume is None and task is not None:
            kept = None
            if not new_thread and isinstance(app.checkpointer, BaseCheckpointSaver):
                kept = (await app.aget_state(config)).values.get("privacy")  # the thread's flag
            return self._initial(task, metadata, kept)
        from langgraph.types import Command

        snapshot = await app.aget_state(config)
        thread = config["configurable"]["thread_id"]
        if resume is None:
            if not snapshot.next:
                raise GraphError(f"thread '{thread}' has no unfinished run to continue")
            return None
        if not snapshot.values:
            raise GraphError(
                f"thread '{thread}' has nothing waiting to be resumed: no run of it is kept in this "
                "checkpoint (check the thread id, and give the same checkpoint as the paused run)"
            )
        if not snapshot.next:
            raise GraphError(
                f"thread '{thread}' has nothing waiting to be resumed: its last run finished "
                "(start a new run on it with a task instead)"
            )
        return Command(resume=resume)

    async def aclear_sensitive(
        self, thread_id: str, *, checkpoint: str | Path | CheckpointSpec | bool | None = None
    ) -> bool:
        """Clear thread ``thread_id``'s sensitive flag: its later runs may reach hosted models
        and embedders again, with everything the thread keeps (answers, candidates, retrieved
        chunks, history). Only an explicit call clears it; returns whether it was set.

        Args:
            thread_id: The thread.
            checkpoint: Where the thread is kept (as given to :meth:`arun`).
        """
        if checkpoint is False:
            return False
        config = {"configurable": {"thread_id": thread_id}}
        async with self._app(checkpoint, False, thread_id) as (app, _options):
            snapshot = await app.aget_state(config)
            if not (snapshot.values.get("privacy") or {}).get("sensitive"):
                return False
            await app.aupdate_state(config, {"privacy": {"cleared": True}}, as_node=_last_writer(snapshot))
            return True

    def clear_sensitive(self, thread_id: str, **kwargs: Any) -> bool:
        """Blocking :meth:`aclear_sensitive`."""
        return run_sync(self.aclear_sensitive(thread_id, **kwargs))

    async def acontinue(self, thread_id: str, **kwargs: Any) -> RunResult:
        """Continue a run that stopped before its end (its process crashed or was killed) from
        the thread's last checkpoint: the steps already saved are not run again. Needs the
        durable store the run used (``checkpoint=`` or the config's ``checkpoint:`` section)."""
        return await self.arun(None, thread_id=thread_id, **kwargs)

    def continue_(self, thread_id: str, **kwargs: Any) -> RunResult:
        """Blocking :meth:`acontinue`."""
        return run_sync(self.acontinue(thread_id, **kwargs))

    async def aresume(self, thread_id: str, reply: Any, **kwargs: Any) -> RunResult:
        """Continue a run paused by a ``human`` node with the person's ``reply``."""
        return await self.arun(None, thread_id=thread_id, resume=reply, **kwargs)

    def run(self, task: str, **kwargs: Any) -> RunResult:
        """Blocking :meth:`arun` (works in notebooks)."""
        return run_sync(self.arun(task, **kwargs))

    def resume(self, thread_id: str, reply: Any, **kwargs: Any) -> RunResult:
        """Blocking :meth:`aresume`."""
        return run_sync(self.aresume(thread_id, reply, **kwargs))

    def stream(self, task: str, **kwargs: Any) -> Iterator[GraphEvent]:
        """Blocking :meth:`astream`."""
        return iterate_sync(self.astream(task, **kwargs))

    def as_runnable(self, output: str = "answer", *, checkpoint: Any = None) -> Any:
        """This graph as a LangChain ``Runnable`` (invoke/ainvoke/stream/astream/batch), for
        LCEL chains; see :class:`~fusionsdk.graph.runnable.GraphRunnable`.

        Args:
            output: ``answer`` (the answer string) or ``result`` (the run result as a dict).
            checkpoint: Passed to every run (``False`` keeps nothing between runs).
        """
        from fusionsdk.graph.runnable import GraphRunnable

        if output not in ("answer", "result"):
            raise GraphError(f"output must be 'answer' or 'result', not {output!r}")
        return GraphRunnable(self, output, checkpoint)  # type: ignore[arg-type]

    # -- visualisation -----------------------------------------------------------------------

    def mermaid(self) -> str:
        """The graph as a Mermaid flowchart."""
        return str(self._builder.compile().get_graph().draw_mermaid())

    def png(self) -> bytes:
        """The graph as a PNG, drawn locally with Graphviz (needs ``pygraphviz``)."""
        try:
            return bytes(self._builder.compile().get_graph().draw_png())
        except ImportError:
            raise GraphError("drawing a PNG needs pygraphviz: pip install pygraphviz") from None

    def svg(self) -> str:
        """The graph as a self-contained SVG, drawn by fusionsdk (no script, no network)."""
        from fusionsdk.graph.diagram import svg

        drawn = self._builder.compile().get_graph()
        names = list(drawn.nodes)
        order = sorted(names, key=lambda n: (n != "__start__", n == "__end__"))
        edges = [(e.source, e.target, bool(e.conditional)) for e in drawn.edges]
        return svg(order, edges)

    def _repr_markdown_(self) -> str:
        """Markdown-only front ends get the Mermaid source (rendered where Mermaid is available)."""
        return f"```mermaid\n{self.mermaid()}\n```"

    def _repr_html_(self) -> str:
        """Notebooks show the graph as an inline SVG diagram and a table of its nodes (no
        script, no CDN)."""
        from fusionsdk.graph.render import graph_html

        return graph_html(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self._repr_html_(), "text/plain": repr(self)}

    def __repr__(self) -> str:
        return f"Graph(name={self.name!r}, nodes={list(self.config.nodes)})"

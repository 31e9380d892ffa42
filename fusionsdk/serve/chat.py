"""Chat completions against a model or a graph, whole or streamed.

A model gets the messages as they are, with the request's sampling parameters (``response_format``,
``tools`` and ``tool_choice`` ride in ``extra`` to backends that take them). A graph gets the
conversation as its task: a lone user message as it is, a longer one as a transcript. ``n`` runs
the target ``n`` times concurrently. Graph runs keep no checkpoint (a server is stateless); their
streams carry the text of the nodes that end the graph, as they generate it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fusionsdk.config.graph import END
from fusionsdk.graph import Graph
from fusionsdk.providers.model import Completion, Model
from fusionsdk.providers.prompt import render_transcript
from fusionsdk.serve.schemas import ChatRequest

__all__ = ["ChatOutcome", "StreamPiece", "run_chat", "stream_chat"]


@dataclass
class ChatOutcome:
    """What a finished chat request produced.

    Attributes:
        choices: ``(text, finish_reason)`` per choice.
        prompt_tokens: Prompt tokens of every call made.
        completion_tokens: Completion tokens of every call made.
        cost_usd: USD spent; None when no call had a known price.
        calls: Each model call made (``model``, ``usage``, ``cost_usd``, ``latency_s``), graph
            runs' included, for per-model metrics.
    """

    choices: list[tuple[str, str | None]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def add_cost(self, cost: float | None) -> None:
        """Add one call's cost (an unknown price adds nothing)."""
        if cost is not None:
            self.cost_usd = (self.cost_usd or 0.0) + cost


@dataclass(frozen=True)
class StreamPiece:
    """A streamed event: text for choice ``index``, its end (``finish``), or the outcome."""

    index: int = 0
    text: str = ""
    finish: str | None = None
    outcome: ChatOutcome | None = None


def graph_task(messages: Sequence[dict[str, Any]]) -> str:
    """A graph's task from chat messages (a lone user message as it is)."""
    return render_transcript([m for m in messages if m["role"] != "system"] or list(messages))


def _add_completion(outcome: ChatOutcome, completion: Completion) -> None:
    outcome.calls.append(
        {
            "model": completion.model,
            "usage": completion.usage.as_dict(),
            "cost_usd": completion.cost_usd,
            "latency_s": completion.latency_s,
        }
    )
    outcome.choices.append((completion.text, completion.finish_reason))
    outcome.prompt_tokens += completion.usage.prompt_tokens
    outcome.completion_tokens += completion.usage.completion_tokens
    outcome.add_cost(completion.cost_usd)


def _add_run(
    outcome: ChatOutcome, answer: str, usage: dict[str, int], cost: float, calls: list[dict[str, Any]]
) -> None:
    outcome.calls.extend(calls)
    outcome.choices.append((answer, "stop"))
    outcome.prompt_tokens += int(usage.get("prompt_tokens", 0))
    outcome.completion_tokens += int(usage.get("completion_tokens", 0))
    outcome.add_cost(cost)


async def run_chat(
    target: Model | Graph,
    request: ChatRequest,
    messages: list[dict[str, Any]],
    metadata: dict[str, Any],
    trace_id: str,
) -> ChatOutcome:
    """Complete ``request`` on ``target`` (``n`` times, concurrently); graph runs get the thread
    id ``trace_id`` (``trace_id-<i>`` with ``n`` > 1)."""
    outcome = ChatOutcome()
    if isinstance(target, Model):
        params = request.params()
        completions = await asyncio.gather(
            *(target.acomplete(messages, metadata=dict(metadata), **params) for _ in range(request.n))
        )
        for completion in completions:
            _add_completion(outcome, completion)
        return outcome
    task = graph_task(messages)
    runs = await asyncio.gather(
        *(
            target.arun(
                task, metadata=dict(metadata), checkpoint=False, thread_id=_thread(trace_id, i, request.n)
            )
            for i in range(request.n)
        )
    )
    for run in runs:
        _add_run(outcome, run.answer, run.usage, run.cost_usd, run.candidates)
    return outcome


async def _stream_model(
    model: Model, index: int, messages: list[dict[str, Any]], metadata: dict[str, Any], params: dict[str, Any]
) -> AsyncIterator[StreamPiece]:
    async for chunk in model.astream(messages, metadata=dict(metadata), **params):
        if chunk.completion is not None:
            done = ChatOutcome()
            _add_completion(done, chunk.completion)
            yield StreamPiece(index, finish=chunk.completion.finish_reason or "stop", outcome=done)
        elif chunk.text:
            yield StreamPiece(index, chunk.text)


def _final_nodes(graph: Graph) -> set[str]:
    return {source for source, target in graph.config.edges if target == END}


def _thread(trace_id: str, index: int, n: int) -> str:
    return trace_id if n == 1 else f"{trace_id}-{index}"


async def _stream_graph(
    graph: Graph, index: int, task: str, metadata: dict[str, Any], thread_id: str
) -> AsyncIterator[StreamPiece]:
    finals = _final_nodes(graph)
    sent: list[str] = []
    async for event in graph.astream(task, metadata=dict(metadata), checkpoint=False, thread_id=thread_id):
        if event.type == "token" and event.node in finals and event.text:
            sent.append(event.text)
            yield StreamPiece(index, event.text)
        elif event.result is not None:
            run = event.result
            streamed = "".join(sent)
            if run.answer.startswith(streamed) and len(run.answer) > len(streamed):
                yield StreamPiece(index, run.answer[len(streamed) :])
            done = ChatOutcome()
            _add_run(done, run.answer, run.usage, run.cost_usd, run.candidates)
            yield StreamPiece(index, finish="stop", outcome=done)


async def stream_chat(
    target: Model | Graph,
    request: ChatRequest,
    messages: list[dict[str, Any]],
    metadata: dict[str, Any],
    trace_id: str,
) -> AsyncGenerator[StreamPiece, None]:
    """Stream ``request`` on ``target``: text pieces, each choice's end, then the total outcome.

    With ``n`` > 1 the choices stream concurrently, interleaved. Closing the iterator cancels
    every upstream call still running.
    """
    if isinstance(target, Model):
        params = request.params()
        streams = [_stream_model(target, i, messages, metadata, params) for i in range(request.n)]
    else:
        task = graph_task(messages)
        streams = [
            _stream_graph(target, i, task, metadata, _thread(trace_id, i, request.n))
            for i in range(request.n)
        ]
    total = ChatOutcome()
    async for piece in _merge(streams):
        if piece.outcome is not None:
            total.choices.extend(piece.outcome.choices)
            total.prompt_tokens += piece.outcome.prompt_tokens
            total.completion_tokens += piece.outcome.completion_tokens
            total.add_cost(piece.outcome.cost_usd)
            total.calls.extend(piece.outcome.calls)
            yield StreamPiece(piece.index, finish=piece.finish)
        else:
            yield piece
    yield StreamPiece(outcome=total)


async def _merge(streams: list[AsyncIterator[StreamPiece]]) -> AsyncIterator[StreamPiece]:
    """Interleave ``streams``; one stream is passed through without any task."""
    if len(streams) == 1:
        async for piece in streams[0]:
            yield piece
        return
    queue: asyncio.Queue[StreamPiece | BaseException | None] = asyncio.Queue()

    async def pump(stream: AsyncIterator[StreamPiece]) -> None:
        try:
            async for piece in stream:
                await queue.put(piece)
            await queue.put(None)
        except Exception as err:  # handed to the consumer, which raises it
            await queue.put(err)

    tasks = [asyncio.create_task(pump(s)) for s in streams]
    try:
        running = len(tasks)
        while running:
            item = await queue.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
